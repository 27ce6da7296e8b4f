"""Uploads: checked by content, re-encoded without metadata, faces found."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.drafts.media import MediaRejected, detect_faces, sanitize_image
from tests.unit.media_fixtures import FACE, GPS_TAG, jpeg_with_exif


def test_exif_with_gps_never_reaches_storage() -> None:
    raw = jpeg_with_exif()
    assert b"Jane Patient" in raw and b"CameraCo" in raw
    clean = sanitize_image(raw)
    assert clean.media_type == "image/jpeg"
    assert b"Jane Patient" not in clean.data and b"CameraCo" not in clean.data and b"Exif" not in clean.data
    reopened = Image.open(io.BytesIO(clean.data))
    assert not reopened.getexif() and GPS_TAG not in reopened.getexif()


def test_orientation_is_applied_before_the_metadata_goes() -> None:
    clean = sanitize_image(jpeg_with_exif(size=(40, 20), orientation=6))  # 6: rotate 90 degrees
    assert (clean.width, clean.height) == (20, 40)


def test_anything_appended_after_the_image_is_dropped() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG")
    clean = sanitize_image(out.getvalue() + b"<script>alert(1)</script>")
    assert b"script" not in clean.data and clean.media_type == "image/png"


@pytest.mark.parametrize(
    "raw",
    [
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200,  # an executable named photo.jpg
        b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",  # a real image type we do not accept
        b"",
    ],
)
def test_non_images_are_refused_by_content(raw: bytes) -> None:
    with pytest.raises(MediaRejected, match="not a JPEG, PNG or WebP"):
        sanitize_image(raw)


def test_size_and_pixel_limits() -> None:
    out = io.BytesIO()
    Image.new("L", (3000, 3000)).save(out, format="PNG")
    with pytest.raises(MediaRejected, match="pixels"):
        sanitize_image(out.getvalue(), max_pixels=1_000_000)
    with pytest.raises(MediaRejected) as info:
        sanitize_image(out.getvalue(), max_bytes=100)
    assert info.value.too_large


def test_an_image_over_24_megapixels_is_refused_before_it_is_decoded() -> None:
    out = io.BytesIO()
    Image.new("L", (5000, 5000)).save(out, format="PNG")  # 25 MP in a small file
    with pytest.raises(MediaRejected, match="limit is 24000000 pixels"):
        sanitize_image(out.getvalue())


def test_a_face_is_detected_and_a_blank_image_has_none() -> None:
    face = sanitize_image(FACE.read_bytes())
    assert len(detect_faces(face.data)) == 1
    out = io.BytesIO()
    Image.new("RGB", (160, 160), (240, 240, 240)).save(out, format="PNG")
    assert detect_faces(sanitize_image(out.getvalue()).data) == []

"""Images the media tests share: a face the detector finds, a JPEG carrying EXIF."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

FACE = Path(__file__).parents[1] / "fixtures" / "images" / "astronaut-face.jpg"


GPS_TAG, MAKE_TAG, ARTIST_TAG, ORIENTATION_TAG = 0x8825, 0x010F, 0x013B, 0x0112


def jpeg_with_exif(size: tuple[int, int] = (40, 20), orientation: int = 1) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[MAKE_TAG] = "CameraCo SN-123456"
    exif[ARTIST_TAG] = "Jane Patient"
    exif[ORIENTATION_TAG] = orientation
    exif.get_ifd(GPS_TAG).update({1: "N", 2: (40.0, 44.0, 54.36), 3: "W", 4: (73.0, 59.0, 8.5)})
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()

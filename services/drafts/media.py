"""Image uploads made safe: type by content, size and pixel limits, re-encoded without metadata,
and faces found so a photo of a person counts as patient content until someone says otherwise."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_BYTES = 10 * 1024 * 1024
# 24 MP takes a 6000x4000 camera frame; decoding and re-encoding holds a few copies of the pixels
# (up to 4 bytes each), so one upload needs some 400 MB at most instead of 640 MB at 40 MP.
MAX_PIXELS = 24_000_000
# Images decoded, re-encoded and searched for faces at once, each off the event loop: more uploads
# wait their turn instead of holding more memory or starving the rest of the service of CPU.
IMAGE_WORKERS = 2

_T = TypeVar("_T")
_image_workers = ThreadPoolExecutor(max_workers=IMAGE_WORKERS, thread_name_prefix="clearpost-image")


async def off_loop(function: Callable[..., _T], /, *args: object, **kwargs: object) -> _T:
    """Run CPU-heavy image work (Pillow, OpenCV; both release the GIL) in the bounded image pool,
    so one large upload never stalls the other requests the service is answering."""
    return await asyncio.get_running_loop().run_in_executor(
        _image_workers, partial(function, *args, **kwargs)
    )


class MediaRejected(ValueError):
    """The upload is not an acceptable image; the message says why (safe to show)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class SanitizedImage:
    data: bytes
    media_type: str
    digest: str
    width: int
    height: int


def sanitize_image(raw: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> SanitizedImage:
    """Decode, apply EXIF orientation, and re-encode from pixels alone: no EXIF (GPS, device
    serials, author names), no ICC or XMP text, nothing appended after the image data."""
    if len(raw) > max_bytes:
        raise MediaRejected(f"the file is {len(raw)} bytes; the limit is {max_bytes}", too_large=True)
    try:
        with Image.open(io.BytesIO(raw), formats=list(FORMATS)) as image:
            kind = image.format or ""
            width, height = image.size
            if width * height > max_pixels:
                raise MediaRejected(f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels")
            upright = ImageOps.exif_transpose(image)
            upright.load()
    except UnidentifiedImageError as exc:
        raise MediaRejected(
            "the file is not a JPEG, PNG or WebP image (checked by content, not by name)"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise MediaRejected("the image declares too many pixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaRejected(f"the image could not be decoded: {exc}") from exc
    mode = "RGB" if kind == "JPEG" else ("RGBA" if "A" in upright.getbands() else "RGB")
    pixels = upright.convert(mode)
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())  # pixels only, no info dict
    out = io.BytesIO()
    if kind == "JPEG":
        clean.save(out, format="JPEG", quality=90, optimize=True)
    elif kind == "PNG":
        clean.save(out, format="PNG", optimize=True)
    else:
        clean.save(out, format="WEBP", quality=90)
    data = out.getvalue()
    return SanitizedImage(
        data=data,
        media_type=FORMATS[kind],
        digest=hashlib.sha256(data).hexdigest(),
        width=clean.width,
        height=clean.height,
    )


@cache
def _face_cascade() -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")  # type: ignore[attr-defined]
    if cascade.empty():  # pragma: no cover - the cascade ships inside opencv-python-headless
        raise RuntimeError("OpenCV's frontal face cascade is missing")
    return cascade


def detect_faces(data: bytes) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) of frontal faces in an image (a sanitized one: decoded already once)."""
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        return []
    found = _face_cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]

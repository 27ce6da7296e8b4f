"""Upload refusals the kit's error set does not have (same `{"error", "detail"}` body)."""

from __future__ import annotations

from services.kit.errors import ClearpostError


class PayloadTooLarge(ClearpostError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(ClearpostError):
    status_code = 415
    code = "unsupported_media_type"

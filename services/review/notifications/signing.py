"""Webhook signatures: HMAC-SHA256 over `<timestamp>.<body>` with the endpoint's secret, as Stripe
and GitHub sign theirs. Headers: `X-Clearpost-Timestamp` (Unix seconds), `X-Clearpost-Signature`
(`sha256=<hex>`), `X-Clearpost-Event` (the kind) and `Idempotency-Key` (the event id)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TIMESTAMP_HEADER = "X-Clearpost-Timestamp"
SIGNATURE_HEADER = "X-Clearpost-Signature"
EVENT_HEADER = "X-Clearpost-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# A receiver should refuse a delivery whose timestamp is further than this from its clock (replays).
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, timestamp: int, body: bytes, *, kind: str, event_id: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        EVENT_HEADER: kind,
        IDEMPOTENCY_HEADER: event_id,
    }


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: int) -> bool:
    """The receiver's check (the recipe in docs/review-policy.md): the signature matches and the
    timestamp is recent. `headers` with lower-case names."""
    try:
        timestamp = int(headers.get(TIMESTAMP_HEADER.lower(), ""))
    except ValueError:
        return False
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(headers.get(SIGNATURE_HEADER.lower(), ""), signature(secret, timestamp, body))

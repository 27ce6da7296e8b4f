"""Canonical JSON (RFC 8785) and the digests built on it."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    return bytes(rfc8785.dumps(value))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_sha256(value: Any) -> str:
    return sha256_hex(canonical_json(value))


def normalize_text(text: str) -> str:
    """Unicode NFC with every line ending as `\\n`: what the content hash is computed over."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def version_hash(version: Mapping[str, Any]) -> str:
    """`content_hash` recomputed from a version as the drafts service answers it (title, body,
    channels, media_digests): what a service checks before it trusts a stored hash."""
    return content_hash(
        title=version["title"],
        body=version["body"],
        channels=version["channels"],
        media_digests=version["media_digests"],
    )


def content_hash(*, title: str, body: str, channels: list[str], media_digests: list[str]) -> str:
    """The hash every decision is bound to. Any service can recompute it from a draft version."""
    return canonical_sha256(
        {
            "title": normalize_text(title),
            "body": normalize_text(body),
            "channels": list(channels),
            "media": list(media_digests),
        }
    )

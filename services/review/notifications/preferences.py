"""What each user receives: per event kind, the channels (e-mail, inbox); and digest mode, which
holds a user's e-mails for one message per hour or per day. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

CHANNELS: tuple[str, ...] = ("email", "inbox")
Digest = Literal["off", "hourly", "daily"]
DIGESTS: tuple[str, ...] = ("off", "hourly", "daily")


def channels_for(preferences: Mapping[str, Sequence[str]], kind: str) -> set[str]:
    """The channels a user gets `kind` on: what they chose, both when they chose nothing for it."""
    chosen = preferences.get(kind)
    return set(CHANNELS) if chosen is None else {c for c in chosen if c in CHANNELS}


def digest_due(mode: str, at: datetime) -> datetime | None:
    """When the digest gathering an e-mail made at `at` goes out: the end of its hour or its UTC day
    (None: no digest, send at once)."""
    if mode == "hourly":
        return at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if mode == "daily":
        return at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return None

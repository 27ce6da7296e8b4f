"""Who read what of a draft: its text may be a patient's story, so every reader is on record.

One event per reader, draft and thing read in each window (an hour by default): a screen that
polls a draft's status every second records its reader once an hour, not 3,600 times, and the
trail still says who read which version and when they first did in each hour. The window is the
idempotency key's, so the audit service keeps one event per window whichever process asks; this
process also remembers the keys it recorded, so a poll costs no call at all.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import datetime, timedelta

READ_WINDOW = timedelta(hours=1)
REMEMBERED_READS = 10_000


class RecentReads:
    """The read events this process recorded lately (bounded, oldest forgotten first)."""

    def __init__(self, *, window: timedelta = READ_WINDOW, remember: int = REMEMBERED_READS) -> None:
        self._window = window.total_seconds()
        self._remember = remember
        self._keys: OrderedDict[str, None] = OrderedDict()

    def key(self, reader_id: str, draft_id: str, what: str, at: datetime) -> str:
        bucket = int(at.timestamp() // self._window)
        return hashlib.sha256(f"{bucket}\n{reader_id}\n{draft_id}\n{what}".encode()).hexdigest()

    def seen(self, key: str) -> bool:
        return key in self._keys

    def remember(self, key: str) -> None:
        self._keys[key] = None
        while len(self._keys) > self._remember:
            self._keys.popitem(last=False)

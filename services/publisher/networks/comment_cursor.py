"""A comment cursor for networks that list a post's comments in no promised order.

Instagram's comments edge, LinkedIn's socialActions comments and a Bluesky thread give every
comment a time but do not promise to list them oldest first (nor to keep an offset stable as
comments arrive or go), so an `after` cursor or an offset could skip. These readers list every
comment of the post on each read and keep a *high-water mark*: the newest time delivered, and the
ids delivered within `LOOKBACK` of it. A comment is new when it is not among those ids and is no
older than the mark less `LOOKBACK`; the new ones go out oldest first, `limit` at a time, and the
mark moves to the last one given. A comment that appears late (held for review, indexed late) is
still read if its time is within `LOOKBACK` of the mark; the cursor stays small because ids older
than that are dropped from it. Each call lists the whole post, so many (`HANDED_OVER`) go
out at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.publisher.networks.base import CommentPage, Reply

LOOKBACK = timedelta(minutes=15)
# Comments handed over per call: every call lists the whole post, so a burst goes out in few calls.
HANDED_OVER = 200


@dataclass(frozen=True)
class Listed:
    """One comment as the network listed it, with the time the cursor orders it by."""

    at: datetime
    reply: Reply


def _micros(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1_000_000)


def _parse(cursor: str | None) -> tuple[int | None, dict[str, int]]:
    """(mark in Unix microseconds, ids delivered near it); nothing for no cursor or a foreign one."""
    if not cursor:
        return None, {}
    try:
        document = json.loads(cursor)
    except ValueError:
        return None, {}
    if not isinstance(document, dict):
        return None, {}
    mark = document.get("at")
    seen = document.get("seen")
    ids = (
        {str(key): int(value) for key, value in seen.items() if isinstance(value, int)}
        if isinstance(seen, dict)
        else {}
    )
    return (mark if isinstance(mark, int) else None), ids


def page_after(
    listed: Iterable[Listed], cursor: str | None, *, limit: int, lookback: timedelta = LOOKBACK
) -> CommentPage:
    """The comments of `listed` not yet delivered by `cursor`, oldest first, at most `limit`."""
    mark, seen = _parse(cursor)
    window = int(lookback.total_seconds() * 1_000_000)
    floor = None if mark is None else mark - window
    fresh: dict[str, tuple[int, Reply]] = {}
    for item in listed:
        key = item.reply.external_id
        at = _micros(item.at)
        if key in seen or key in fresh or (floor is not None and at < floor):
            continue
        fresh[key] = (at, item.reply)
    ordered = sorted(fresh.items(), key=lambda entry: (entry[1][0], entry[0]))
    chosen = ordered[:limit]
    if not chosen:
        return CommentPage(replies=[], cursor=cursor, more=False)
    seen.update({key: at for key, (at, _reply) in chosen})
    new_mark = max(seen.values()) if mark is None else max(mark, *seen.values())
    kept = {key: at for key, at in seen.items() if at >= new_mark - window}
    return CommentPage(
        replies=[reply for _key, (_at, reply) in chosen],
        cursor=json.dumps({"at": new_mark, "seen": kept}, sort_keys=True, separators=(",", ":")),
        more=len(ordered) > limit,
    )

"""Bluesky's text rules: record keys (TIDs) derived from a publication, rich-text facets, the count.

- **Record key**: `app.bsky.feed.post` records are keyed by TIDs (https://atproto.com/specs/tid):
  13 characters of base32-sortable (`234567abcdefghijklmnopqrstuvwxyz`) over 64 bits: a zero top
  bit, 53 bits of microseconds since the Unix epoch, 10 bits of clock id. `tid_for(key)` takes the
  first 8 bytes of SHA-256(key): the low 10 bits are the clock id, the rest picks a microsecond
  in a fixed window starting 2023-01-01 (2^45 µs, about 407 days). So the same publication always
  gets the same valid TID, two publications collide with odds about 2^-55, and the timestamp is
  always in the past (never a "future" TID that a strict service might refuse).
- **Facets** (https://docs.bsky.app/docs/advanced-guides/post-richtext): links, hashtags and
  mentions, with byte offsets into the UTF-8 text; mentions carry the DID the handle resolves to.
- **Length**: 300 graphemes (the lexicon's `maxGraphemes`), counted with `grapheme`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import grapheme  # type: ignore[import-untyped]

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_WINDOW_START_US = 1_672_531_200 * 1_000_000  # 2023-01-01T00:00:00Z
TID_WINDOW_US = 2**45
TID_PATTERN = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")

MAX_GRAPHEMES = 300

_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]}]", re.IGNORECASE)
# `#` or the full-width number sign U+FF03, as Bluesky's own rich-text detection accepts both.
_TAG = re.compile(r"(?<!\S)[#\uff03]([^\s#\uff03.,;:!?()\[\]{}\"'`]{1,64})")
_MENTION = re.compile(r"(?<![\w@/.])@([a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)+)")


def tid_for(key: str) -> str:
    """The record key this idempotency key always posts under (see the module docstring)."""
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    clock_id = number & 0x3FF
    micros = TID_WINDOW_START_US + (number >> 10) % TID_WINDOW_US
    value = (micros << 10) | clock_id
    return "".join(TID_ALPHABET[(value >> (5 * (12 - index))) & 31] for index in range(13))


def tid_micros(tid: str) -> int:
    """The microsecond timestamp a TID encodes."""
    value = 0
    for char in tid:
        value = (value << 5) | TID_ALPHABET.index(char)
    return value >> 10


def bluesky_length(text: str) -> int:
    return int(grapheme.length(text))


@dataclass(frozen=True)
class FacetSpan:
    """One rich-text feature found in the text: `kind` is link, tag or mention; `value` the URI, the
    tag without `#`, or the handle; start/end are UTF-8 byte offsets (end exclusive)."""

    kind: str
    value: str
    byte_start: int
    byte_end: int


def _bytes_at(text: str, index: int) -> int:
    return len(text[:index].encode())


def facet_spans(text: str) -> list[FacetSpan]:
    """Links, then hashtags and mentions outside links, in text order."""
    spans: list[tuple[int, int, str, str]] = [
        (m.start(), m.end(), "link", m.group(0)) for m in _URL.finditer(text)
    ]
    taken = [(start, end) for start, end, _, _ in spans]

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for match in _TAG.finditer(text):
        tag = match.group(1)
        if not tag.isdigit() and free(match.start(), match.end()):
            spans.append((match.start(), match.end(), "tag", tag))
    for match in _MENTION.finditer(text):
        if free(match.start(), match.end()):
            spans.append((match.start(), match.end(), "mention", match.group(1).lower()))
    spans.sort()
    return [
        FacetSpan(kind, value, _bytes_at(text, start), _bytes_at(text, end))
        for start, end, kind, value in spans
    ]


def facet_json(span: FacetSpan, *, did: str | None = None) -> dict[str, object]:
    """The `app.bsky.richtext.facet` for a span (a mention needs the DID its handle resolves to)."""
    if span.kind == "link":
        feature: dict[str, object] = {"$type": "app.bsky.richtext.facet#link", "uri": span.value}
    elif span.kind == "tag":
        feature = {"$type": "app.bsky.richtext.facet#tag", "tag": span.value}
    else:
        feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
    return {"index": {"byteStart": span.byte_start, "byteEnd": span.byte_end}, "features": [feature]}

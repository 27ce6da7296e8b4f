"""Turning drafts, screenings and versions into what the pages show (pure functions, no I/O)."""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.review.policy import LoadedPolicy

DECISION_LABELS = {"approve": "Approved", "reject": "Rejected", "request_changes": "Changes requested"}
SIGNATURE_MEANINGS = {
    "approve": "I have reviewed this exact version and approve it for publication for my stage.",
    "reject": "I have reviewed this exact version and reject it: it must not be published.",
    "request_changes": "I have reviewed this exact version and ask the author to change it before approval.",
}
STATUS_LABELS = {
    "draft": "Draft",
    "screening": "Screening",
    "in_review": "In review",
    "changes_requested": "Changes requested",
    "rejected": "Rejected",
    "approved": "Approved",
    "scheduled": "Scheduled",
    "held": "Held (publishing is paused)",
    "published": "Published",
    "taken_down": "Taken down",
    "takedown_failed": "Takedown failed",
    "publish_failed": "Publish failed",
    "withdrawn": "Withdrawn",
    "template_approved": "Approved as a crisis template",
    "from_template": "Filled from a crisis template",
    "publishing": "Being published",
    "pending": "Pending",
    "closed": "Closed",
    "open": "Open",
    # publications and live posts
    "removed": "Removed",
    "live": "Live",
    "taking_down": "Being taken down",
    "takedown_required": "Takedown required",
    # channel accounts
    "ok": "OK",
    "expired": "Expired",
    "revoked": "Revoked",
    "missing_scopes": "Missing permissions",
    "unreachable": "Unreachable",
    "disconnected": "Disconnected",
}
# What a draft is for (the drafts service's `purpose`, fixed when it is created: docs/crisis-lane.md).
PURPOSE_LABELS = {
    "post": "A post",
    "crisis_template": "A crisis template: reviewed once, never published itself",
    "crisis_from_template": "A post filled from a crisis template",
}
# Status is told by a word and a symbol, never by colour alone.
STATUS_SYMBOLS = {
    "approved": "✓",
    "template_approved": "✓",
    "published": "✓",
    "publishing": "…",
    "rejected": "✗",
    "publish_failed": "✗",
    "takedown_failed": "✗",
    "held": "‖",
    "changes_requested": "↺",
    "withdrawn": "-",
    "closed": "-",
    "removed": "⊘",
    "taken_down": "⊘",
    "taking_down": "…",
    "takedown_required": "!",
    "live": "✓",
    "ok": "✓",
    "expired": "⌛",
    "revoked": "✗",
    "missing_scopes": "!",
    "unreachable": "?",
    "disconnected": "-",
}


NAME_USE_LABELS = {"none": "no name", "first_name": "first name only", "full_name": "full name"}
# What revoking a consent did to each draft relying on it (the drafts service's `action`).
REVOCATION_ACTIONS = {
    "withdrawn": "Withdrawn (it had never been submitted)",
    "sent_back_to_review": "Sent back to review; unscheduled if it was scheduled",
    "takedown_required": "Published: takedown required (a task for the publisher role)",
    "none": "Nothing to do in its status",
    "signal_failed": "The workflow could not be told; the check before publishing still stops it",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def purpose_label(purpose: str) -> str:
    return PURPOSE_LABELS.get(purpose, purpose.replace("_", " ").capitalize())


def status_symbol(status: str) -> str:
    return STATUS_SYMBOLS.get(status, "•")


def age(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return "under a minute"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} days"


def time_left(due_at: datetime | None, now: datetime) -> str:
    """How long until a task's SLA passes ("3 h 10 min left"), or by how much it has ("overdue by
    2 h 0 min"); empty without an SLA."""
    if due_at is None:
        return ""
    if due_at <= now:
        return f"overdue by {age(due_at, now)}"
    return f"{age(now, due_at)} left"


@dataclass
class FindingMark:
    """A finding as the draft page marks it in the text (numbered, located), not the screening's own."""

    number: int
    category: str
    severity: str
    text: str
    rule: str
    explanation: str
    located: bool = False
    media_digest: str | None = None  # an image finding: it names an image, not a span of the text


@dataclass
class Segment:
    text: str
    findings: list[FindingMark] = field(default_factory=list)


@dataclass
class HighlightedText:
    title: list[Segment]
    body: list[Segment]
    findings: list[FindingMark]


def _segments(text: str, spans: list[tuple[int, int, FindingMark]]) -> list[Segment]:
    cuts = {0, len(text)}
    for start, end, _ in spans:
        cuts.update((start, end))
    points = sorted(c for c in cuts if 0 <= c <= len(text))
    segments: list[Segment] = []
    for start, end in itertools.pairwise(points):
        covering = [f for s, e, f in spans if s <= start and end <= e]
        segments.append(Segment(text[start:end], covering))
    return segments


def highlight(title: str, body: str, raw_findings: list[dict[str, Any]]) -> HighlightedText:
    """Mark each finding in the title and body it was found in.

    The screener reports offsets into "title\\nbody". A finding whose offsets do not point at its
    own text (say, a screener that counts differently) is found by its text instead, and one that
    cannot be found at all is still listed, just not marked.
    """
    screened = f"{title}\n{body}"
    findings: list[FindingMark] = []
    title_spans: list[tuple[int, int, FindingMark]] = []
    body_spans: list[tuple[int, int, FindingMark]] = []
    for number, raw in enumerate(raw_findings, start=1):
        finding = FindingMark(
            number=number,
            category=str(raw.get("category", "finding")),
            severity=str(raw.get("severity", "")),
            text=str(raw.get("text", "")),
            rule=str(raw.get("rule", "")),
            explanation=str(raw.get("explanation", "")),
            media_digest=str(raw["media_digest"]) if raw.get("media_digest") else None,
        )
        findings.append(finding)
        if finding.media_digest:
            continue
        start, end = raw.get("start"), raw.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and screened[start:end] == finding.text):
            start = screened.find(finding.text) if finding.text else -1
            end = start + len(finding.text)
        if start < 0 or end <= start:
            continue
        finding.located = True
        boundary = len(title) + 1
        if start < len(title):
            title_spans.append((start, min(end, len(title)), finding))
        if end > boundary:
            body_spans.append((max(start, boundary) - boundary, end - boundary, finding))
    return HighlightedText(_segments(title, title_spans), _segments(body, body_spans), findings)


@dataclass
class ChannelPreview:
    """One network's rendition side by side with the others: the exact text (never cut), its length
    as that network counts it, what its feed shows before "more", and what keeps it from fitting."""

    name: str
    network: str
    limit: int | None
    length: int
    unit: str
    shown: str
    folded: str
    fold: int | None
    problems: list[str]

    @property
    def fits(self) -> bool:
        return not self.problems


def channel_previews(
    body: str, channels: list[str], renditions: list[dict[str, Any]]
) -> list[ChannelPreview]:
    """Each channel's rendition from the publisher (`POST /api/v1/renditions`); a channel the
    publisher did not answer for is shown whole, with its length in characters."""
    by_name = {r["channel"]: r for r in renditions}
    previews = []
    for name in channels:
        found = by_name.get(name)
        if found is None:
            previews.append(ChannelPreview(name, "", None, len(body), "characters", body, "", None, []))
            continue
        fold = found.get("fold")
        shown, folded = (body[:fold], body[fold:]) if fold is not None and len(body) > fold else (body, "")
        previews.append(
            ChannelPreview(
                name=name,
                network=str(found.get("network", "")),
                limit=int(found["max_length"]),
                length=int(found["length"]),
                unit=str(found.get("unit", "characters")),
                shown=shown,
                folded=folded,
                fold=fold,
                problems=list(found.get("problems", [])),
            )
        )
    return previews


@dataclass
class DiffPart:
    kind: str  # same | added | removed
    text: str


def word_diff(before: str, after: str) -> list[DiffPart]:
    """A word-level diff (whitespace kept as its own tokens so the text reads as written)."""
    old, new = re.split(r"(\s+)", before), re.split(r"(\s+)", after)
    parts: list[DiffPart] = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(DiffPart("same", "".join(old[a1:a2])))
            continue
        if op in ("delete", "replace"):
            parts.append(DiffPart("removed", "".join(old[a1:a2])))
        if op in ("insert", "replace"):
            parts.append(DiffPart("added", "".join(new[b1:b2])))
    return [p for p in parts if p.text]


def referenced_products(policy: LoadedPolicy, names: list[str]) -> list[dict[str, Any]]:
    """Catalog records of the products the screening matched (by any of their names)."""
    wanted = {n.lower() for n in names}
    return [
        product.model_dump()
        for product in policy.policy.catalog
        if wanted & {n.lower() for n in product.names}
    ]

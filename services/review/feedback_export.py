"""Reviewers' marks as labeled examples, in the corpus schema of shared/corpus/screening-dev.jsonl
(`id`, `kind`, `text`, `context`, `expect` {`flag`, `categories`}, `why`): what `clearpost screen
feedback export` writes and `make eval-screening FEEDBACK=1` scores.

One example per marked version: its screened text; the categories its screening found in the text,
minus each category whose every finding a reviewer marked wrong, plus each category marked missed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from services.kit.db import create_engine, create_sessionmaker, session_scope
from services.review.feedback import allow_list_of
from services.review.models import Screening, ScreeningMark
from services.review.policy import AllowList
from services.review.repository import ReviewRepository


@dataclass(frozen=True)
class Feedback:
    """What the review database holds of reviewers' teaching: the examples and approved entries."""

    examples: list[dict[str, Any]]
    allow_list: AllowList


def _text_categories(screening: Screening | None) -> dict[str, set[int]]:
    """category -> indexes of the screening's findings in the text (image findings have no text)."""
    found: dict[str, set[int]] = {}
    for index, finding in enumerate(screening.findings if screening else []):
        if not finding.get("media_digest"):
            found.setdefault(str(finding["category"]), set()).add(index)
    return found


def labeled_examples(
    marks: Sequence[ScreeningMark], screenings: dict[str, Screening]
) -> list[dict[str, Any]]:
    versions: dict[tuple[str, int, str], list[ScreeningMark]] = {}
    for mark in marks:
        versions.setdefault((mark.draft_id, mark.version, mark.content_hash), []).append(mark)
    examples = []
    for (draft_id, version, digest), marked in versions.items():
        # The latest screening any mark names (a version is screened once, but be exact if twice).
        screening = max(
            (screenings[m.screening_id] for m in marked if m.screening_id in screenings),
            key=lambda s: s.created_at,
            default=None,
        )
        found = _text_categories(screening)
        screened = screening.id if screening else None
        wrong = {m.finding_index for m in marked if m.mark == "wrong" and m.screening_id == screened}
        categories = {c for c, indexes in found.items() if indexes - wrong}
        categories |= {m.category for m in marked if m.mark == "missed"}
        why = [
            f"marked wrong: {m.category} ({m.finding_rule}): {m.reason}"
            if m.mark == "wrong"
            else f"missed: {m.category}" + (f": {m.reason}" if m.reason else "")
            for m in marked
        ]
        examples.append(
            {
                "id": f"feedback-{draft_id}-v{version}",
                "kind": "post",
                "text": marked[-1].screened_text,
                "context": {
                    "consent_on_file": marked[-1].consent_on_file,
                    "draft_id": draft_id,
                    "version": version,
                    "content_hash": digest,
                },
                "expect": {"flag": bool(categories), "categories": sorted(categories)},
                "why": "; ".join(why),
            }
        )
    return examples


def write_examples(examples: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for example in examples:
        out.write(json.dumps(example, ensure_ascii=False) + "\n")
        count += 1
    return count


async def read_feedback(database_url: str, schema: str | None = None) -> Feedback:
    """The examples and the approved allow-list entries in the review database at `database_url`."""
    engine = create_engine(database_url, schema=schema)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            repo = ReviewRepository(session)
            marks = await repo.all_marks()
            screenings = await repo.screenings(sorted({m.screening_id for m in marks}))
            allowed = allow_list_of(await repo.approved_allow_list())
            return Feedback(labeled_examples(marks, screenings), allowed)
    finally:
        await engine.dispose()

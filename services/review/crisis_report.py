"""The crisis report: every crisis post with its after-review outcome, as JSON rows or CSV."""

from __future__ import annotations

import csv
import io

from services.review.crisis_schemas import CrisisPostOut

COLUMNS = (
    "crisis_id",
    "draft_id",
    "version",
    "content_hash",
    "started_at",
    "starter",
    "reason",
    "approvers",
    "status",
    "published_at",
    "after_review_due_at",
    "outcome",
    "outcome_reason",
    "closed_at",
)
# A cell a spreadsheet would run as a formula is written with a leading ' (as the audit export does).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def report_row(post: CrisisPostOut) -> dict[str, str]:
    values: dict[str, object] = {
        "crisis_id": post.id,
        "draft_id": post.draft_id,
        "version": post.version,
        "content_hash": post.content_hash,
        "started_at": post.started_at,
        "starter": post.starter_name,
        "reason": post.reason,
        "approvers": "; ".join(a.signer_name for a in post.approvals),
        "status": post.status,
        "published_at": post.published_at,
        "after_review_due_at": post.after_review_due_at,
        "outcome": post.outcome,
        "outcome_reason": post.outcome_reason,
        "closed_at": post.closed_at,
    }
    return {name: _cell(values[name]) for name in COLUMNS}


def report_csv(posts: list[CrisisPostOut]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for post in posts:
        writer.writerow(report_row(post))
    return out.getvalue()

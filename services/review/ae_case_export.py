"""An adverse-event case as the safety database takes it: structured JSON per case, a CIOMS-like
PDF (the CIOMS I form's sections: reaction information, suspect drug, concomitant history,
manufacturer information; filled from what the comment showed, "not reported" where it did
not), and a list export (CSV or JSON) of many cases."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from services.review.ae_case_models import AeCase, AeCaseEvent, CommentScreening
from services.review.ae_elements import ELEMENTS

NOT_REPORTED = "not reported"
LIST_COLUMNS = (
    "case_id",
    "status",
    "day0",
    "handoff_due",
    "regulatory_due",
    "network",
    "reporter",
    "patient",
    "product",
    "event",
    "missing",
    "handed_off_at",
    "handoff_reference",
    "closed_at",
    "close_reason",
    "comment_url",
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def case_document(
    case: AeCase, events: Sequence[AeCaseEvent], screening: CommentScreening | None
) -> dict[str, Any]:
    """The case as structured JSON: the minimum elements, the clocks, and every step."""
    return {
        "case_id": case.id,
        "status": case.status,
        "assigned_role": case.assigned_role,
        "source": {
            "kind": "social_media_comment",
            "network": case.network,
            "account": case.account,
            "comment_id": case.comment_id,
            "comment_url": case.comment_url,
            "draft_id": case.draft_id,
        },
        "day0": case.day0.isoformat(),
        "clocks": {
            "handoff_due": case.handoff_due.isoformat(),
            "regulatory_due": case.regulatory_due.isoformat(),
            "timers": case.clocks,
        },
        "minimum_elements": {name: case.elements.get(name) for name in ELEMENTS},
        "missing": list(case.missing),
        "products": list(case.products),
        "events": list(case.events),
        "screening": {
            "id": case.screening_id,
            "policy_version": screening.policy_version if screening else None,
            "categories": list(screening.categories) if screening else [],
            "findings": [
                {k: f.get(k) for k in ("category", "rule", "text", "explanation")} for f in screening.findings
            ]
            if screening
            else [],
        },
        "handed_off": {
            "at": _iso(case.handed_off_at),
            "by": case.handed_off_by,
            "reference": case.handoff_reference,
        },
        "closed": {"at": _iso(case.closed_at), "by": case.closed_by, "reason": case.close_reason},
        "steps": [
            {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "details": e.details} for e in events
        ],
    }


def _row(case: AeCase) -> dict[str, str]:
    return {
        "case_id": case.id,
        "status": case.status,
        "day0": case.day0.isoformat(),
        "handoff_due": case.handoff_due.isoformat(),
        "regulatory_due": case.regulatory_due.isoformat(),
        "network": case.network,
        "reporter": case.elements.get("reporter") or "",
        "patient": case.elements.get("patient") or "",
        "product": case.elements.get("product") or "",
        "event": case.elements.get("event") or "",
        "missing": ";".join(case.missing),
        "handed_off_at": _iso(case.handed_off_at) or "",
        "handoff_reference": case.handoff_reference,
        "closed_at": _iso(case.closed_at) or "",
        "close_reason": case.close_reason,
        "comment_url": case.comment_url or "",
    }


def cases_csv(cases: Sequence[AeCase]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LIST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for case in cases:
        # A cell starting with =, +, - or @ is a formula to a spreadsheet: quote it as text.
        writer.writerow({k: ("'" + v if v[:1] in "=+-@" else v) for k, v in _row(case).items()})
    return out.getvalue()


def cases_json(cases: Sequence[AeCase]) -> list[dict[str, str]]:
    return [_row(case) for case in cases]


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


class _CiomsPdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._title = title
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title(title)
        self.set_creator("Clearpost review service")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(0, 5, _latin1(f"{self._title} - page {self.page_no()}/{{nb}}"), align="C")

    def section(self, title: str) -> None:
        self.ln(2)
        self.set_font("Helvetica", style="B", size=10)
        self.set_fill_color(230, 230, 230)
        self.cell(0, 6, _latin1(title), fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def field(self, label: str, value: str | None) -> None:
        self.set_font("Helvetica", style="B", size=8)
        self.cell(55, 5, _latin1(label))
        self.set_font("Helvetica", size=8)
        self.multi_cell(0, 5, _latin1(value or NOT_REPORTED), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def case_pdf(case: AeCase, events: Sequence[AeCaseEvent]) -> bytes:
    """A CIOMS-like suspect adverse reaction report of the case."""
    title = f"Suspect adverse reaction report (CIOMS-like) - case {case.id}"
    pdf = _CiomsPdf(title)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=13)
    pdf.multi_cell(0, 7, "SUSPECT ADVERSE REACTION REPORT", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(
        0, 4, _latin1(f"Case {case.id} - status {case.status} - source: public comment on {case.network}"),
        new_x=XPos.LMARGIN, new_y=YPos.NEXT,
    )  # fmt: skip
    pdf.section("I. Reaction information")
    pdf.field("1. Patient", case.elements.get("patient"))
    pdf.field("7+13. Reaction(s) / event", case.elements.get("event"))
    pdf.field("Date received (day 0)", case.day0.isoformat())
    pdf.section("II. Suspect drug(s) information")
    pdf.field("14. Suspect drug(s)", case.elements.get("product"))
    pdf.section("III. Concomitant drug(s) and history")
    pdf.field("22. Concomitant drugs / history", None)
    pdf.section("IV. Manufacturer information")
    pdf.field("24b. Source", f"social media comment ({case.network}, account {case.account})")
    pdf.field("Reporter", case.elements.get("reporter"))
    pdf.field("Comment", case.comment_url)
    pdf.field("24c. Date received by manufacturer", case.day0.date().isoformat())
    pdf.field("Internal hand-off due", case.handoff_due.isoformat())
    pdf.field("Regulatory deadline (15 days)", case.regulatory_due.isoformat())
    pdf.field("Minimum elements missing", ", ".join(case.missing) or "none")
    pdf.section("Case steps")
    for event in events:
        pdf.field(f"{event.at.isoformat()} {event.kind}", f"{event.actor} {_summary(event)}".strip())
    if case.close_reason:
        pdf.field("Closed because", case.close_reason)
    return bytes(pdf.output())


def _summary(event: AeCaseEvent) -> str:
    details = event.details or {}
    for key in ("reason", "reference", "template", "clock"):
        if details.get(key):
            return f"({key}: {details[key]})"
    return ""

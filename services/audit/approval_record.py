"""A draft's approval record as a PDF an inspector can read, generated from the log on demand.

Every electronic signature (a `decision.recorded` event) is printed with the signer's printed
name, the date and time, what the signature means and the content hash it was bound to; then
every event of the draft with its hash and chain link, and the signed tree head that covers
them all, so the paper record can be checked against a verified export.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from services.audit.models import AuditEvent
from services.audit.signing import SignedTreeHead

MEANINGS = {
    "approve": "Approved - the signer approves this content for publication",
    "reject": "Rejected - the signer refuses this content (final)",
    "request_changes": "Changes requested - the signer sends the content back to its author",
}
SIGNATURE_ACTION = "decision.recorded"


def _latin1(text: str) -> str:
    # The PDF core fonts are Latin-1; anything else prints as "?" rather than failing the record.
    return text.encode("latin-1", "replace").decode("latin-1")


class _RecordPdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._title = title
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title(title)
        self.set_creator("Clearpost audit service")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(0, 5, _latin1(f"{self._title} - page {self.page_no()}/{{nb}}"), align="C")

    def line_text(self, text: str, *, size: float = 9, bold: bool = False, mono: bool = False) -> None:
        self.set_font("Courier" if mono else "Helvetica", style="B" if bold else "", size=size)
        self.multi_cell(0, size * 0.5, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _signature(event: AuditEvent) -> dict[str, Any]:
    details = event.details or {}
    decision = str(details.get("decision", ""))
    return {
        "name": event.actor_name or str(details.get("decider_name") or "") or "(name not recorded)",
        "user": event.actor,
        "roles": ", ".join(event.actor_roles or details.get("decider_roles") or []),
        "stage": str(details.get("stage", "")),
        "decision": decision,
        "meaning": MEANINGS.get(decision, decision or "(no decision recorded)"),
        "reason": event.reason or str(details.get("reason") or ""),
        "content_hash": event.content_hash or str(details.get("content_hash") or "(not recorded)"),
        "at": event.at,
        "seq": event.seq,
        "hash": event.hash,
    }


def approval_record_pdf(
    *,
    draft_id: str,
    events: Sequence[AuditEvent],
    head: SignedTreeHead,
    generated_at: str,
    generated_by: str,
    public_key_id: str,
) -> bytes:
    pdf = _RecordPdf(f"Approval record for draft {draft_id}")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.line_text("Clearpost - approval record", size=16, bold=True)
    pdf.line_text(f"Draft: {draft_id}", size=10)
    pdf.line_text(f"Generated {generated_at} (UTC, server time) for {generated_by}", size=8)
    pdf.line_text(
        f"Generated from the audit log. Covered by the signed tree head of {head.tree_size} events,"
        f" root {head.root_hash}, signed {head.timestamp} with audit key {public_key_id}.",
        size=8,
    )
    pdf.ln(3)

    signatures = [_signature(e) for e in events if e.action == SIGNATURE_ACTION]
    pdf.line_text(f"Electronic signatures ({len(signatures)})", size=12, bold=True)
    if not signatures:
        pdf.line_text("No review decision has been recorded for this draft.", size=9)
    for number, sig in enumerate(signatures, start=1):
        pdf.ln(1)
        pdf.line_text(f"{number}. {sig['name']}", size=10, bold=True)
        pdf.line_text(f"Signed: {sig['at']} (UTC)", size=9)
        pdf.line_text(f"Meaning: {sig['meaning']}", size=9)
        pdf.line_text(f"Stage: {sig['stage']}    Roles: {sig['roles']}    User id: {sig['user']}", size=9)
        if sig["reason"]:
            pdf.line_text(f"Reason given: {sig['reason']}", size=9)
        pdf.line_text(f"Content hash signed: {sig['content_hash']}", size=8, mono=True)
        pdf.line_text(f"Audit event {sig['seq']}, hash {sig['hash']}", size=8, mono=True)
    pdf.ln(3)

    pdf.line_text(f"Chain of events ({len(events)})", size=12, bold=True)
    for event in events:
        who = f"{event.actor_name} ({event.actor})" if event.actor_name else event.actor
        pdf.ln(1)
        pdf.line_text(f"#{event.seq}  {event.at}  {event.action}  by {who}", size=8, bold=True)
        extra = "  ".join(
            f"{label}: {value}"
            for label, value in (("why", event.reason), ("from", event.service), ("trace", event.trace_id))
            if value
        )
        if extra:
            pdf.line_text(extra, size=7)
        pdf.line_text(f"hash {event.hash}  prev {event.prev_hash}", size=6, mono=True)
    output = pdf.output()
    return bytes(output)

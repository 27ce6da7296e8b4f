"""Reviewers teach the screener: marks on a screening (a finding is wrong, a passage was missed), bound
to the version they judged, and the allow-list entries that "this is ours" marks propose and a second
compliance reviewer approves. Approved entries join the policy's allow-list for every later screening.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.audit_client import AuditClient
from services.kit.clock import utcnow
from services.kit.errors import Conflict, Forbidden, NotFound, Unprocessable, UpstreamUnavailable
from services.kit.tokens import Principal
from services.review.drafts_client import VersionSource
from services.review.models import AllowListProposal, Screening, ScreeningMark
from services.review.policy import REVIEW_ROLES, AllowList
from services.review.repository import ReviewRepository
from services.review.schemas import (
    DraftFeedback,
    FeedbackIn,
    MarkMissedIn,
    MarkOut,
    MarkWrongIn,
    ProposalDecisionIn,
    ProposalOut,
)
from services.review.screening.engine import Screener

PHI = "phi"
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
# "this is ours: <kind>" -> the allow-list field the value joins.
ALLOW_LIST_FIELDS = {
    "staff": "staff",
    "address": "addresses",
    "phone": "phones",
    "email": "emails",
    "organization": "organizations",
    "handle": "handles",
    "domain": "domains",
}
FEEDBACK_READERS = (*sorted(REVIEW_ROLES), "auditor", "admin")


def passage_digest(text: str) -> str:
    """What the audit trail records of a passage: its SHA-256, never the text (it may be patient data)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def allow_list_of(entries: Sequence[tuple[str, str]]) -> AllowList:
    """The allow-list that approved (kind, value) entries make."""
    fields: dict[str, list[str]] = {name: [] for name in ALLOW_LIST_FIELDS.values()}
    for kind, value in entries:
        if kind in ALLOW_LIST_FIELDS:
            fields[ALLOW_LIST_FIELDS[kind]].append(value)
    return AllowList(**fields)


async def refresh_allow_list(repo: ReviewRepository, screener: Screener) -> None:
    """Give the screener the approved entries as they are in the database now (one small query): a
    service with several processes picks up an approval made in another one before it screens."""
    screener.extend_allow_list(allow_list_of(await repo.approved_allow_list()))


@dataclass(frozen=True)
class _Current:
    """The screening a mark may be made on: the version under review (else the latest screened)."""

    screening: Screening
    version: int
    content_hash: str
    author_id: str | None


def _proposal_out(proposal: AllowListProposal, mark: ScreeningMark | None = None) -> ProposalOut:
    return ProposalOut(
        id=proposal.id,
        mark_id=proposal.mark_id,
        draft_id=mark.draft_id if mark else None,
        version=mark.version if mark else None,
        kind=proposal.kind,
        value=proposal.value,
        status=proposal.status,
        proposer_id=proposal.proposer_id,
        proposer_name=proposal.proposer_name,
        created_at=proposal.created_at,
        decider_id=proposal.decider_id,
        decider_name=proposal.decider_name,
        decision_reason=proposal.decision_reason,
        decided_at=proposal.decided_at,
    )


def _mark_out(mark: ScreeningMark, proposal: AllowListProposal | None) -> MarkOut:
    return MarkOut(
        id=mark.id,
        mark=mark.mark,
        draft_id=mark.draft_id,
        version=mark.version,
        content_hash=mark.content_hash,
        screening_id=mark.screening_id,
        category=mark.category,
        finding_index=mark.finding_index,
        finding_rule=mark.finding_rule,
        passage=mark.passage,
        start=mark.start,
        reason=mark.reason,
        reviewer_id=mark.reviewer_id,
        reviewer_name=mark.reviewer_name,
        created_at=mark.created_at,
        proposal=_proposal_out(proposal, mark) if proposal else None,
    )


class ScreeningFeedbackService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        audit: AuditClient,
        drafts: VersionSource | None,
        screener: Screener | None,
    ) -> None:
        self._repo = ReviewRepository(session)
        self._audit = audit
        self._drafts = drafts
        self._screener = screener

    async def _current(self, draft_id: str) -> _Current:
        tasks = await self._repo.open_tasks_for(draft_id)
        if tasks:
            task = tasks[-1]
            screening = await self._repo.screening(task.screening_id) if task.screening_id else None
            if screening is not None:
                return _Current(screening, task.version, task.content_hash, task.author_id)
        latest = await self._repo.latest_draft_screening(draft_id)
        if latest is None or latest.version is None or latest.content_hash is None:
            raise NotFound(f"draft {draft_id} has no screening to mark")
        return _Current(latest, latest.version, latest.content_hash, latest.author_id)

    async def mark(self, draft_id: str, data: FeedbackIn, principal: Principal) -> MarkOut:
        """Store one reviewer's mark on the current screening of a draft, audited."""
        if not principal.has_any(*REVIEW_ROLES):
            raise Forbidden("only legal, compliance and medical reviewers mark screening findings")
        current = await self._current(draft_id)
        if current.author_id == principal.user_id:
            raise Forbidden("the author of a draft does not mark its screening")
        if data.content_hash != current.content_hash:
            raise Conflict(
                f"the content changed: the mark names {data.content_hash[:12]}…, "
                f"the current version is {current.content_hash[:12]}…",
                code="stale",
            )
        findings = current.screening.findings
        if isinstance(data, MarkWrongIn):
            if data.finding_index >= len(findings):
                raise Unprocessable(
                    f"the screening of version {current.version} has no finding {data.finding_index} "
                    f"({len(findings)} finding(s), numbered from 0)",
                    code="unknown_finding",
                )
            finding = findings[data.finding_index]
            if data.ours is not None and (finding.get("category") != PHI or not finding.get("text")):
                raise Unprocessable(
                    "only a PHI finding's matched text can be proposed as the organization's own",
                    code="not_phi",
                )
        if self._drafts is None:
            raise UpstreamUnavailable("marks are unavailable: the service is not connected")
        await self._repo.release_connection()
        content = await self._drafts.get_version(draft_id, current.version)
        if content.get("author_id") == principal.user_id:
            raise Forbidden("the author of a draft does not mark its screening")
        if content.get("content_hash", current.content_hash) != current.content_hash:
            raise Conflict("the drafts service holds other content for this version", code="stale")
        text = f"{content['title']}\n{content['body']}"
        consent = bool(content.get("consent_on_file", content.get("consent_id") is not None))
        base: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "screening_id": current.screening.id,
            "draft_id": draft_id,
            "version": current.version,
            "content_hash": current.content_hash,
            "screened_text": text,
            "consent_on_file": consent,
            "reviewer_id": principal.user_id,
            "reviewer_name": principal.name,
            "reviewer_roles": sorted(principal.roles),
            "created_at": utcnow(),
        }
        if isinstance(data, MarkWrongIn):
            return await self._mark_wrong(draft_id, data, principal, current, base)
        return await self._mark_missed(draft_id, data, principal, current, base, text)

    async def _mark_wrong(
        self, draft_id: str, data: MarkWrongIn, principal: Principal, current: _Current, base: dict[str, Any]
    ) -> MarkOut:
        finding = current.screening.findings[data.finding_index]
        mark = ScreeningMark(
            **base,
            mark="wrong",
            category=str(finding.get("category", "")),
            finding_index=data.finding_index,
            finding_rule=finding.get("rule"),
            passage=str(finding.get("text") or ""),
            start=finding.get("start"),
            reason=data.reason.strip(),
        )
        self._repo.add(mark)
        proposal = None
        if data.ours is not None:
            proposal = AllowListProposal(
                id=str(uuid.uuid4()),
                mark_id=mark.id,
                kind=data.ours,
                value=mark.passage,
                status=PENDING,
                proposer_id=principal.user_id,
                proposer_name=principal.name,
                created_at=mark.created_at,
            )
            self._repo.add(proposal)
        await self._repo.flush()
        await self._repo.release_connection()
        # Index, rule and category name the finding; its text stays out of the audit trail (PHI).
        await self._audit.append(
            actor=principal,
            action="screening.finding_marked_wrong",
            subject=f"draft:{draft_id}",
            details={
                "mark_id": mark.id,
                "version": current.version,
                "content_hash": current.content_hash,
                "screening_id": current.screening.id,
                "finding_index": data.finding_index,
                "rule": mark.finding_rule,
                "category": mark.category,
                "reason": mark.reason,
                "passage_sha256": passage_digest(mark.passage),
                "allow_list_proposal": None
                if proposal is None
                else {"id": proposal.id, "kind": proposal.kind},
            },
        )
        return _mark_out(mark, proposal)

    async def _mark_missed(
        self,
        draft_id: str,
        data: MarkMissedIn,
        principal: Principal,
        current: _Current,
        base: dict[str, Any],
        text: str,
    ) -> MarkOut:
        start = text.find(data.passage)
        if start < 0:
            raise Unprocessable(
                f"the passage is not in the text of version {current.version}: copy it exactly as it "
                "appears in the title or body",
                code="passage_not_found",
            )
        end = start + len(data.passage)
        covered = [
            f
            for f in current.screening.findings
            if f.get("category") == data.category
            and f.get("start") is not None
            and f["start"] < end
            and start < f["end"]
        ]
        if covered:
            raise Unprocessable(
                f"the screening already flags this passage as {data.category} "
                f"(rule {covered[0].get('rule')})",
                code="already_found",
            )
        mark = ScreeningMark(
            **base,
            mark="missed",
            category=data.category,
            finding_index=None,
            finding_rule=None,
            passage=data.passage,
            start=start,
            reason=data.reason.strip(),
        )
        self._repo.add(mark)
        await self._repo.flush()
        await self._repo.release_connection()
        await self._audit.append(
            actor=principal,
            action="screening.passage_marked_missed",
            subject=f"draft:{draft_id}",
            details={
                "mark_id": mark.id,
                "version": current.version,
                "content_hash": current.content_hash,
                "screening_id": current.screening.id,
                "category": data.category,
                "start": start,
                "length": len(data.passage),
                "passage_sha256": passage_digest(data.passage),
                "reason": mark.reason,
            },
        )
        return _mark_out(mark, None)

    async def marks(self, draft_id: str, principal: Principal) -> DraftFeedback:
        """Every mark on any version of a draft, oldest first (reviewers, auditors, admins)."""
        if not principal.has_any(*FEEDBACK_READERS):
            raise Forbidden("only reviewers, auditors and admins read screening feedback")
        marks = await self._repo.marks_for_draft(draft_id)
        proposals = await self._repo.proposals_for_marks([m.id for m in marks])
        return DraftFeedback(draft_id=draft_id, marks=[_mark_out(m, proposals.get(m.id)) for m in marks])

    # --- allow-list proposals -------------------------------------------------------------------

    async def proposals(self, principal: Principal, status: str | None = PENDING) -> list[ProposalOut]:
        if not principal.has_any("compliance", "auditor", "admin"):
            raise Forbidden("allow-list proposals are for compliance reviewers, auditors and admins")
        found = await self._repo.proposals(status)
        marks = await self._repo.marks_by_id([p.mark_id for p in found])
        return [_proposal_out(p, marks.get(p.mark_id)) for p in found]

    async def decide_proposal(
        self, proposal_id: str, approve: bool, data: ProposalDecisionIn, principal: Principal
    ) -> ProposalOut:
        """A compliance reviewer other than the proposer approves (the value joins the allow-list of
        every later screening) or rejects an allow-list proposal; audited."""
        if not principal.has_any("compliance"):
            raise Forbidden("only compliance reviewers approve or reject allow-list proposals")
        proposal = await self._repo.proposal(proposal_id)
        if proposal is None:
            raise NotFound(f"there is no allow-list proposal {proposal_id}")
        if proposal.proposer_id == principal.user_id:
            raise Forbidden(
                "a proposal is approved or rejected by a compliance reviewer other than its proposer"
            )
        if proposal.status != PENDING:
            raise Conflict(f"the proposal was {proposal.status} already", code="decided")
        proposal.status = APPROVED if approve else REJECTED
        proposal.decider_id = principal.user_id
        proposal.decider_name = principal.name
        proposal.decision_reason = data.reason.strip()
        proposal.decided_at = utcnow()
        await self._repo.flush()
        await self._repo.release_connection()
        if approve and self._screener is not None:
            # This process screens with the entry from now on; others pick it up before they screen.
            await refresh_allow_list(self._repo, self._screener)
            await self._repo.release_connection()
        await self._audit.append(
            actor=principal,
            action="screening.allow_list_approved" if approve else "screening.allow_list_rejected",
            subject=f"allow_list_proposal:{proposal.id}",
            details={
                "proposal_id": proposal.id,
                "mark_id": proposal.mark_id,
                "kind": proposal.kind,
                "value_sha256": passage_digest(proposal.value),
                "proposer_id": proposal.proposer_id,
                "reason": proposal.decision_reason,
            },
        )
        return _proposal_out(proposal)

"""Adverse-event cases: opened from a comment's screening, assigned to pharmacovigilance, kept on
their clocks by AdverseEventCaseWorkflow, worked through follow-ups, handed off and closed.

Day 0 is when the publisher read the comment. The clocks (policy `pharmacovigilance`): internal
hand-off (default 24 h) and the regulatory deadline (15 calendar days), each with a reminder
before it and an escalation when it passes unmet. The database is the truth: a reminder or
escalation for a clock already met is not recorded, whatever the workflow's timers say. Every step
is a case event and an audit event (`ae_case.*`); closing needs a reason. A reminder or escalation
is also a notice in the review service's outbox, delivered like a review's (in-app, and e-mail and
webhooks as each user and endpoint chose): to pharmacovigilance, an escalation to compliance too,
naming the case, its clock and due time only (never the comment or what it showed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.errors import Conflict, NotFound, Unprocessable
from services.kit.tokens import Principal
from services.review.ae_case_models import (
    CASE_CLOSED,
    CASE_HANDED_OFF,
    CASE_OPEN,
    AeCase,
    AeCaseEvent,
    CommentScreening,
)
from services.review.ae_case_repository import AeCaseRepository
from services.review.ae_elements import missing
from services.review.models import ReviewNotice
from services.review.notifications.events import CASE_ESCALATION, CASE_REMINDER
from services.review.policy import PharmacovigilancePolicy
from workflows.case_clocks import plan_clocks
from workflows.comment_contracts import ADVERSE_EVENT, HANDOFF_CLOCK, REMINDER, AeCasePlan, CaseClock

PV_ROLE = "pharmacovigilance"
CASE_WORKERS = (PV_ROLE, "admin")
CASE_READERS = (PV_ROLE, "compliance", "auditor", "admin")
# Who a clock's notice is for: the case's assignees; past due, compliance as well.
REMINDED_ROLES = (PV_ROLE,)
ESCALATED_ROLES = (PV_ROLE, "compliance")
SYSTEM = "system:review"
# Approved private replies a follow-up sends (the text is logged with the attempt).
FOLLOW_UP_TEMPLATES: Mapping[str, str] = {
    "missing_information": (
        "Thank you for letting us know. Our safety team would like to learn more so we can look "
        "into this. Could you send us a private message with how to reach you?"
    ),
    "contact_request": (
        "We're sorry to hear about your experience. Please contact our medical information line "
        "privately so a member of our safety team can follow up with you."
    ),
}
MAX_FOLLOW_UPS = 5


def case_plan(case: AeCase) -> AeCasePlan:
    return AeCasePlan(case.id, case.status, [CaseClock(c["clock"], c["kind"], c["at"]) for c in case.clocks])


class AeCaseService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        audit: AuditRecorder,
        policy: PharmacovigilancePolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = AeCaseRepository(session)
        self._audit = audit
        self._policy = policy
        self._clock = clock

    # --- opened by the workflow -----------------------------------------------------------------

    async def open(self, comment_id: str, screening_id: str) -> AeCase:
        """The comment's case, opened once (a retried activity gets the same case)."""
        existing = await self._repo.case_for(comment_id)
        if existing is not None:
            return existing
        screening = await self._repo.screening(screening_id)
        if screening is None or screening.comment_id != comment_id:
            raise NotFound(f"no screening {screening_id} of comment {comment_id}")
        if ADVERSE_EVENT not in screening.categories:
            raise Conflict("the comment's screening found no adverse event", code="no_adverse_event")
        day0 = screening.read_at
        policy = self._policy
        clocks = plan_clocks(
            day0,
            handoff=policy.handoff,
            handoff_reminder_before=policy.handoff_reminder_before,
            regulatory_deadline=policy.regulatory_deadline,
            regulatory_reminder_before=policy.regulatory_reminder_before,
        )
        now = self._clock()
        case = AeCase(
            id=str(uuid.uuid4()),
            comment_id=comment_id,
            screening_id=screening_id,
            network=screening.network,
            account=screening.account,
            draft_id=screening.draft_id,
            comment_url=screening.url,
            reporter=screening.author,
            day0=day0,
            handoff_due=day0 + policy.handoff,
            regulatory_due=day0 + policy.regulatory_deadline,
            elements=dict(screening.elements),
            missing=missing(screening.elements),
            products=list(dict.fromkeys([*screening.products, *screening.drugs])),
            events=[str(f["text"]) for f in screening.findings if f.get("category") == ADVERSE_EVENT],
            status=CASE_OPEN,
            assigned_role=PV_ROLE,
            clocks=[{"clock": c.clock, "kind": c.kind, "at": c.at} for c in clocks],
            handoff_reference="",
            close_reason="",
            created_at=now,
        )
        self._repo.add(case)
        await self._event(case, "opened", SYSTEM, {"missing": case.missing, "assigned_role": PV_ROLE})
        await self._repo.flush()
        await self._audit.append(
            actor=SYSTEM,
            action="ae_case.opened",
            subject=f"ae_case:{case.id}",
            details={
                "comment_id": comment_id,
                "network": case.network,
                "draft_id": case.draft_id,
                "day0": day0.isoformat(),
                "handoff_due": case.handoff_due.isoformat(),
                "regulatory_due": case.regulatory_due.isoformat(),
                "missing": case.missing,
                "assigned_role": PV_ROLE,
            },
            idempotency_key=f"ae_case.opened:{comment_id}",
        )
        return case

    async def clock_passed(self, case_id: str, clock: str, kind: str) -> bool:
        """A reminder or escalation came due: recorded and audited once, unless its clock is met."""
        case = await self._get(case_id, for_update=True)
        met = case.status == CASE_CLOSED or (clock == HANDOFF_CLOCK and case.status == CASE_HANDED_OFF)
        key = f"{case.id}:clock:{clock}:{kind}"
        if met or await self._repo.event_by_key(key) is not None:
            return False
        due = case.handoff_due if clock == HANDOFF_CLOCK else case.regulatory_due
        details = {"clock": clock, "due": due.isoformat(), "missing": case.missing}
        await self._event(case, kind, SYSTEM, details, key=key)
        self._repo.add(self._notice(case, clock, kind, due, key))
        await self._repo.flush()
        action = "ae_case.reminder" if kind == REMINDER else "ae_case.escalated"
        await self._audit.append(
            actor=SYSTEM, action=action, subject=f"ae_case:{case.id}", details=details, idempotency_key=key
        )
        return True

    # --- people's steps -------------------------------------------------------------------------

    async def follow_up(self, case_id: str, principal: Principal, template: str, note: str) -> AeCaseEvent:
        case = await self._get(case_id, for_update=True)
        self._open_for_steps(case)
        text = FOLLOW_UP_TEMPLATES.get(template)
        if text is None:
            raise Unprocessable(
                f"no follow-up template {template!r}; use one of: {', '.join(FOLLOW_UP_TEMPLATES)}",
                code="unknown_template",
            )
        attempts = [e for e in await self._repo.events(case.id) if e.kind == "follow_up"]
        if len(attempts) >= MAX_FOLLOW_UPS:
            raise Conflict(f"{MAX_FOLLOW_UPS} follow-ups are logged already", code="too_many_follow_ups")
        details = {"attempt": len(attempts) + 1, "template": template, "text": text, "note": note}
        event = await self._event(case, "follow_up", principal.user_id, details)
        await self._repo.flush()
        await self._audit.append(
            actor=principal, action="ae_case.follow_up", subject=f"ae_case:{case.id}", details=details
        )
        return event

    async def hand_off(self, case_id: str, principal: Principal, reference: str) -> AeCase:
        case = await self._get(case_id, for_update=True)
        if case.status != CASE_OPEN:
            raise Conflict(f"the case is {case.status}", code=f"case_{case.status}")
        now = self._clock()
        case.status, case.handed_off_at, case.handed_off_by = CASE_HANDED_OFF, now, principal.user_id
        case.handoff_reference = reference
        on_time = now <= case.handoff_due
        details = {"reference": reference, "on_time": on_time, "missing": case.missing}
        await self._event(case, "handed_off", principal.user_id, details)
        await self._repo.flush()
        await self._audit.append(
            actor=principal, action="ae_case.handed_off", subject=f"ae_case:{case.id}", details=details
        )
        return case

    async def close(self, case_id: str, principal: Principal, reason: str) -> AeCase:
        if len(reason.strip()) < 3:
            raise Unprocessable("closing a case needs a reason", code="reason_required")
        case = await self._get(case_id, for_update=True)
        if case.status == CASE_CLOSED:
            raise Conflict("the case is closed already", code="case_closed")
        now = self._clock()
        case.status, case.closed_at, case.closed_by, case.close_reason = (
            CASE_CLOSED,
            now,
            principal.user_id,
            reason,
        )
        details = {"reason": reason, "handed_off": case.handed_off_at is not None}
        await self._event(case, "closed", principal.user_id, details)
        await self._repo.flush()
        await self._audit.append(
            actor=principal, action="ae_case.closed", subject=f"ae_case:{case.id}", details=details
        )
        return case

    # --- reading --------------------------------------------------------------------------------

    async def get(self, case_id: str) -> AeCase:
        return await self._get(case_id)

    async def listing(self, *, status: str | None) -> Sequence[AeCase]:
        return await self._repo.cases(status=status)

    async def events(self, case_id: str) -> Sequence[AeCaseEvent]:
        return await self._repo.events(case_id)

    async def for_comments(
        self, comment_ids: Sequence[str]
    ) -> tuple[dict[str, CommentScreening], dict[str, AeCase]]:
        """The screenings and cases of these comments, by comment id (the moderation inbox)."""
        screenings = await self._repo.screenings_of(comment_ids)
        cases = await self._repo.cases_of(comment_ids)
        return {s.comment_id: s for s in screenings}, {c.comment_id: c for c in cases}

    async def screening(self, case: AeCase) -> CommentScreening | None:
        return await self._repo.screening(case.screening_id)

    def time_left(self, case: AeCase) -> dict[str, float | None]:
        """Hours to each clock's due time (negative once passed); None once the clock is met."""
        now = self._clock()

        def hours(due: datetime) -> float:
            return round((due - now) / timedelta(hours=1), 2)

        return {
            "handoff": None if case.status != CASE_OPEN else hours(case.handoff_due),
            "regulatory": None if case.status == CASE_CLOSED else hours(case.regulatory_due),
        }

    # --- helpers --------------------------------------------------------------------------------

    async def _get(self, case_id: str, *, for_update: bool = False) -> AeCase:
        case = await self._repo.case(case_id, for_update=for_update)
        if case is None:
            raise NotFound(f"no adverse-event case {case_id}")
        return case

    def _notice(self, case: AeCase, clock: str, kind: str, due: datetime, key: str) -> ReviewNotice:
        """The clock's notice in the outbox, keyed like its step (once per case, clock and kind):
        ids, the clock and its due time only (notifications/events.py: CASE_KINDS)."""
        reminder = kind == REMINDER
        roles = REMINDED_ROLES if reminder else ESCALATED_ROLES
        return ReviewNotice(
            id=str(uuid.uuid4()),
            key=f"ae_case:{key}",
            draft_id=case.draft_id,
            version=0,
            content_hash="",
            stage=clock,
            kind=CASE_REMINDER if reminder else CASE_ESCALATION,
            n=1,
            recipients=[f"role:{role}" for role in roles],
            reason=case.id,
            due_at=due,
            created_at=self._clock(),
        )

    @staticmethod
    def _open_for_steps(case: AeCase) -> None:
        if case.status == CASE_CLOSED:
            raise Conflict("the case is closed", code="case_closed")

    async def _event(
        self, case: AeCase, kind: str, actor: str, details: dict[str, Any], *, key: str | None = None
    ) -> AeCaseEvent:
        event = AeCaseEvent(
            id=str(uuid.uuid4()),
            case_id=case.id,
            key=key,
            kind=kind,
            actor=actor,
            at=self._clock(),
            details=details,
        )
        self._repo.add(event)
        return event

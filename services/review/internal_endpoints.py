"""The review service's /internal routes: facts other services ask it for, with their own service
credential (never proxied by the gateway)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from services.kit.auth import InternalCaller
from services.kit.deps import SessionDep
from services.review.repository import ReviewRepository

router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller])


class LastDecision(BaseModel):
    decided_at: datetime
    draft_id: str
    version: int
    stage: str
    decision: str


class LastDecisions(BaseModel):
    # decider (user id) -> their most recent signed decision
    latest: dict[str, LastDecision]


@router.get("/decisions/latest", response_model=LastDecisions)
async def latest_decisions(session: SessionDep) -> LastDecisions:
    """Each reviewer's most recent signed decision, for the gateway's access review."""
    rows = await ReviewRepository(session).latest_decisions()
    return LastDecisions(
        latest={
            row.decider_id: LastDecision(
                decided_at=row.decided_at,
                draft_id=row.draft_id,
                version=row.version,
                stage=row.stage,
                decision=row.decision,
            )
            for row in rows
        }
    )

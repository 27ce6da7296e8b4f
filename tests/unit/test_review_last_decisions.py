"""The review service's answer to the gateway's access review: each reviewer's last signed decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.kit.db import create_engine, create_sessionmaker
from services.review.internal_endpoints import latest_decisions
from services.review.models import ReviewDecision
from tests.database import DatabaseFactory


def decision(n: int, decider: str, at: datetime, verdict: str = "approve") -> ReviewDecision:
    return ReviewDecision(
        id=f"dec-{n}", draft_id=f"d-{n}", version=n, content_hash="a" * 64, stage="legal", decision=verdict,
        reason="ok", decider_id=decider, decider_name=decider, decider_roles=["legal"], policy_version="p",
        decided_at=at,
    )  # fmt: skip


async def test_each_reviewers_latest_decision_is_reported_once(database: DatabaseFactory) -> None:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    sessions = create_sessionmaker(engine)
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    try:
        async with sessions() as session, session.begin():
            session.add_all(
                [
                    decision(1, "lena", t0),
                    decision(2, "lena", t0 + timedelta(hours=3), "request_changes"),
                    decision(3, "max", t0 + timedelta(hours=1)),
                ]
            )
        async with sessions() as session:
            answer = await latest_decisions(session)
    finally:
        await engine.dispose()

    assert set(answer.latest) == {"lena", "max"}
    lena = answer.latest["lena"]
    assert (lena.draft_id, lena.version, lena.decision, lena.decided_at) == (
        "d-2", 2, "request_changes", t0 + timedelta(hours=3)
    )  # fmt: skip
    assert answer.latest["max"].draft_id == "d-3"

"""The access review: every account, its roles and where each came from, its last sign-in and
the last decision it signed.

Compliance recertifies access periodically; running the report is audited (who ran it, how many
accounts it listed). The last decision is the review service's fact: the gateway asks it
(`GET /internal/v1/decisions/latest`) for every run, and without an answer there is no report
(a recertification on a report missing a column would certify the wrong thing).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import User
from services.gateway.repository import UserRepository
from services.gateway.roles import LOCAL
from services.gateway.schemas import AccessReview, AccessReviewEntry, AccessReviewRole
from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.errors import ClearpostError, UpstreamUnavailable
from services.kit.http import internal_json
from services.kit.tokens import Principal

CSV_COLUMNS = (
    "id",
    "username",
    "display_name",
    "active",
    "sign_in",
    "roles",
    "idp_groups",
    "last_sign_in_at",
    "last_sign_in_method",
    "deactivated_at",
    "last_decision_at",
    "last_decision",
)


class LastDecisions(Protocol):
    async def latest(self) -> dict[str, tuple[datetime, str]]:
        """user id -> (when, what) of the last decision each reviewer signed."""
        ...


class ReviewLastDecisions:
    """The review service's record of each reviewer's last signed decision."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def latest(self) -> dict[str, tuple[datetime, str]]:
        try:
            body = await internal_json(self._http, "GET", "/internal/v1/decisions/latest")
        except ClearpostError as exc:
            raise UpstreamUnavailable(
                "the review service did not give the last decisions; no access review without them "
                f"({exc.detail})"
            ) from exc
        return {
            user_id: (
                datetime.fromisoformat(d["decided_at"]),
                f"{d['decision']} {d['stage']} on draft {d['draft_id']} v{d['version']}",
            )
            for user_id, d in body["latest"].items()
        }


def entry(user: User, last_decision: tuple[datetime, str] | None = None) -> AccessReviewEntry:
    sources = user.role_sources or {}
    return AccessReviewEntry(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        active=user.active,
        sign_in="idp" if user.idp_subject else "local",
        roles=[AccessReviewRole(role=r, source=sources.get(r, LOCAL)) for r in sorted(user.roles)],
        idp_groups=list(user.idp_groups or []),
        last_sign_in_at=user.last_login_at,
        last_sign_in_method=user.last_login_method,
        deactivated_at=user.deactivated_at,
        last_decision_at=last_decision[0] if last_decision else None,
        last_decision=last_decision[1] if last_decision else None,
    )


class AccessReviewService:
    def __init__(self, session: AsyncSession, *, audit: AuditRecorder, last_decisions: LastDecisions) -> None:
        self._users = UserRepository(session)
        self._audit = audit
        self._last_decisions = last_decisions

    async def run(self, actor: Principal, *, output: str) -> AccessReview:
        decided = await self._last_decisions.latest()
        users = await self._users.list()
        report = AccessReview(generated_at=utcnow(), users=[entry(u, decided.get(u.id)) for u in users])
        # Audited before it is answered: if the trail cannot take it, nobody gets the report.
        await self._audit.append(
            actor=actor,
            action="users.access_review",
            subject="users",
            details={"users": len(report.users), "format": output},
        )
        return report


def as_csv(report: AccessReview) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for user in report.users:
        writer.writerow(
            [
                user.id,
                _cell(user.username),
                _cell(user.display_name),
                "yes" if user.active else "no",
                user.sign_in,
                "; ".join(f"{r.role} ({r.source})" for r in user.roles),
                _cell("; ".join(user.idp_groups)),
                user.last_sign_in_at.isoformat() if user.last_sign_in_at else "",
                user.last_sign_in_method or "",
                user.deactivated_at.isoformat() if user.deactivated_at else "",
                user.last_decision_at.isoformat() if user.last_decision_at else "",
                user.last_decision or "",
            ]
        )
    return out.getvalue()


def _cell(value: str) -> str:
    # A spreadsheet runs a cell that starts with these as a formula (CSV injection).
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

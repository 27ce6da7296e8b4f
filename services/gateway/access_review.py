"""The access review: every account, its roles and where each came from, its last sign-in.

Compliance recertifies access periodically; running the report is audited (who ran it, how many
accounts it listed). The last decision a user signed is not in it yet: that is the review
service's fact and it has no route to ask for it (docs/identity.md, "Not done yet").
"""

from __future__ import annotations

import csv
import io

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import User
from services.gateway.repository import UserRepository
from services.gateway.roles import LOCAL
from services.gateway.schemas import AccessReview, AccessReviewEntry, AccessReviewRole
from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
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
)


def entry(user: User) -> AccessReviewEntry:
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
    )


class AccessReviewService:
    def __init__(self, session: AsyncSession, *, audit: AuditRecorder) -> None:
        self._users = UserRepository(session)
        self._audit = audit

    async def run(self, actor: Principal, *, output: str) -> AccessReview:
        report = AccessReview(generated_at=utcnow(), users=[entry(u) for u in await self._users.list()])
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
            ]
        )
    return out.getvalue()


def _cell(value: str) -> str:
    # A spreadsheet runs a cell that starts with these as a formula (CSV injection).
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

"""`clearpost users create-admin USERNAME`: the first administrator of an install without demo users.

A cluster starts with no users (demo users are refused outside demo mode). An operator with the
gateway's settings (e.g. `kubectl exec deploy/clearpost-gateway -- clearpost users create-admin
...`) creates the first admin; everyone else is created by that admin, by SCIM or by the identity
provider. It goes through the same rules as `POST /api/v1/users` (username, password length, a
taken name is refused) and the same audit event (`user.created`, the operator as actor): when the
audit service does not take the event, no user is created.
"""

from __future__ import annotations

from services.gateway.config import GatewaySettings
from services.gateway.models import User
from services.gateway.schemas import UserCreate
from services.gateway.service import Passwords, UserService
from services.kit.audit_client import AuditClient, operator
from services.kit.auth import load_internal_token
from services.kit.db import create_engine, create_sessionmaker, session_scope
from services.kit.http import internal_client


async def create_admin(settings: GatewaySettings, data: UserCreate) -> User:
    """Create `data` as a user (its roles must include admin) in the gateway's database."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    token = load_internal_token(settings, "gateway")
    try:
        async with internal_client(settings.service_url("audit"), token) as audit_http:
            async with session_scope(create_sessionmaker(engine)) as session:
                users = UserService(session, passwords=Passwords(), audit=AuditClient(audit_http, "gateway"))
                return await users.create(data, actor=operator())
    finally:
        await engine.dispose()

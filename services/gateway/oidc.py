"""Sign-in and signing re-authentication through the organization's identity provider.

`start` keeps one pending request (SHA-256 of `state`, the nonce, the PKCE verifier, the redirect
URI, ten minutes, single use) and answers the provider's authorization URL. `complete` takes the
state once, exchanges the code with the verifier, checks the ID token (services/gateway/idp.py)
and then, for a sign-in, finds or provisions the user (just in time, roles from the role claim
through the role map) and issues Clearpost's own tokens; for a signing re-authentication it
checks that the same user authenticated again just now (`auth_time`, the policy's acr/amr) and
keeps a one-time proof bound to the decision, which the review service redeems when it signs.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.idp import IdentityProvider, IdpRefused, IdTokenClaims
from services.gateway.models import OidcLogin, SigningReauthentication, User
from services.gateway.repository import IdentityRepository, UserRepository
from services.gateway.roles import IDP, apply_groups
from services.gateway.schemas import USERNAME_PATTERN, AccessToken
from services.gateway.service import AuthService
from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.credentials import decision_binding  # noqa: F401 - the review service computes the same
from services.kit.errors import BadRequest, Conflict, Forbidden, NotFound
from services.kit.tokens import Principal

LOGIN = "login"
SIGNING = "signing"
PURPOSES = (LOGIN, SIGNING)
STATE_LIFETIME = timedelta(minutes=10)
# How long the review service has to redeem a signing re-authentication once it is made.
REAUTH_LIFETIME = timedelta(minutes=2)
CALLBACK_PATHS = ("/api/v1/auth/oidc/callback", "/review/login/oidc/callback")
BINDING_PATTERN = re.compile(r"^[0-9a-f]{64}$")
NO_ROLE = (
    "your organization's groups give you no role in Clearpost; ask your administrator to add you to"
    " a group the role map names"
)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class OidcPolicy:
    role_claim: str
    role_map: Mapping[str, list[str]]
    username_claim: str
    redirect_uris: tuple[str, ...]
    signing_max_age: int
    signing_acr_values: tuple[str, ...] = ()
    signing_amr_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class SigningProof:
    handle: str
    expires_in: int
    context: dict[str, str] | None


@dataclass(frozen=True)
class Completion:
    purpose: str
    tokens: AccessToken | None = None
    proof: SigningProof | None = None
    context: dict[str, str] | None = None


@dataclass(frozen=True)
class Redeemed:
    method: str
    auth_time: datetime
    acr: str | None
    amr: list[str] = field(default_factory=list)


class OidcService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        idp: IdentityProvider,
        policy: OidcPolicy,
        auth: AuthService,
        audit: AuditRecorder,
    ) -> None:
        self._identity = IdentityRepository(session)
        self._users = UserRepository(session)
        self._idp = idp
        self._policy = policy
        self._auth = auth
        self._audit = audit

    def _check_redirect(self, redirect_uri: str) -> None:
        if self._policy.redirect_uris:
            if redirect_uri not in self._policy.redirect_uris:
                raise BadRequest(
                    "redirect_uri is not one this gateway is configured for", code="invalid_request"
                )
            return
        match = re.match(r"^https?://[^/?#]+(/[^?#]*)$", redirect_uri)
        if match is None or match.group(1) not in CALLBACK_PATHS:
            raise BadRequest(
                f"redirect_uri must end in one of {', '.join(CALLBACK_PATHS)}", code="invalid_request"
            )

    async def start(
        self,
        *,
        redirect_uri: str,
        purpose: str = LOGIN,
        principal: Principal | None = None,
        binding: str | None = None,
        context: dict[str, str] | None = None,
    ) -> tuple[str, str, datetime]:
        """(authorization URL, state, expiry). A signing request needs the signed-in `principal`
        and the decision's `binding`; it asks the provider to authenticate again (prompt=login,
        max_age=0)."""
        self._check_redirect(redirect_uri)
        if purpose not in PURPOSES:
            raise BadRequest(f"purpose must be one of {', '.join(PURPOSES)}", code="invalid_request")
        if purpose == SIGNING:
            if principal is None:
                raise BadRequest("a signing re-authentication needs the signer's bearer token")
            if binding is None or not BINDING_PATTERN.match(binding):
                raise BadRequest("binding must be the decision's SHA-256 (64 hex digits)")
            user = await self._users.get(principal.user_id)
            if user is None or user.idp_subject is None:
                raise Conflict("this account signs with its password, not through the identity provider")
        state, nonce, verifier = (
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(64),
        )
        signing = purpose == SIGNING
        if signing:
            # The nonce is bound to the decision: an ID token minted for another one never matches.
            nonce = digest(f"{nonce}:{binding}")
        url = await self._idp.authorization_url(
            redirect_uri=redirect_uri,
            state=state,
            nonce=nonce,
            code_verifier=verifier,
            prompt="login" if signing else None,
            max_age=0 if signing else None,
        )
        now = utcnow()
        await self._identity.delete_expired_logins(now - STATE_LIFETIME)
        self._identity.add(
            OidcLogin(
                state_hash=digest(state),
                purpose=purpose,
                nonce=nonce,
                code_verifier=verifier,
                redirect_uri=redirect_uri,
                user_id=principal.user_id if signing and principal else None,
                binding=binding if signing else None,
                context=context,
                created_at=now,
                expires_at=now + STATE_LIFETIME,
            )
        )
        await self._identity.flush()
        return url, state, now + STATE_LIFETIME

    async def complete(
        self,
        *,
        state: str,
        code: str | None,
        error: str | None = None,
        principal: Principal | None = None,
        address: str | None = None,
    ) -> Completion:
        pending = await self._identity.take_login(digest(state), utcnow())
        if pending is None:
            raise Conflict(
                "this sign-in is unknown, was used already or has expired; start again", code="invalid_state"
            )
        if error or not code:
            await self._record_failure(pending, f"the provider answered {error or 'no code'}"[:200])
            raise IdpRefused(f"the identity provider did not sign you in: {error or 'no code'}")
        try:
            token = await self._idp.exchange(
                code=code, code_verifier=pending.code_verifier, redirect_uri=pending.redirect_uri
            )
            id_token = token.get("id_token")
            if not isinstance(id_token, str):
                raise IdpRefused("the identity provider answered no ID token")
            claims = await self._idp.verify_id_token(
                id_token, nonce=pending.nonce, max_age=0 if pending.purpose == SIGNING else None
            )
        except IdpRefused as exc:
            await self._record_failure(pending, exc.detail)
            raise
        if pending.purpose == SIGNING:
            return await self._signing(pending, claims, principal)
        return Completion(purpose=LOGIN, tokens=await self._login(claims, address), context=pending.context)

    async def _login(self, claims: IdTokenClaims, address: str | None) -> AccessToken:
        user = await self._identity.user_by_subject(claims.subject)
        provisioned = user is None
        groups = self._groups(claims)
        if user is None:
            user = await self._provision(claims)
        if not user.active:
            await self._audit_event(
                user.id, "auth.login_failed", user, {"reason": "inactive_user", "method": "oidc"}
            )
            raise Forbidden("this account is deactivated", code="inactive_user")
        change = apply_groups(user, groups, self._policy.role_map, IDP)
        user.updated_at = utcnow()
        if change.removed:
            # Tokens issued before carry the roles taken away: every service refuses them now.
            user.tokens_revoked_at = user.updated_at
        await self._users.flush()
        if provisioned:
            await self._record(
                user.id,
                "user.provisioned",
                user,
                {
                    "via": "oidc",
                    "issuer": self._idp.client.issuer,
                    "subject": claims.subject,
                    "groups": user.idp_groups,
                    "roles": user.roles,
                },
            )
        elif change.changed:
            await self._record(
                user.id,
                "user.roles_changed",
                user,
                {
                    "via": "idp",
                    "groups": user.idp_groups,
                    "added": list(change.added),
                    "removed": list(change.removed),
                    "roles": user.roles,
                },
            )
        if not user.roles:
            await self._audit_event(
                user.id,
                "auth.login_failed",
                user,
                {"reason": "no_role", "method": "oidc", "groups": user.idp_groups},
            )
            raise Forbidden(NO_ROLE, code="no_role")
        tokens = await self._auth.issue_for(user, method="oidc")
        sid = claims.claims.get("sid")
        if isinstance(sid, str) and sid:
            await self._identity.remember_idp_session(digest(sid), user.id, utcnow())
        await self._audit_event(
            user.id,
            "auth.login",
            user,
            {
                "username": user.username,
                "method": "oidc",
                "acr": claims.acr,
                "amr": list(claims.amr),
                "address": address,
            },
        )
        return tokens

    def _groups(self, claims: IdTokenClaims) -> list[str]:
        value = claims.claims.get(self._policy.role_claim, [])
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [str(v) for v in value]
        return []

    async def _provision(self, claims: IdTokenClaims) -> User:
        wanted = str(claims.claims.get(self._policy.username_claim) or claims.claims.get("email") or "")
        username = wanted.strip().lower()[:64]
        if not re.match(USERNAME_PATTERN, username) or len(username) < 3:
            username = f"idp-{digest(claims.subject)[:16]}"
        if await self._users.get_by_username(username) is not None:
            # A local account of that name exists: never merged silently (it could be anyone's).
            raise Conflict(
                f"a local account named {username!r} exists; an admin must link or rename it",
                code="username_taken",
            )
        now = utcnow()
        user = User(
            id=str(uuid.uuid4()),
            username=username,
            display_name=str(claims.claims.get("name") or username)[:200],
            # No local password: the hash of nothing anyone knows, which argon2 never matches.
            password_hash="!oidc",
            roles=[],
            role_sources={},
            idp_groups=[],
            idp_subject=claims.subject,
            active=True,
            created_at=now,
            updated_at=now,
        )
        self._users.add(user)
        await self._users.flush()
        return user

    async def _signing(
        self, pending: OidcLogin, claims: IdTokenClaims, principal: Principal | None
    ) -> Completion:
        user = await self._users.get(pending.user_id or "")
        refusal: str | None = None
        if user is None or not user.active:
            refusal = "the account is gone or deactivated"
        elif principal is not None and principal.user_id != user.id:
            refusal = "the re-authentication was started by another user"
        elif user.idp_subject != claims.subject:
            refusal = "another person authenticated at the identity provider"
        elif (
            claims.auth_time is None
            or (utcnow() - datetime.fromtimestamp(claims.auth_time, UTC)).total_seconds()
            > self._policy.signing_max_age
        ):
            refusal = f"the authentication is older than {self._policy.signing_max_age} seconds; sign again"
        elif self._policy.signing_acr_values and claims.acr not in self._policy.signing_acr_values:
            refusal = f"signing needs an authentication of level {', '.join(self._policy.signing_acr_values)}"
        elif not set(self._policy.signing_amr_values) <= set(claims.amr):
            refusal = f"signing needs authentication by {', '.join(self._policy.signing_amr_values)}"
        if refusal is not None or user is None or claims.auth_time is None or pending.binding is None:
            await self._record_failure(pending, refusal or "incomplete")
            raise IdpRefused(f"the signature was not made: {refusal}", code="signature_failed")
        handle = secrets.token_urlsafe(32)
        now = utcnow()
        self._identity.add(
            SigningReauthentication(
                handle_hash=digest(handle),
                user_id=user.id,
                binding=pending.binding,
                auth_time=datetime.fromtimestamp(claims.auth_time, UTC),
                acr=claims.acr,
                amr=list(claims.amr),
                created_at=now,
                expires_at=now + REAUTH_LIFETIME,
            )
        )
        await self._identity.flush()
        await self._audit_event(
            user.id,
            "auth.signing_reauthenticated",
            user,
            {
                "method": "oidc",
                "binding": pending.binding,
                "acr": claims.acr,
                "amr": list(claims.amr),
                "auth_time": claims.auth_time,
            },
        )
        proof = SigningProof(
            handle=handle, expires_in=int(REAUTH_LIFETIME.total_seconds()), context=pending.context
        )
        return Completion(purpose=SIGNING, proof=proof, context=pending.context)

    async def redeem(self, *, handle: str, user_id: str, binding: str) -> Redeemed:
        """The review service's one use of a re-authentication, for exactly this user and decision."""
        row = await self._identity.redeem_reauthentication(digest(handle), utcnow())
        if row is None:
            raise NotFound("this re-authentication is unknown, was used already or has expired; sign again")
        if row.user_id != user_id or row.binding != binding:
            raise Conflict(
                "this re-authentication was made for another decision or user; sign again",
                code="signature_failed",
            )
        if (utcnow() - row.auth_time).total_seconds() > self._policy.signing_max_age:
            raise Conflict("the authentication is no longer fresh; sign again", code="signature_failed")
        return Redeemed(method="oidc", auth_time=row.auth_time, acr=row.acr, amr=list(row.amr))

    async def backchannel_logout(self, logout_token: str) -> None:
        """The provider ended the user's session: every Clearpost sign-in of theirs ends too (refresh
        tokens revoked, access tokens issued until now refused through the revocation list)."""
        try:
            subject, sid = await self._idp.verify_logout_token(logout_token)
        except IdpRefused as exc:
            await self._auth.audit_login(
                actor="anonymous",
                action="auth.backchannel_logout_refused",
                subject="oidc",
                details={"reason": exc.detail},
            )
            raise
        user = await self._identity.user_by_subject(subject) if subject else None
        by = "sub"
        if user is None and sid:
            # Only the provider's session named: the user who signed in with it (OpenID Connect
            # Back-Channel Logout 1.0 §2.4, `sid`).
            user, by = await self._identity.user_by_idp_session(digest(sid)), "sid"
        if user is None:
            return  # someone, or a session, Clearpost never saw: nothing to end
        now = utcnow()
        revoked = await self._users.revoke_refresh_tokens_of(user.id, now)
        await self._identity.forget_idp_sessions(user.id)
        user.tokens_revoked_at = now
        await self._users.flush()
        await self._audit_event(
            user.id,
            "auth.backchannel_logout",
            user,
            {"refresh_tokens_revoked": revoked, "via": "idp", "by": by},
        )

    async def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        endpoint = await self._idp.end_session_endpoint()
        if endpoint is None:
            return None
        return self._idp.end_session_url(
            endpoint, post_logout_redirect_uri=post_logout_redirect_uri, id_token_hint=None
        )

    async def _record_failure(self, pending: OidcLogin, reason: str) -> None:
        action = "auth.signing_reauthentication_failed" if pending.purpose == SIGNING else "auth.login_failed"
        await self._auth.audit_login(
            actor=pending.user_id or "anonymous",
            action=action,
            subject=f"user:{pending.user_id}" if pending.user_id else "oidc",
            details={"reason": reason, "method": "oidc"},
        )

    async def _record(self, actor: str, action: str, user: User, details: dict[str, Any]) -> None:
        # An account change must leave a trace: if the audit log cannot take it, the sign-in fails
        # and the request's unit of work rolls back.
        await self._audit.append(actor=actor, action=action, subject=f"user:{user.id}", details=details)

    async def _audit_event(self, actor: str, action: str, user: User, details: dict[str, Any]) -> None:
        await self._auth.audit_login(actor=actor, action=action, subject=f"user:{user.id}", details=details)

"""Connecting an account through the browser: OAuth 2.0 authorization code with PKCE (S256).

`start` (an admin, `GET /api/v1/channel-accounts/{network}/authorize`) keeps a one-time `state`
(stored as its SHA-256) with the sealed code verifier, the account name and the target (the page
or organization to post as), valid ten minutes, and answers the network's authorization URL.
The network sends the browser back to `GET /api/v1/channel-accounts/{network}/callback` with
`code` and `state`; `finish` takes the state once, exchanges the code with the verifier (authlib's
OAuth 2.0 client), asks the adapter which account the grant posts as, checks it with the network
and keeps it sealed. Every step is audited; tokens never are.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from authlib.integrations.base_client.errors import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.errors import BadRequest, Conflict, UpstreamUnavailable
from services.kit.sealing import FieldSealer
from services.kit.tokens import Principal
from services.publisher.accounts import DISCONNECTED, AccountService, check_name
from services.publisher.channels import ChannelRejected, ChannelUnavailable
from services.publisher.models import ChannelAccount, OAuthState
from services.publisher.networks.base import NetworkAdapter, OAuthNetwork
from services.publisher.repository import AccountRepository

STATE_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class OAuthClient:
    """This deployment's app registration with one network."""

    client_id: str
    client_secret: str = field(repr=False)


def callback_path(network: str) -> str:
    return f"/api/v1/channel-accounts/{network}/callback"


class OAuthFlow:
    def __init__(
        self,
        session: AsyncSession,
        *,
        adapters: Mapping[str, NetworkAdapter],
        clients: Mapping[str, OAuthClient],
        sealer: FieldSealer,
        accounts: AccountService,
        audit: AuditRecorder,
        public_url: str,
        timeout_seconds: float = 15.0,
    ) -> None:
        self._repository = AccountRepository(session)
        self._adapters = adapters
        self._clients = clients
        self._sealer = sealer
        self._accounts = accounts
        self._audit = audit
        self._public_url = public_url.rstrip("/")
        self._timeout = timeout_seconds

    def _oauth(self, network: str) -> tuple[OAuthNetwork, OAuthClient]:
        adapter = self._adapters.get(network)
        if not isinstance(adapter, OAuthNetwork):
            raise BadRequest(
                f"{network} accounts do not connect through the browser"
                + ("" if adapter is None else "; POST /api/v1/channel-accounts with their credentials"),
                code="not_oauth",
            )
        client = self._clients.get(network)
        if client is None:
            raise BadRequest(
                f"no {network} app is registered for this deployment: set CLEARPOST_PUBLISHER_NETWORKS "
                f'{{"{network}": {{"client_id": ..., "client_secret_file": ...}}}} (docs/channels.md)',
                code="oauth_not_configured",
            )
        return adapter, client

    def redirect_uri(self, network: str) -> str:
        return f"{self._public_url}{callback_path(network)}"

    async def start(
        self, network: str, name: str, target: str | None, principal: Principal
    ) -> tuple[str, datetime]:
        adapter, client = self._oauth(network)
        check_name(name)
        existing = await self._repository.by_name(name)
        if existing is not None and existing.status != DISCONNECTED:
            raise Conflict(f"a channel account named {name!r} exists", code="account_exists")
        endpoints = adapter.oauth_endpoints()
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        redirect_uri = self.redirect_uri(network)
        async with self._client(client, endpoints.scopes, redirect_uri, endpoints.token_auth) as oauth:
            url, _ = oauth.create_authorization_url(
                endpoints.authorize_url, state=state, code_verifier=verifier if endpoints.pkce else None
            )
        now = utcnow()
        state_hash = hashlib.sha256(state.encode()).hexdigest()
        self._repository.add_state(
            OAuthState(
                state_hash=state_hash,
                network=network,
                name=name,
                target=target,
                verifier=self._sealer.seal(verifier.encode(), context=f"publisher.oauth_states:{state_hash}"),
                redirect_uri=redirect_uri,
                created_by=principal.user_id,
                created_at=now,
                expires_at=now + STATE_LIFETIME,
                used_at=None,
            )
        )
        await self._repository.flush()
        await self._audit.append(
            actor=principal,
            action="channel_account.authorization_started",
            subject=f"channel_account:{name}",
            details={"network": network, "target": target, "scopes": list(endpoints.scopes)},
        )
        return str(url), now + STATE_LIFETIME

    async def finish(
        self, network: str, *, code: str | None, state: str, error: str | None
    ) -> ChannelAccount:
        state_hash = hashlib.sha256(state.encode()).hexdigest()
        pending = await self._repository.take_state(state_hash, now=utcnow())
        if pending is None or pending.network != network:
            raise Conflict(
                "this authorization is unknown, was used already or has expired; start again",
                code="invalid_state",
            )
        if error or not code:
            await self._audit.append(
                actor=pending.created_by,
                action="channel_account.authorization_refused",
                subject=f"channel_account:{pending.name}",
                details={"network": network, "error": (error or "no code")[:200]},
            )
            raise BadRequest(
                f"{network} did not authorize the account: {error or 'no code'}", code="oauth_refused"
            )
        adapter, client = self._oauth(network)
        endpoints = adapter.oauth_endpoints()
        verifier = self._sealer.open(
            pending.verifier, context=f"publisher.oauth_states:{state_hash}"
        ).decode()
        try:
            async with self._client(
                client, endpoints.scopes, pending.redirect_uri, endpoints.token_auth
            ) as oauth:
                token: Mapping[str, Any] = await oauth.fetch_token(
                    endpoints.token_url, code=code, code_verifier=verifier if endpoints.pkce else None
                )
        except (OAuthError, ValueError) as exc:
            raise BadRequest(
                f"{network} refused the authorization code: {exc}", code="oauth_refused"
            ) from exc
        try:
            credentials = await adapter.account_from_grant(pending.name, dict(token), target=pending.target)
        except (ChannelRejected, ValueError) as exc:
            # e.g. the target is not a page this user manages: the admin's mistake, not a crash.
            await self._audit.append(
                actor=pending.created_by,
                action="channel_account.authorization_refused",
                subject=f"channel_account:{pending.name}",
                details={"network": network, "error": str(exc)[:200]},
            )
            raise BadRequest(
                f"the {network} account could not be connected: {exc}", code="account_refused"
            ) from exc
        except ChannelUnavailable as exc:
            raise UpstreamUnavailable(f"{network} did not answer; try again: {exc}") from exc
        return await self._accounts.connect(credentials, pending.created_by)

    def _client(
        self, client: OAuthClient, scopes: tuple[str, ...], redirect_uri: str, token_auth: str
    ) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=client.client_id,
            client_secret=client.client_secret,
            scope=" ".join(scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=token_auth,
            timeout=self._timeout,
            trust_env=False,
            follow_redirects=False,
        )

"""Channel accounts: connect, list with their state, check, refresh, disconnect.

An admin connects an account per network under a unique `name`, which drafts then name in
`channels`. Credentials are sealed at rest (AES-256-GCM, the publisher's key ring; the AAD names the
account row and network, so a value copied to another row does not open), opened in memory for one
call, refreshed before they expire, and never logged, returned, audited or put into Temporal.
Every connect, state change and disconnect is audited.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.errors import BadRequest, Conflict, NotFound
from services.kit.sealing import FieldSealer
from services.kit.tokens import Principal
from services.publisher.channels import ChannelConfigError, ChannelUnavailable
from services.publisher.models import ChannelAccount
from services.publisher.networks.base import (
    ACCOUNT_EXPIRED,
    ACCOUNT_OK,
    ACCOUNT_REVOKED,
    AccountCheck,
    AccountCredentials,
    CredentialsRejected,
    NetworkAdapter,
    OAuthNetwork,
)
from services.publisher.networks.http import checked_base_url
from services.publisher.repository import AccountRepository

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
DISCONNECTED = "disconnected"
# Networks connected with credentials an admin pastes in; the others go through the browser.
DIRECT_NETWORKS = ("mastodon", "bluesky", "sandbox", "webhook")
LOCAL_NETWORKS = ("sandbox", "webhook")
# Facts about an account that are not secret and are shown in the UI.
PUBLIC_FACTS = ("max_characters", "username", "handle")
REFRESH_AHEAD = timedelta(minutes=5)


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise BadRequest(
            "an account name is 1-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            code="invalid_account_name",
        )
    return name


class CredentialSeal:
    """The sealed JSON of one account's secrets; the AAD binds it to the account row and network."""

    def __init__(self, sealer: FieldSealer) -> None:
        self._sealer = sealer

    @staticmethod
    def _context(account_id: str, network: str) -> str:
        return f"publisher.channel_accounts.credentials:{account_id}:{network}"

    def seal(self, account_id: str, network: str, secrets: Mapping[str, Any]) -> bytes:
        return self._sealer.seal_json(dict(secrets), context=self._context(account_id, network))

    def open(self, account_id: str, network: str, sealed: bytes) -> dict[str, Any]:
        opened: dict[str, Any] = self._sealer.open_json(sealed, context=self._context(account_id, network))
        return opened


def secrets_of(credentials: AccountCredentials) -> dict[str, Any]:
    return {
        "access_token": credentials.access_token,
        "refresh_token": credentials.refresh_token,
        "app_password": credentials.app_password,
        "settings": dict(credentials.settings),
    }


class AccountService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        seal: CredentialSeal,
        adapters: Mapping[str, NetworkAdapter],
        audit: AuditRecorder,
        default_base_urls: Mapping[str, str],
    ) -> None:
        self._session = session
        self._repository = AccountRepository(session)
        self._seal = seal
        self._adapters = adapters
        self._audit = audit
        self._base_urls = default_base_urls

    # --- reading -------------------------------------------------------------------------------

    async def list(self) -> Sequence[ChannelAccount]:
        return await self._repository.list()

    async def get(self, name: str) -> ChannelAccount:
        account = await self._repository.by_name(name)
        if account is None or account.status == DISCONNECTED:
            raise NotFound(f"there is no connected channel account named {name!r}", code="unknown_account")
        return account

    def credentials(self, account: ChannelAccount) -> AccountCredentials:
        """The account's credentials, opened for one call."""
        if account.credentials is None:
            raise Conflict(f"channel account {account.name!r} is disconnected", code="account_disconnected")
        secrets = self._seal.open(account.id, account.network, account.credentials)
        return AccountCredentials(
            network=account.network,
            name=account.name,
            base_url=account.base_url,
            access_token=secrets.get("access_token"),
            refresh_token=secrets.get("refresh_token"),
            expires_at=account.expires_at,
            identifier=secrets.get("identifier") or account.display_name,
            app_password=secrets.get("app_password"),
            account_ref=account.account_ref,
            scopes=tuple(account.scopes),
            settings={**account.facts, **(secrets.get("settings") or {})},
        )

    # --- connecting ----------------------------------------------------------------------------

    def base_url_for(self, network: str, given: str | None) -> str:
        if network in ("mastodon", "webhook") and not given:
            raise BadRequest(
                f"a {network} account needs `base_url` (its instance or endpoint)", code="base_url"
            )
        url = given or self._base_urls.get(network, "")
        if network == "sandbox":
            return "sandbox:"
        try:
            return checked_base_url(url, what=f"the {network} base_url")
        except ChannelConfigError as exc:
            raise BadRequest(str(exc), code="base_url") from exc

    async def connect(
        self,
        credentials: AccountCredentials,
        actor: Principal | str,
        *,
        secrets: Mapping[str, Any] | None = None,
        replace_existing: bool = False,
    ) -> ChannelAccount:
        """Check the credentials with the network, then keep them sealed under the account's name.
        A name taken by a connected account is a conflict; a disconnected one is reused."""
        check_name(credentials.name)
        existing = await self._repository.by_name(credentials.name)
        if existing is not None and existing.status != DISCONNECTED and not replace_existing:
            raise Conflict(f"a channel account named {credentials.name!r} exists", code="account_exists")
        if (
            existing is not None
            and existing.network != credentials.network
            and existing.status != DISCONNECTED
        ):
            raise Conflict(f"{credentials.name!r} is a {existing.network} account", code="account_exists")
        check = await self._check(credentials)
        if check.status != ACCOUNT_OK:
            raise BadRequest(
                f"the {credentials.network} account could not be connected: {check.status}"
                + (f" ({check.reason})" if check.reason else ""),
                code="account_refused",
            )
        effective = check.renewed or credentials
        now = utcnow()
        account = existing or ChannelAccount(id=str(uuid.uuid4()), name=credentials.name)
        account.network = credentials.network
        account.base_url = credentials.base_url
        account.connected_by = actor.user_id if isinstance(actor, Principal) else actor
        account.connected_at = now
        account.disconnected_at = None
        self._apply(account, effective, check, now, secrets=secrets)
        if existing is None:
            self._repository.add(account)
        await self._repository.flush()
        await self._audit.append(
            actor=actor,
            action="channel_account.connected",
            subject=f"channel_account:{account.name}",
            details={
                "network": account.network,
                "base_url": account.base_url,
                "account_ref": account.account_ref,
                "scopes": account.scopes,
            },
        )
        return account

    def _apply(
        self,
        account: ChannelAccount,
        credentials: AccountCredentials,
        check: AccountCheck,
        now: datetime,
        *,
        secrets: Mapping[str, Any] | None = None,
    ) -> None:
        settings = {**dict(credentials.settings), **dict(check.settings)}
        sealed = {**secrets_of(replace(credentials, settings=settings)), **(secrets or {})}
        if credentials.identifier:
            sealed["identifier"] = credentials.identifier
        account.credentials = self._seal.seal(account.id, account.network, sealed)
        account.account_ref = check.account_ref or credentials.account_ref
        account.display_name = check.display_name or credentials.identifier or account.display_name
        account.scopes = list(check.scopes or credentials.scopes)
        account.facts = {k: str(v) for k, v in settings.items() if k in PUBLIC_FACTS}
        account.expires_at = credentials.expires_at
        account.status = check.status
        account.status_reason = check.reason
        account.checked_at = now

    async def _check(self, credentials: AccountCredentials) -> AccountCheck:
        if credentials.network in LOCAL_NETWORKS:
            return AccountCheck(status=ACCOUNT_OK)
        adapter = self._adapter(credentials.network)
        return await adapter.check_account(credentials)

    def _adapter(self, network: str) -> NetworkAdapter:
        adapter = self._adapters.get(network)
        if adapter is None:
            raise BadRequest(
                f"network {network!r} is not configured on this publisher", code="unknown_network"
            )
        return adapter

    # --- keeping accounts usable ---------------------------------------------------------------

    async def usable_credentials(self, account: ChannelAccount) -> AccountCredentials:
        """Credentials for a post now: refreshed first when they expire within five minutes."""
        credentials = self.credentials(account)
        adapter = self._adapters.get(account.network)
        expiring = account.expires_at is not None and account.expires_at - utcnow() < REFRESH_AHEAD
        if expiring and isinstance(adapter, OAuthNetwork) and credentials.refresh_token:
            try:
                renewed = await adapter.refresh(credentials)
            except CredentialsRejected as exc:
                await self._set_status(account, ACCOUNT_EXPIRED if exc.expired else ACCOUNT_REVOKED, str(exc))
                raise
            self._apply(account, renewed, AccountCheck(status=ACCOUNT_OK), utcnow())
            await self._repository.flush()
            await self._audit.append(
                actor="system:publisher",
                action="channel_account.refreshed",
                subject=f"channel_account:{account.name}",
                details={"expires_at": renewed.expires_at.isoformat() if renewed.expires_at else None},
            )
            return renewed
        return credentials

    async def check(self, account: ChannelAccount) -> ChannelAccount:
        """Ask the network about the account now and record (and audit) a changed state."""
        try:
            credentials = await self.usable_credentials(account)
            check = await self._check(credentials)
        except ChannelUnavailable as exc:
            await self._set_status(account, "unreachable", str(exc))
            return account
        except CredentialsRejected:
            return account
        before = account.status
        self._apply(account, check.renewed or credentials, check, utcnow())
        await self._repository.flush()
        if before != account.status:
            await self._audit_status(account, before)
        return account

    async def record_refusal(self, account: ChannelAccount, exc: Exception) -> None:
        """A network refused the account's credentials while posting: the account shows it."""
        if isinstance(exc, CredentialsRejected):
            await self._set_status(account, ACCOUNT_EXPIRED if exc.expired else ACCOUNT_REVOKED, str(exc))

    async def _set_status(self, account: ChannelAccount, status: str, reason: str) -> None:
        before = account.status
        account.status, account.status_reason, account.checked_at = status, reason[:500], utcnow()
        await self._repository.flush()
        if before != status:
            await self._audit_status(account, before)

    async def _audit_status(self, account: ChannelAccount, before: str) -> None:
        await self._audit.append(
            actor="system:publisher",
            action="channel_account.status_changed",
            subject=f"channel_account:{account.name}",
            details={"from": before, "to": account.status, "reason": account.status_reason},
        )

    async def disconnect(self, name: str, principal: Principal) -> ChannelAccount:
        account = await self.get(name)
        account.credentials = None
        account.status, account.status_reason = DISCONNECTED, f"disconnected by {principal.username}"
        account.disconnected_at = utcnow()
        await self._repository.flush()
        await self._audit.append(
            actor=principal,
            action="channel_account.disconnected",
            subject=f"channel_account:{account.name}",
            details={"network": account.network},
        )
        return account

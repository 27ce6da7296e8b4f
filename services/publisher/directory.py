"""Every channel a draft may name: the deployment's configured channels (`sandbox`, `webhook`) and
the connected channel accounts, by name, with the state that decides whether they can be used."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher.account_channel import AccountChannel
from services.publisher.accounts import DISCONNECTED, AccountService
from services.publisher.channels import Channel, SandboxChannel, WebhookChannel, WebhookConfig
from services.publisher.models import ChannelAccount
from services.publisher.networks.base import ACCOUNT_OK, NetworkAdapter
from services.publisher.pauses import ALL
from services.publisher.repository import AccountRepository, PauseRepository


@dataclass(frozen=True)
class ChannelEntry:
    """One channel as `GET /api/v1/channels` shows it."""

    name: str
    network: str
    max_length: int
    unit: str
    status: str
    reason: str
    paused: bool
    fold: int | None = None

    @property
    def usable(self) -> bool:
        return self.status == ACCOUNT_OK and not self.paused


class UnknownChannels(LookupError):
    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(", ".join(names))
        self.names = list(names)


class ChannelDirectory:
    def __init__(
        self,
        configured: Mapping[str, Channel],
        sessionmaker: async_sessionmaker[AsyncSession],
        adapters: Mapping[str, NetworkAdapter],
        accounts: Callable[[AsyncSession], AccountService],
        *,
        outbox_dir: Path,
        media_url: Callable[[str], str | None] = lambda digest: None,
    ) -> None:
        self.configured = configured
        self._sessionmaker = sessionmaker
        self._adapters = adapters
        self._accounts = accounts
        self._outbox = outbox_dir
        self._media_url = media_url

    async def resolve(self, names: Sequence[str]) -> dict[str, Channel]:
        """The channels by name, configured ones first; UnknownChannels names any missing."""
        found: dict[str, Channel] = {name: self.configured[name] for name in names if name in self.configured}
        wanted = [name for name in names if name not in found]
        if wanted:
            async with self._sessionmaker() as session:
                service = self._accounts(session)
                for name in wanted:
                    account = await AccountRepository(session).by_name(name)
                    if account is None or account.status == DISCONNECTED or account.credentials is None:
                        continue
                    found[name] = self._channel_for(account, service)
        missing = [name for name in names if name not in found]
        if missing:
            raise UnknownChannels(missing)
        return {name: found[name] for name in names}

    def _channel_for(self, account: ChannelAccount, service: AccountService) -> Channel:
        if account.network == "sandbox":
            return SandboxChannel(self._outbox, name=account.name)
        if account.network == "webhook":
            secret = service.credentials(account).settings.get("secret", "")
            config = WebhookConfig(url=account.base_url, secret=secret.encode())
            return WebhookChannel(config, self._outbox, name=account.name)
        adapter = self._adapters[account.network]
        limits = adapter.limits(service.credentials(account))
        return AccountChannel(
            account.name, adapter, limits, self._sessionmaker, self._accounts, media_url=self._media_url
        )

    async def entries(self) -> list[ChannelEntry]:
        """Every channel a draft may name now, with its state (disconnected accounts left out)."""
        async with self._sessionmaker() as session:
            paused = {p.scope for p in await PauseRepository(session).active()}
            accounts = [a for a in await AccountRepository(session).list() if a.status != DISCONNECTED]
            service = self._accounts(session)
            entries = [
                ChannelEntry(
                    name=channel.name,
                    network=channel.name,
                    max_length=channel.max_length,
                    unit="characters",
                    status=ACCOUNT_OK,
                    reason="",
                    paused=ALL in paused or channel.name in paused,
                )
                for channel in self.configured.values()
            ]
            for account in accounts:
                if account.name in self.configured:
                    continue
                max_length, unit, fold = 5000, "characters", None
                adapter = self._adapters.get(account.network)
                if adapter is not None and account.credentials is not None:
                    limits = adapter.limits(service.credentials(account))
                    max_length, unit, fold = limits.max_length, limits.unit, limits.fold
                entries.append(
                    ChannelEntry(
                        name=account.name,
                        network=account.network,
                        max_length=max_length,
                        unit=unit,
                        status=account.status,
                        reason=account.status_reason,
                        paused=ALL in paused or account.name in paused,
                        fold=fold,
                    )
                )
        return entries


async def blocking_pauses(session: AsyncSession, channels: Sequence[str]) -> list[str]:
    """Why these channels may not be posted to now (one line per active pause), or nothing."""
    pauses = await PauseRepository(session).active([ALL, *channels])
    return [
        ("all publishing is paused" if p.scope == ALL else f"{p.scope} is paused") + f": {p.reason}"
        for p in pauses
    ]

"""A connected network account as a publishing channel: the adapter, its credentials and its
checkpoints, behind the same `Channel` interface the sandbox and webhook channels have.

Posting, at most once:
1. a retry (a first attempt is on record) asks the adapter's `find` before anything is sent;
2. otherwise the first attempt's time is committed, then the adapter posts (with the network's own
   idempotency where it has one);
3. the network's id and URL are committed as checkpoints, which `already_posted` reads.
An ambiguous answer (a timeout after sending) is raised as ChannelUnavailable: Temporal retries
the activity, and step 1 finds the post instead of making a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.clock import utcnow
from services.publisher.accounts import AccountService
from services.publisher.channels import OutgoingPost
from services.publisher.networks.base import (
    AccountCredentials,
    CredentialsRejected,
    NetworkAdapter,
    NetworkLimits,
    PostRequest,
)
from services.publisher.repository import CheckpointRepository

FIRST_ATTEMPT = "attempt.first_at"
POSTED_ID = "posted.external_id"
POSTED_URL = "posted.url"
# How far before the first attempt `find` looks, for clocks that disagree a little.
CLOCK_SKEW = timedelta(minutes=2)


class DatabaseCheckpoints:
    """One publication's checkpoints; each `put` is committed before it returns."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], publication_id: str) -> None:
        self._sessionmaker = sessionmaker
        self._publication_id = publication_id

    async def get(self, key: str) -> str | None:
        async with self._sessionmaker() as session:
            return await CheckpointRepository(session).get(self._publication_id, key)

    async def put(self, key: str, value: str) -> None:
        async with self._sessionmaker() as session, session.begin():
            await CheckpointRepository(session).put(self._publication_id, key, value, now=utcnow())


def idempotency_key(publication_id: str) -> str:
    """What the network deduplicates on (Mastodon's Idempotency-Key, Bluesky's record key...)."""
    return f"clearpost-{publication_id}"


class AccountChannel:
    def __init__(
        self,
        name: str,
        adapter: NetworkAdapter,
        limits: NetworkLimits,
        sessionmaker: async_sessionmaker[AsyncSession],
        accounts: Callable[[AsyncSession], AccountService],
        *,
        media_url: Callable[[str], str | None] = lambda digest: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self.network = adapter.network
        self.limits = limits
        self._adapter = adapter
        self._sessionmaker = sessionmaker
        self._accounts = accounts
        self._media_url = media_url
        self._clock = clock

    @property
    def max_length(self) -> int:
        return self.limits.max_length

    def measure(self, text: str) -> int:
        return self.limits.measure(text)

    async def already_posted(self, publication_id: str) -> str | None:
        return await DatabaseCheckpoints(self._sessionmaker, publication_id).get(POSTED_ID)

    async def url_of(self, publication_id: str) -> str | None:
        return await DatabaseCheckpoints(self._sessionmaker, publication_id).get(POSTED_URL)

    async def post(self, publication: OutgoingPost) -> str:
        checkpoints = DatabaseCheckpoints(self._sessionmaker, publication.publication_id)
        done = await checkpoints.get(POSTED_ID)
        if done is not None:
            return done
        urls = {item.digest: url for item in publication.media if (url := self._media_url(item.digest))}
        request = PostRequest(
            publication_id=publication.publication_id,
            idempotency_key=idempotency_key(publication.publication_id),
            text=publication.body,
            media=publication.media,
            media_urls=urls,
        )
        credentials = await self._credentials()
        first = await checkpoints.get(FIRST_ATTEMPT)
        try:
            posted = None
            if first is not None:
                since = datetime.fromisoformat(first) - CLOCK_SKEW
                posted = await self._adapter.find(credentials, request, checkpoints, since=since)
            else:
                await checkpoints.put(FIRST_ATTEMPT, self._clock().isoformat())
            if posted is None:
                posted = await self._adapter.post(credentials, request, checkpoints)
        except CredentialsRejected as exc:
            await self._refused(exc)
            raise
        if posted.url:
            await checkpoints.put(POSTED_URL, posted.url)
        await checkpoints.put(POSTED_ID, posted.external_id)
        return posted.external_id

    async def remove(self, publication_id: str, external_id: str) -> dict[str, object]:
        credentials = await self._credentials()
        try:
            deleted = await self._adapter.delete(credentials, external_id)
        except CredentialsRejected as exc:
            await self._refused(exc)
            raise
        return {
            "channel": self.name,
            "network": self.network,
            "external_id": deleted.external_id,
            "status_code": deleted.status_code,
            "answer": deleted.answer[:500],
            "already_gone": deleted.already_gone,
            "removed_at": self._clock().isoformat(),
        }

    async def _credentials(self) -> AccountCredentials:
        async with self._sessionmaker() as session, session.begin():
            service = self._accounts(session)
            account = await service.get(self.name)
            return await service.usable_credentials(account)

    async def _refused(self, exc: CredentialsRejected) -> None:
        async with self._sessionmaker() as session, session.begin():
            service = self._accounts(session)
            await service.record_refusal(await service.get(self.name), exc)

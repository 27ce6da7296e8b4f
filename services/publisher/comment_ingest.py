"""Reading the comments under everything an account published, each once, nothing skipped.

For each of the account's live publications the adapter is asked for the page after the stored
cursor (`CommentReader.comments`); the comments of that page and the cursor after it are committed
in one transaction, page by page. So a crash, a network error or a spent rate limit between two
pages loses nothing and reads nothing twice: the next poll starts at the last committed cursor, and
the unique (publication, network id) constraint is the backstop if a network repeats an item.
A spent rate limit (`RateLimited`) stops the round and says until when to wait; a network error
on one post is noted and the others are still read. Text is sealed at rest (AAD names the row).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.clock import utcnow
from services.kit.errors import ClearpostError
from services.kit.sealing import FieldSealer
from services.publisher.channels import ChannelError
from services.publisher.comment_repository import CommentRepository
from services.publisher.models import Comment, Publication
from services.publisher.networks.base import (
    AccountCredentials,
    CommentReader,
    NetworkAdapter,
    NetworkUnavailable,
    RateLimited,
)

MAX_PAGES_PER_POST = 20  # per poll; the cursor carries the rest to the next poll


class CommentSeal:
    """A comment's text sealed with the publisher's key ring, bound to the comment's row."""

    def __init__(self, sealer: FieldSealer) -> None:
        self._sealer = sealer

    @staticmethod
    def _context(comment_id: str) -> str:
        return f"publisher.comments.text:{comment_id}"

    def seal(self, comment_id: str, text: str) -> bytes:
        return self._sealer.seal(text.encode(), context=self._context(comment_id))

    def open(self, comment: Comment) -> str:
        return self._sealer.open(comment.text_sealed, context=self._context(comment.id)).decode()


@dataclass(frozen=True)
class ReadComment:
    comment_id: str
    network: str
    read_at: datetime


@dataclass
class IngestRound:
    """What one poll of one account read: the new comments, until when a rate limit holds the next
    read (None: not limited), and the posts a network error kept from being read this time."""

    comments: list[ReadComment] = field(default_factory=list)
    retry_at: datetime | None = None
    unreadable: dict[str, str] = field(default_factory=dict)


CredentialsFor = Callable[[str], Awaitable[AccountCredentials]]


class CommentIngest:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        adapters: Mapping[str, NetworkAdapter],
        credentials: CredentialsFor,
        seal: CommentSeal,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_pages: int = MAX_PAGES_PER_POST,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._adapters = adapters
        self._credentials = credentials
        self._seal = seal
        self._clock = clock
        self._max_pages = max_pages

    async def read_account(self, account: str) -> IngestRound:
        async with self._sessionmaker() as session:
            publications = list(await CommentRepository(session).live_publications(account))
        outcome = IngestRound()
        readable: list[tuple[Publication, CommentReader]] = []
        for publication in publications:
            adapter = self._adapters.get(publication.network or "")
            if isinstance(adapter, CommentReader):  # any adapter that reads comments, all alike
                readable.append((publication, adapter))
        if not readable:
            return outcome
        try:
            credentials = await self._credentials(account)
        except (ChannelError, ClearpostError) as exc:  # disconnected, expired: read again once fixed
            outcome.unreadable[account] = str(exc)[:300]
            return outcome
        for publication, reader in readable:
            try:
                await self._read_publication(publication, reader, credentials, outcome)
            except RateLimited as exc:
                outcome.retry_at = datetime.fromtimestamp(exc.retry_at, self._clock().tzinfo)
                return outcome
            except (NetworkUnavailable, ChannelError) as exc:
                outcome.unreadable[publication.id] = str(exc)[:300]
        return outcome

    async def _read_publication(
        self,
        publication: Publication,
        adapter: CommentReader,
        credentials: AccountCredentials,
        outcome: IngestRound,
    ) -> None:
        assert publication.external_id is not None and publication.network is not None
        for _page in range(self._max_pages):
            async with self._sessionmaker() as session:
                cursor = await CommentRepository(session).cursor(publication.id)
            page = await adapter.comments(credentials, publication.external_id, cursor=cursor)
            now = self._clock()
            async with self._sessionmaker() as session, session.begin():
                repo = CommentRepository(session)
                known = await repo.known_ids(publication.id, [r.external_id for r in page.replies])
                for reply in page.replies:
                    if reply.external_id in known:
                        continue
                    known.add(reply.external_id)
                    comment_id = str(uuid.uuid4())
                    repo.add(
                        Comment(
                            id=comment_id,
                            network=publication.network,
                            account=publication.channel,
                            publication_id=publication.id,
                            draft_id=publication.draft_id,
                            post_external_id=publication.external_id,
                            external_id=reply.external_id,
                            in_reply_to=reply.in_reply_to,
                            author=reply.author[:200],
                            url=reply.url,
                            text_sealed=self._seal.seal(comment_id, reply.text),
                            created_at=reply.created_at,
                            read_at=now,
                            categories=[],
                        )
                    )
                    outcome.comments.append(ReadComment(comment_id, publication.network, now))
                await repo.set_cursor(publication.id, page.cursor, now=now)
            if not page.more:
                return

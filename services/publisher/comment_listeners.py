"""Which accounts are listened to: every connected account on a network whose adapter reads
comments (`CommentReader`) gets its CommentIngestWorkflow, started when the publisher's worker
starts and by `POST /api/v1/comments/listen` (an account connected since). One already running
is kept, so this is safe to repeat."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.errors import ClearpostError
from services.publisher.networks.base import CommentReader, NetworkAdapter
from services.publisher.repository import AccountRepository
from workflows.comment_client import CommentWorkflowClient

log = logging.getLogger("clearpost.publisher.comments")


async def listen_to_accounts(
    workflows: CommentWorkflowClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    adapters: Mapping[str, NetworkAdapter],
    *,
    poll_seconds: int,
) -> list[str]:
    """The accounts now listened to (none when polling is off)."""
    if poll_seconds <= 0:
        return []
    async with sessionmaker() as session:
        accounts = await AccountRepository(session).list()
    listened: list[str] = []
    for account in accounts:
        if account.disconnected_at is not None or not isinstance(
            adapters.get(account.network), CommentReader
        ):
            continue
        try:
            await workflows.listen(account.name, poll_seconds=poll_seconds)
        except ClearpostError as exc:  # the engine is down: the next start (or /listen) tries again
            log.warning("comment listener not started", extra={"account": account.name, "why": exc.detail})
            continue
        listened.append(account.name)
    return listened

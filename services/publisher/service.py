from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.tokens import Principal
from services.publisher.drafts_client import DraftReadRule
from services.publisher.models import PENDING, Publication
from services.publisher.repository import PublicationRepository


class ContentHashConflict(Conflict):
    code = "content_hash_conflict"


class PublicationService:
    def __init__(self, session: AsyncSession, *, drafts: DraftReadRule | None = None) -> None:
        self._repository = PublicationRepository(session)
        self._drafts = drafts

    async def list_for_draft(self, draft_id: str, principal: Principal) -> Sequence[Publication]:
        """The draft's publication records, for whoever may read the draft. Who that is comes from
        the drafts service (its author, its reader roles), never from the caller."""
        if self._drafts is None:
            raise RuntimeError("listing publications needs the drafts service's read rule")
        readers = await self._drafts.readers(draft_id)
        if readers.author_id != principal.user_id and not principal.has_any(*readers.reader_roles):
            raise Forbidden("only the author and reviewing staff may see this draft's publications")
        return await self._repository.list_for_draft(draft_id)

    async def find(self, *, draft_id: str, version: int, channel: str) -> Publication | None:
        return await self._repository.get_for(draft_id, version, channel)

    async def open_pending(
        self, *, draft_id: str, version: int, channel: str, content_hash: str, now: datetime
    ) -> Publication:
        """The publication of this version on this channel: the existing one, or a new pending one.

        Two callers racing here both insert; the unique constraint rejects one at flush
        (IntegrityError) and that caller reads the winner's row in a fresh transaction.
        """
        publication = await self._repository.get_for(draft_id, version, channel)
        if publication is None:
            publication = Publication(
                id=str(uuid.uuid4()),
                draft_id=draft_id,
                version=version,
                channel=channel,
                content_hash=content_hash,
                status=PENDING,
                external_id=None,
                created_at=now,
                published_at=None,
            )
            self._repository.add(publication)
            await self._repository.flush()
        self.ensure_hash(publication, content_hash)
        return publication

    @staticmethod
    def ensure_hash(publication: Publication, content_hash: str) -> None:
        if publication.content_hash != content_hash:
            raise ContentHashConflict(
                f"publication {publication.id} of draft {publication.draft_id} v{publication.version} "
                f"on {publication.channel} is bound to content hash {publication.content_hash}, "
                f"not {content_hash}"
            )

    async def mark_published(
        self,
        publication_id: str,
        *,
        external_id: str,
        now: datetime,
        url: str | None = None,
        network: str | None = None,
    ) -> Publication:
        await self._repository.mark_published(publication_id, external_id=external_id, at=now)
        if url is not None or network is not None:
            await self._repository.set_url(publication_id, url, network)
        publication = await self._repository.get(publication_id)
        if publication is None:
            raise NotFound(f"publication {publication_id} does not exist")
        return publication

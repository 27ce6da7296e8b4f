"""Images of a draft: the author adds, describes and removes them (each change is a new version,
so approvals are bound to the exact images), reviewers read them, the publisher fetches them."""

from __future__ import annotations

from services.drafts.media import MediaRejected, detect_faces, off_loop, sanitize_image
from services.drafts.media_store import MediaStore
from services.drafts.models import Draft, DraftMedia, DraftVersion
from services.drafts.schemas import (
    DraftOut,
    MediaOut,
    MediaPatch,
)
from services.drafts.service import EDITABLE, DraftService, _media_out
from services.kit.clock import utcnow
from services.kit.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    UpstreamUnavailable,
)
from services.kit.tokens import Principal

MAX_MEDIA_PER_VERSION = 10


class DraftMediaService(DraftService):
    """The draft's images, with the draft rules of DraftService (who may edit or read it)."""

    async def _editable_by_author(self, draft_id: str, principal: Principal) -> tuple[Draft, DraftVersion]:
        draft = await self._load(draft_id, for_update=True)
        if draft.author_id != principal.user_id:
            raise Forbidden("only the draft's author may change it")
        if draft.status not in EDITABLE:
            raise Conflict(f"a draft in status {draft.status!r} cannot be changed", code="not_editable")
        version = await self._repo.get_version(draft.id, draft.current_version)
        assert version is not None
        return draft, version

    def _store(self) -> MediaStore:
        if self._media_store is None:
            raise UpstreamUnavailable("the media store is not configured")
        return self._media_store

    async def add_media(
        self,
        draft_id: str,
        raw: bytes,
        principal: Principal,
        *,
        staff_stock: bool = False,
        consent_id: str | None = None,
    ) -> DraftOut:
        """Sanitize an image, store it, find faces, and make a new version that carries it."""
        draft, current = await self._editable_by_author(draft_id, principal)
        if len(current.media_digests) >= MAX_MEDIA_PER_VERSION:
            raise Conflict(f"a draft carries at most {MAX_MEDIA_PER_VERSION} images", code="too_many_media")
        try:
            image = await off_loop(sanitize_image, raw)
        except MediaRejected as exc:
            if exc.too_large:
                raise PayloadTooLarge(str(exc)) from exc
            raise UnsupportedMediaType(str(exc)) from exc
        if image.digest in current.media_digests:
            raise Conflict("this image is already attached to the draft", code="already_attached")
        if consent_id:
            await self._check_consents_exist([consent_id])
        faces = [list(box) for box in await off_loop(detect_faces, image.data)]
        await self._store().put(image.digest, image.data)
        item = await self._repo.get_media(draft.id, image.digest)
        if item is None:
            item = DraftMedia(
                draft_id=draft.id,
                digest=image.digest,
                media_type=image.media_type,
                width=image.width,
                height=image.height,
                size=len(image.data),
                faces=faces,
                staff_stock=staff_stock,
                staff_stock_confirmed_by=None,
                staff_stock_confirmed_at=None,
                consent_id=consent_id or None,
                uploaded_by=principal.user_id,
                uploaded_at=utcnow(),
            )
            self._repo.add(item)
        version = await self._append_version(
            draft, self._as_input(current), principal, [*current.media_digests, image.digest]
        )
        await self._audit.append(
            actor=principal,
            action="draft.media_added",
            subject=f"draft:{draft.id}",
            details={
                "version": version.version,
                "content_hash": version.content_hash,
                "digest": image.digest,
                "media_type": image.media_type,
                "faces": len(faces),
                "staff_stock": item.staff_stock,
            },
        )
        return self._out(draft, version, await self._repo.media(draft.id))

    async def remove_media(self, draft_id: str, digest: str, principal: Principal) -> DraftOut:
        draft, current = await self._editable_by_author(draft_id, principal)
        if digest not in current.media_digests:
            raise NotFound(f"the current version carries no image {digest[:12]}")
        remaining = [d for d in current.media_digests if d != digest]
        version = await self._append_version(draft, self._as_input(current), principal, remaining)
        await self._audit.append(
            actor=principal,
            action="draft.media_removed",
            subject=f"draft:{draft.id}",
            details={"version": version.version, "content_hash": version.content_hash, "digest": digest},
        )
        return self._out(draft, version, await self._repo.media(draft.id))

    async def update_media(
        self, draft_id: str, digest: str, patch: MediaPatch, principal: Principal
    ) -> MediaOut:
        """The author marks an image staff/stock (compliance must confirm) or names its consent."""
        draft, current = await self._editable_by_author(draft_id, principal)
        item = await self._repo.get_media(draft.id, digest)
        if item is None or digest not in current.media_digests:
            raise NotFound(f"the current version carries no image {digest[:12]}")
        if patch.staff_stock is not None and patch.staff_stock != item.staff_stock:
            item.staff_stock = patch.staff_stock
            item.staff_stock_confirmed_by, item.staff_stock_confirmed_at = None, None
        if patch.clear_consent:
            item.consent_id = None
        elif patch.consent_id:
            await self._check_consents_exist([patch.consent_id])
            item.consent_id = patch.consent_id
        await self._repo.flush()
        await self._audit.append(
            actor=principal,
            action="draft.media_updated",
            subject=f"draft:{draft.id}",
            details={"digest": digest, "staff_stock": item.staff_stock, "consent_id": item.consent_id},
        )
        return _media_out(draft.id, item)

    async def confirm_staff_stock(self, draft_id: str, digest: str, principal: Principal) -> MediaOut:
        """A compliance reviewer agrees the image shows staff or is stock: it stops counting as a patient."""
        if not principal.has_any("compliance"):
            raise Forbidden("only compliance reviewers confirm that an image shows staff or is stock")
        draft = await self._load(draft_id)
        if draft.author_id == principal.user_id:
            raise Forbidden("the author of a draft may not confirm its own images")
        item = await self._repo.get_media(draft.id, digest)
        if item is None:
            raise NotFound(f"draft {draft_id} has no image {digest[:12]}")
        if not item.staff_stock:
            raise Conflict("the author has not marked this image as staff or stock", code="not_marked")
        item.staff_stock_confirmed_by, item.staff_stock_confirmed_at = principal.user_id, utcnow()
        await self._repo.flush()
        await self._audit.append(
            actor=principal,
            action="media.staff_stock_confirmed",
            subject=f"draft:{draft.id}",
            details={"digest": digest, "faces": len(item.faces)},
        )
        return _media_out(draft.id, item)

    async def media_bytes(self, draft_id: str, digest: str, principal: Principal) -> tuple[bytes, str]:
        draft = await self._load(draft_id)
        self._check_can_read(draft, principal)
        item = await self._repo.get_media(draft.id, digest)
        if item is None:
            raise NotFound(f"draft {draft_id} has no image {digest[:12]}")
        data = await self._store().get(digest)
        if data is None:
            raise NotFound(f"image {digest[:12]} is missing from the media store")
        await self._record_read("media.read", draft, principal, digest, {"digest": digest})
        return data, item.media_type

    async def stored_media(self, digest: str) -> tuple[bytes, str]:
        """For services (the publisher): any attached image by digest."""
        if not await self._repo.media_digest_known(digest):
            raise NotFound(f"no image {digest[:12]}")
        data = await self._store().get(digest)
        if data is None:
            raise NotFound(f"image {digest[:12]} is missing from the media store")
        return data, _media_type_of(data)


def _media_type_of(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    return "image/webp"

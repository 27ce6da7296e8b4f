"""The images of a draft, on its page: the author uploads, marks staff/stock, names a consent, removes;
a compliance reviewer confirms a staff/stock mark. Every change goes through the drafts API with the
user's own token, so its rules (the author only, only while the draft is editable, images judged by
content) are the ones that apply; a refusal is shown on the draft page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile

from services.kit.errors import ClearpostError
from services.review.ui.deps import FormPost, FormPostDep, SignedInDep, UiRoute, UiStateDep
from services.review.ui.draft_view import DraftPage, DraftPageDep, draft_url
from services.review.ui.render import redirect
from services.review.ui.upstream import Upload

# Included in the UI's router (endpoints.py), which puts these paths under /review.
router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

ConsentIdField = Annotated[str, Form(max_length=64)]


def _shown_on_draft_page(
    form: FormPost, pages: DraftPage, draft_id: str, **typed: Any
) -> Callable[[ClearpostError], Awaitable[Response]]:
    """A refusal of an image form, shown in the draft page's Images section."""

    async def show(refusal: ClearpostError) -> Response:
        return await pages.render(
            form.signed,
            draft_id,
            status_code=refusal.status_code,
            media_error=refusal.detail,
            upload=typed or None,
        )

    return show


def _media_anchor(draft_id: str) -> str:
    return f"{draft_url(draft_id)}#media"


@router.get("/drafts/{draft_id}/media/{digest}")
async def draft_media(draft_id: str, digest: str, signed: SignedInDep, ui: UiStateDep) -> Response:
    """An image of the draft, through the drafts API with the user's own token."""
    data, media_type = await ui.user_api.media(signed.token, draft_id, digest)
    return Response(data, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})


@router.post("/drafts/{draft_id}/media")
async def upload_media(
    draft_id: str,
    form: FormPostDep,
    ui: UiStateDep,
    pages: DraftPageDep,
    file: Annotated[UploadFile, File()],
    staff_stock: Annotated[str, Form(max_length=10)] = "",
    consent_id: ConsentIdField = "",
) -> Response:
    """The author attaches a JPEG, PNG or WebP image; the drafts service judges it by its content."""
    marked, chosen = bool(staff_stock), consent_id.strip()
    show = _shown_on_draft_page(form, pages, draft_id, staff_stock=marked, consent_id=chosen)
    upload = await form.refusable(Upload.read(file), show)
    await form.refusable(
        ui.user_api.add_media(form.token, draft_id, upload, staff_stock=marked, consent_id=chosen or None),
        show,
    )
    return redirect(_media_anchor(draft_id))


@router.post("/drafts/{draft_id}/media/{digest}")
async def update_media(
    draft_id: str,
    digest: str,
    form: FormPostDep,
    ui: UiStateDep,
    pages: DraftPageDep,
    staff_stock: Annotated[str, Form(max_length=10)] = "",
    consent_id: ConsentIdField = "",
) -> Response:
    """The author's staff/stock mark and the consent named for one image (empty: none named)."""
    chosen = consent_id.strip()
    patch: dict[str, Any] = {"staff_stock": bool(staff_stock)}
    patch.update({"consent_id": chosen} if chosen else {"clear_consent": True})
    await form.refusable(
        ui.user_api.update_media(form.token, draft_id, digest, patch),
        _shown_on_draft_page(form, pages, draft_id),
    )
    return redirect(_media_anchor(draft_id))


@router.post("/drafts/{draft_id}/media/{digest}/remove")
async def remove_media(
    draft_id: str, digest: str, form: FormPostDep, ui: UiStateDep, pages: DraftPageDep
) -> Response:
    """A new version without the image (the author, while the draft is editable)."""
    await form.refusable(
        ui.user_api.remove_media(form.token, draft_id, digest), _shown_on_draft_page(form, pages, draft_id)
    )
    return redirect(_media_anchor(draft_id))


@router.post("/drafts/{draft_id}/media/{digest}/confirm-staff-stock")
async def confirm_staff_stock(
    draft_id: str, digest: str, form: FormPostDep, ui: UiStateDep, pages: DraftPageDep
) -> Response:
    """Compliance agrees the image shows staff or is stock (never the draft's author)."""
    await form.refusable(
        ui.user_api.confirm_staff_stock(form.token, draft_id, digest),
        _shown_on_draft_page(form, pages, draft_id),
    )
    return redirect(_media_anchor(draft_id))

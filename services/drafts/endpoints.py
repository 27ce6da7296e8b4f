from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile, status
from pydantic import ValidationError

from services.drafts.consents import CONSENT_ROLES, MAX_FORM_BYTES
from services.drafts.deps import (
    ConsentServiceDep,
    DraftMediaServiceDep,
    DraftServiceDep,
    TakedownServiceDep,
)
from services.drafts.media import MAX_BYTES as MAX_MEDIA_BYTES
from services.drafts.schemas import (
    ConsentCheckIn,
    ConsentCheckOut,
    ConsentIn,
    ConsentList,
    ConsentOut,
    ConsentSearch,
    DraftConsents,
    DraftIn,
    DraftList,
    DraftOut,
    DraftReaders,
    FromTemplateIn,
    LiveStateIn,
    LiveStateOut,
    MediaOut,
    MediaPatch,
    RevocationOut,
    RevokeIn,
    TakedownDone,
    TakedownList,
    TakedownOut,
    VersionContent,
    VersionList,
    WithdrawIn,
)
from services.drafts.takedowns import TAKEDOWN_ROLES
from services.kit.auth import CallingService, CurrentPrincipal, InternalCaller, require_roles
from services.kit.errors import Forbidden, PayloadTooLarge, Unprocessable

router = APIRouter(prefix="/api/v1/drafts", tags=["drafts"])
# The role gate runs before the body is read, so nobody else gets to upload a form or a reason.
consents_router = APIRouter(
    prefix="/api/v1/consents", tags=["consents"], dependencies=[require_roles(*CONSENT_ROLES)]
)
takedowns_router = APIRouter(
    prefix="/api/v1/takedowns", tags=["takedowns"], dependencies=[require_roles(*TAKEDOWN_ROLES)]
)
internal = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller])

Digest = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the sanitized image")]
BINARY: dict[str, object] = {"content": {"application/octet-stream": {}}}
# Stored bytes are served as what they are, never sniffed into something else, and not cached.
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the file is larger than {limit} bytes")
    return data


def _bearer(request: Request) -> str:
    return request.headers.get("authorization", "").partition(" ")[2]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DraftOut)
async def create_draft(
    data: DraftIn, principal: CurrentPrincipal, service: DraftServiceDep, request: Request
) -> DraftOut:
    """Create a draft (version 1). Authors only."""
    return await service.create(data, principal, _bearer(request))


@router.get("", response_model=DraftList)
async def list_drafts(principal: CurrentPrincipal, service: DraftServiceDep) -> DraftList:
    """The caller's own drafts; reviewing staff see every draft."""
    return DraftList(drafts=await service.list(principal))


@router.get("/{draft_id}", response_model=DraftOut)
async def get_draft(draft_id: str, principal: CurrentPrincipal, service: DraftServiceDep) -> DraftOut:
    return await service.get(draft_id, principal)


@router.get("/{draft_id}/versions", response_model=VersionList)
async def list_versions(draft_id: str, principal: CurrentPrincipal, service: DraftServiceDep) -> VersionList:
    """Every version of the draft, oldest first (the author and reviewing staff)."""
    return VersionList(draft_id=draft_id, versions=await service.versions(draft_id, principal))


@router.put("/{draft_id}", response_model=DraftOut)
async def revise_draft(
    draft_id: str, data: DraftIn, principal: CurrentPrincipal, service: DraftServiceDep, request: Request
) -> DraftOut:
    """A new version, by the author, while the draft is in `draft` or `changes_requested`."""
    return await service.revise(draft_id, data, principal, _bearer(request))


@router.post("/{draft_id}/submit", response_model=DraftOut)
async def submit_draft(
    draft_id: str, principal: CurrentPrincipal, service: DraftServiceDep, request: Request
) -> DraftOut:
    """Send the current version into screening and review (every channel's rendition must fit,
    with the images a network needs)."""
    return await service.submit(draft_id, principal, _bearer(request))


@router.post("/{draft_id}/withdraw", response_model=DraftOut)
async def withdraw_draft(
    draft_id: str, principal: CurrentPrincipal, service: DraftServiceDep, data: WithdrawIn | None = None
) -> DraftOut:
    return await service.withdraw(draft_id, principal, data.reason if data else "")


@router.post(
    "/{draft_id}/media",
    status_code=status.HTTP_201_CREATED,
    response_model=DraftOut,
    responses={413: {"description": "Too large"}, 415: {"description": "Not a JPEG, PNG or WebP image"}},
)
async def add_media(
    draft_id: str,
    principal: CurrentPrincipal,
    service: DraftMediaServiceDep,
    file: Annotated[UploadFile, File(description="A JPEG, PNG or WebP image (checked by content)")],
    staff_stock: Annotated[bool, Form(description="The image shows staff or is a stock photo")] = False,
    consent_id: Annotated[str | None, Form(max_length=64, description="The consent covering it")] = None,
) -> DraftOut:
    """Attach an image: it is re-encoded without metadata, checked for faces, and a new version
    carries its digest (so the content hash, and every approval bound to it, changes). The author
    only, while the draft is `draft` or `changes_requested`."""
    raw = await _read_limited(file, MAX_MEDIA_BYTES)
    return await service.add_media(
        draft_id, raw, principal, staff_stock=staff_stock, consent_id=consent_id or None
    )


@router.get(
    "/{draft_id}/media/{digest}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
async def get_media(
    draft_id: str, digest: Digest, principal: CurrentPrincipal, service: DraftMediaServiceDep
) -> Response:
    """The stored (sanitized) image, for whoever may read the draft."""
    data, media_type = await service.media_bytes(draft_id, digest, principal)
    return Response(data, media_type=media_type, headers=DOWNLOAD_HEADERS)


@router.delete("/{draft_id}/media/{digest}", response_model=DraftOut)
async def remove_media(
    draft_id: str, digest: Digest, principal: CurrentPrincipal, service: DraftMediaServiceDep
) -> DraftOut:
    """A new version without the image (the author, while the draft is editable)."""
    return await service.remove_media(draft_id, digest, principal)


@router.patch("/{draft_id}/media/{digest}", response_model=MediaOut)
async def update_media(
    draft_id: str,
    digest: Digest,
    data: MediaPatch,
    principal: CurrentPrincipal,
    service: DraftMediaServiceDep,
) -> MediaOut:
    """The author marks the image staff/stock (a compliance reviewer must confirm) or names its consent."""
    return await service.update_media(draft_id, digest, data, principal)


@router.post("/{draft_id}/media/{digest}/confirm-staff-stock", response_model=MediaOut)
async def confirm_staff_stock(
    draft_id: str, digest: Digest, principal: CurrentPrincipal, service: DraftMediaServiceDep
) -> MediaOut:
    """Compliance confirms the author's staff/stock mark: the faces in it stop counting as a patient."""
    return await service.confirm_staff_stock(draft_id, digest, principal)


@router.get("/{draft_id}/consents", response_model=DraftConsents)
async def draft_consents(
    draft_id: str, principal: CurrentPrincipal, drafts: DraftServiceDep, consents: ConsentServiceDep
) -> DraftConsents:
    """Scope, expiry and state of the consents the current version relies on (no patient identity),
    for whoever may read the draft. Audited as a consent read."""
    draft, version = await drafts.readable(draft_id, principal)
    return await consents.for_draft(draft, await drafts.relied_consent_ids(draft, version), principal)


# --- consent records ----------------------------------------------------------------------------


@consents_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentOut,
    responses={413: {"description": "Form too large"}, 415: {"description": "Form is not a PDF or image"}},
)
async def create_consent(
    principal: CurrentPrincipal,
    service: ConsentServiceDep,
    request: Request,
    record: Annotated[str, Form(description="The record as JSON (ConsentIn)")],
    form: Annotated[UploadFile, File(description="The signed form: PDF, JPEG, PNG or WebP")],
) -> ConsentOut:
    """Record a patient's written consent with its signed form (multipart: `record` JSON + `form`).
    Compliance and admins only."""
    try:
        data = ConsentIn.model_validate_json(record)
    except ValidationError as exc:
        raise Unprocessable(
            "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors())
        ) from exc
    raw = await _read_limited(form, MAX_FORM_BYTES)
    return await service.create(data, raw, principal, _bearer(request))


@consents_router.get("", response_model=ConsentList)
async def list_consents(
    principal: CurrentPrincipal,
    service: ConsentServiceDep,
    patient_ref: Annotated[str | None, Query(max_length=200, description="Exact patient reference")] = None,
    state: Literal["active", "expired", "revoked"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ConsentList:
    """Consent records, newest first. Compliance and admins only; audited with the ids returned.
    `patient_ref` here is kept out of logs and traces (REDACTED); `POST /search` keeps it out of the
    URL altogether."""
    return ConsentList(
        consents=await service.list_records(principal, patient_ref=patient_ref, state=state, limit=limit)
    )


@consents_router.post("/search", response_model=ConsentList)
async def search_consents(
    principal: CurrentPrincipal, service: ConsentServiceDep, search: ConsentSearch
) -> ConsentList:
    """The consent list with its filters in the body (a patient reference never in a URL).
    Compliance and admins only; audited with the ids returned."""
    return ConsentList(
        consents=await service.list_records(
            principal, patient_ref=search.patient_ref, state=search.state, limit=search.limit
        )
    )


@consents_router.get("/{consent_id}", response_model=ConsentOut)
async def get_consent(consent_id: str, principal: CurrentPrincipal, service: ConsentServiceDep) -> ConsentOut:
    """One consent record. Compliance and admins only; audited."""
    return await service.get(consent_id, principal)


@consents_router.post("/{consent_id}/revoke", response_model=RevocationOut)
async def revoke_consent(
    consent_id: str, data: RevokeIn, principal: CurrentPrincipal, service: ConsentServiceDep
) -> RevocationOut:
    """Revoke at once. Drafts relying on it: never submitted -> withdrawn; in the workflow -> sent
    back to review (unscheduled); published -> `takedown_required` and a takedown task."""
    return await service.revoke(consent_id, data.reason, principal)


@consents_router.get(
    "/{consent_id}/form",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}, "image/webp": {}}}
    },
)
async def get_consent_form(
    consent_id: str, principal: CurrentPrincipal, service: ConsentServiceDep
) -> Response:
    """The signed form. Compliance and admins only; audited."""
    form = await service.form(consent_id, principal)
    extension = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(
        form.media_type, "webp"
    )
    return Response(
        form.data,
        media_type=form.media_type,
        headers={
            **DOWNLOAD_HEADERS,
            "Content-Disposition": f'attachment; filename="consent-{consent_id}.{extension}"',
        },
    )


# --- takedown tasks -----------------------------------------------------------------------------


@takedowns_router.get("", response_model=TakedownList)
async def list_takedowns(
    principal: CurrentPrincipal,
    service: TakedownServiceDep,
    status_filter: Annotated[Literal["open", "done"] | None, Query(alias="status")] = None,
    draft_id: str | None = None,
) -> TakedownList:
    """Published posts that must come down because their consent was revoked (publisher, admin)."""
    return TakedownList(takedowns=await service.takedowns(principal, status=status_filter, draft_id=draft_id))


@takedowns_router.post("/{task_id}/complete", response_model=TakedownOut)
async def complete_takedown(
    task_id: str, principal: CurrentPrincipal, service: TakedownServiceDep, data: TakedownDone | None = None
) -> TakedownOut:
    """The publisher took the post down (by hand, until channels can delete posts)."""
    return await service.complete_takedown(task_id, data.note if data else "", principal)


# --- internal -----------------------------------------------------------------------------------


@internal.get("/drafts/{draft_id}/versions/{version}", response_model=VersionContent)
async def version_content(
    draft_id: str,
    # Version numbers are 32-bit integers in the database: a larger one names no version (422).
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    service: DraftServiceDep,
) -> VersionContent:
    """One exact version's content, for screening, review and publishing (services only)."""
    return await service.version_content(draft_id, version)


@internal.post("/drafts/from-template", response_model=VersionContent, status_code=status.HTTP_201_CREATED)
async def draft_from_template(
    data: FromTemplateIn, caller: CallingService, service: DraftServiceDep
) -> VersionContent:
    """The review service: a crisis template's text filled with typed values, stored as a new draft of
    the crisis holder publishing it (docs/crisis-lane.md). Idempotent on the caller's `draft_id`."""
    if caller != "review":
        raise Forbidden("only the review service fills a crisis template")
    return await service.from_template(data)


@internal.post("/drafts/{draft_id}/versions/{version}/consent-check", response_model=ConsentCheckOut)
async def consent_check(
    draft_id: str,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    data: ConsentCheckIn,
    service: ConsentServiceDep,
) -> ConsentCheckOut:
    """The consent gate for one exact version now (the publisher asks before every post)."""
    return await service.check_now(draft_id, version, data)


@internal.post("/drafts/{draft_id}/live-state", response_model=LiveStateOut)
async def live_state(
    draft_id: str,
    data: LiveStateIn,
    caller: CallingService,
    takedowns: TakedownServiceDep,
    drafts: DraftServiceDep,
) -> LiveStateOut:
    """The publisher: what became of the draft's live post. `taken_down` (deleted from every
    network; open takedown tasks close), `takedown_failed` (with why), or `re_review` (taken down at
    the end of its approved lifetime; the same content goes back to review as a new version)."""
    if caller != "publisher":
        raise Forbidden("only the publisher reports what became of a live post")
    status = "taken_down" if data.status == "re_review" else data.status
    before = await takedowns.record_outcome(draft_id, status=status, reason=data.reason, cause=data.cause)
    version = None
    if data.status == "re_review":
        version = await drafts.re_review(draft_id, data.reason)
    return LiveStateOut(draft_id=draft_id, status_before=before, status=data.status, version=version)


@internal.get("/drafts/{draft_id}/readers", response_model=DraftReaders)
async def draft_readers(draft_id: str, service: DraftServiceDep) -> DraftReaders:
    """Who may read a draft (its author, and the reader roles), for the publisher (services only)."""
    return await service.readers(draft_id)


@internal.get("/media/{digest}", response_class=Response, responses={200: BINARY})
async def stored_media(digest: Digest, service: DraftMediaServiceDep) -> Response:
    """A sanitized image by digest, for the publisher (services only)."""
    data, media_type = await service.stored_media(digest)
    return Response(data, media_type=media_type, headers=DOWNLOAD_HEADERS)

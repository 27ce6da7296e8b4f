"""Consent records, for compliance staff and admins: the list, a new record with its signed form, one
record (reading it is an audit event in the drafts service) and revoking it.

The drafts API is called with the user's own token, so it applies (and audits) its own rules; the role
check here only spares everyone else a page they could not use and a link they could not follow.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from services.kit.errors import ClearpostError, Forbidden
from services.kit.tokens import Principal
from services.review.ui.deps import (
    FormPost,
    FormPostDep,
    SignedInDep,
    UiRoute,
    UiState,
    UiStateDep,
    channel_choices,
    split_list,
)
from services.review.ui.render import CONSENT_ROLES, page, redirect
from services.review.ui.security import UI_PREFIX
from services.review.ui.sessions import SignedIn
from services.review.ui.upstream import MAX_FILE_BYTES, Upload

# Included in the UI's router (endpoints.py), which puts these paths under /review.
router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

ConsentState = Literal["active", "expired", "revoked"]
Field200 = Annotated[str, Form(max_length=200)]
Field100 = Annotated[str, Form(max_length=100)]
DateField = Annotated[str, Form(max_length=10)]
# Signed forms are PDFs or images (the drafts service judges them by content, not by this list).
FORM_TYPES = "application/pdf,.pdf,image/jpeg,image/png,image/webp"


def _require_consent_role(principal: Principal) -> None:
    if not principal.has_any(*CONSENT_ROLES):
        raise Forbidden("consent records are for compliance staff and admins")


def _consent_url(consent_id: str) -> str:
    return f"{UI_PREFIX}/consents/{quote(consent_id, safe='')}"


# --- the list ----------------------------------------------------------------------------------------


async def _consent_list(
    request: Request, signed: SignedIn, ui: UiState, *, state: str, patient_ref: str
) -> Response:
    _require_consent_role(signed.principal)
    records = await ui.user_api.consents(
        signed.token, state=state or None, patient_ref=patient_ref.strip() or None
    )
    return page(
        request,
        "consents.html",
        {"records": records, "state": state, "patient_ref": patient_ref, "states": get_args(ConsentState)},
    )


@router.get("/consents")
async def consent_list(
    request: Request,
    signed: SignedInDep,
    ui: UiStateDep,
    state: Annotated[ConsentState | Literal[""], Query()] = "",
    # Still taken from the query (old links), but the page's own filter posts it (/consents/search);
    # in a query string it is REDACTED in access logs and traces (services/kit/telemetry.py).
    patient_ref: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    return await _consent_list(request, signed, ui, state=state, patient_ref=patient_ref)


@router.post("/consents/search")
async def consent_search(
    request: Request,
    form: FormPostDep,
    ui: UiStateDep,
    state: Annotated[ConsentState | Literal[""], Form()] = "",
    patient_ref: Field200 = "",
) -> Response:
    """The list filtered by a posted form: a patient reference never goes into a URL."""
    return await _consent_list(request, form.signed, ui, state=state, patient_ref=patient_ref)


# --- a new record ------------------------------------------------------------------------------------


async def _new_consent_page(
    request: Request,
    signed: SignedIn,
    ui: UiState,
    *,
    typed: dict[str, Any] | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    values = typed or {
        "patient_ref": "",
        "first_name": "",
        "last_name": "",
        "name_use": "first_name",
        "story_use": False,
        "channels": [],
        "media_digests": "",
        "collected_by": signed.principal.name,
        "collected_on": "",
        "expires_on": "",
    }
    return page(
        request,
        "consent_new.html",
        {
            "values": values,
            "error": error,
            **await channel_choices(ui, signed.token, values["channels"]),
            "form_types": FORM_TYPES,
            "max_file_mb": MAX_FILE_BYTES // (1024 * 1024),
        },
        status_code=status_code,
    )


@router.get("/consents/new")
async def new_consent(request: Request, signed: SignedInDep, ui: UiStateDep) -> Response:
    _require_consent_role(signed.principal)
    return await _new_consent_page(request, signed, ui)


@router.post("/consents")
async def create_consent(
    request: Request,
    form: FormPostDep,
    ui: UiStateDep,
    signed_form: Annotated[UploadFile, File(alias="form")],
    patient_ref: Field200 = "",
    first_name: Field100 = "",
    last_name: Field100 = "",
    name_use: Annotated[str, Form(max_length=20)] = "",
    story_use: Annotated[str, Form(max_length=10)] = "",
    channels: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    media_digests: Annotated[str, Form(max_length=50 * 66)] = "",
    collected_by: Field200 = "",
    collected_on: DateField = "",
    expires_on: DateField = "",
) -> Response:
    """Record a consent and its signed form through the drafts API (multipart, as the user)."""
    _require_consent_role(form.principal)
    typed: dict[str, Any] = {
        "patient_ref": patient_ref.strip(),
        "first_name": first_name.strip(),
        "last_name": last_name.strip(),
        "name_use": name_use,
        "story_use": bool(story_use),
        "channels": list(dict.fromkeys(c for value in channels for c in split_list(value))),
        "media_digests": media_digests,
        "collected_by": collected_by.strip(),
        "collected_on": collected_on,
        "expires_on": expires_on,
    }

    async def show(refusal: ClearpostError) -> Response:
        return await _new_consent_page(
            request, form.signed, ui, typed=typed, error=refusal.detail, status_code=refusal.status_code
        )

    upload = await form.refusable(Upload.read(signed_form), show)
    record = {
        **typed,
        "media_digests": [d.lower() for d in split_list(media_digests)],
        "collected_on": collected_on or None,
        "expires_on": expires_on or None,
    }
    created = await form.refusable(ui.user_api.create_consent(form.token, record, upload), show)
    return redirect(f"{_consent_url(created['id'])}?created=1")


# --- one record --------------------------------------------------------------------------------------


async def _consent_page(
    request: Request,
    signed: SignedIn,
    record: dict[str, Any],
    *,
    notice: str = "",
    effects: list[dict[str, Any]] | None = None,
    error: str = "",
    reason: str = "",
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "consent.html",
        {
            "record": record,
            "notice": notice,
            "effects": effects,
            "error": error,
            "reason": reason,
        },
        status_code=status_code,
    )


@router.get("/consents/{consent_id}")
async def consent_detail(
    request: Request, consent_id: str, signed: SignedInDep, ui: UiStateDep, created: bool = False
) -> Response:
    _require_consent_role(signed.principal)
    record = await ui.user_api.consent(signed.token, consent_id)
    return await _consent_page(request, signed, record, notice="Consent recorded." if created else "")


@router.post("/consents/{consent_id}/revoke")
async def revoke_consent(
    request: Request,
    consent_id: str,
    form: FormPostDep,
    ui: UiStateDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Revoke at once, with a reason and an explicit confirmation; the page then says what happened to
    each draft that relied on the consent."""
    _require_consent_role(form.principal)

    async def show(refusal: ClearpostError) -> Response:
        return await _refused_revocation(request, form, ui, consent_id, refusal, reason)

    if not reason.strip() or not confirm:
        missing = "a reason" if not reason.strip() else "your confirmation"
        return await show(
            ClearpostError(f"Nothing was revoked: {missing} is required.", code="invalid", status_code=422)
        )
    revocation = await form.refusable(
        ui.user_api.revoke_consent(form.token, consent_id, reason.strip()), show
    )
    return await _consent_page(
        request, form.signed, revocation["consent"], notice="Consent revoked.", effects=revocation["effects"]
    )


async def _refused_revocation(
    request: Request, form: FormPost, ui: UiState, consent_id: str, refusal: ClearpostError, reason: str
) -> Response:
    record = await ui.user_api.consent(form.token, consent_id)
    return await _consent_page(
        request, form.signed, record, error=refusal.detail, reason=reason, status_code=refusal.status_code
    )


@router.get("/consents/{consent_id}/form")
async def consent_form(consent_id: str, signed: SignedInDep, ui: UiStateDep) -> Response:
    """The signed consent form, for compliance and admins (the drafts service checks and audits)."""
    if not signed.principal.has_any(*CONSENT_ROLES):
        raise Forbidden("signed consent forms are for compliance staff and admins")
    data, media_type = await ui.user_api.consent_form(signed.token, consent_id)
    return Response(
        data,
        media_type=media_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="consent-{consent_id}"',
        },
    )

"""Channel accounts, for admins (publisher and compliance staff may look): every account with its
state, connecting Mastodon and Bluesky accounts with their credentials, starting the browser flow of
the OAuth networks, checking an account now and disconnecting it.

The publisher's API is called with the user's own token, so it applies (and audits) its own rules; the
role checks here only spare everyone else forms they could not use. Credentials typed into a form are
passed on once and never shown again, not even when the publisher refuses them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from services.kit.errors import ClearpostError, Forbidden
from services.kit.tokens import Principal
from services.review.ui.deps import FormPost, FormPostDep, SignedInDep, UiRoute, UiState, UiStateDep
from services.review.ui.render import CHANNEL_READER_ROLES, page, redirect
from services.review.ui.security import UI_PREFIX
from services.review.ui.sessions import SignedIn

# Included in the UI's router (endpoints.py), which puts these paths under /review.
router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

CHANNELS_URL = f"{UI_PREFIX}/channels"
OAuthNetwork = Literal["facebook", "instagram", "linkedin", "x"]
NETWORK_NAMES = {
    "facebook": "Facebook Page",
    "instagram": "Instagram business account",
    "linkedin": "LinkedIn organization page",
    "x": "X",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "sandbox": "Sandbox outbox",
    "webhook": "Webhook",
}
Name = Annotated[str, Form(max_length=64)]
Url = Annotated[str, Form(max_length=300)]
Secret = Annotated[str, Form(max_length=4096)]
EMPTY_FORMS: dict[str, dict[str, str]] = {
    "mastodon": {"name": "", "base_url": ""},
    "bluesky": {"name": "", "identifier": "", "base_url": ""},
    "oauth": {"network": "facebook", "name": "", "target": ""},
}


def _require_reader(principal: Principal) -> None:
    if not principal.has_any(*CHANNEL_READER_ROLES):
        raise Forbidden("channel accounts are for admins, publishers and compliance staff")


def _require_admin(principal: Principal) -> None:
    if not principal.has_any("admin"):
        raise Forbidden("only admins connect, check and disconnect channel accounts")


async def _channels_page(
    request: Request,
    signed: SignedIn,
    ui: UiState,
    *,
    notice: str = "",
    failed_form: str = "",
    error: str = "",
    typed: dict[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    """The page; a refused form names itself (`failed_form`: mastodon, bluesky, oauth or account),
    its reason (`error`) and what was typed in it (`typed`, passwords left out)."""
    _require_reader(signed.principal)
    try:
        accounts, accounts_error = await ui.user_api.channel_accounts(signed.token), ""
    except ClearpostError as exc:
        accounts, accounts_error = [], exc.detail
    return page(
        request,
        "channels.html",
        {
            "accounts": accounts,
            "accounts_error": accounts_error,
            "network_names": NETWORK_NAMES,
            "oauth_networks": [(n, NETWORK_NAMES[n]) for n in ("facebook", "instagram", "linkedin", "x")],
            "may_manage": signed.principal.has_any("admin"),
            "notice": notice,
            "failed_form": failed_form,
            "error": error,
            "typed": {**EMPTY_FORMS, **(typed or {})},
        },
        status_code=status_code,
    )


@router.get("/channels")
async def channels(
    request: Request,
    signed: SignedInDep,
    ui: UiStateDep,
    connected: Annotated[str, Query(max_length=64)] = "",
    checked: Annotated[str, Query(max_length=64)] = "",
    disconnected: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    notice = ""
    if connected:
        notice = f"Connected: {connected}. Drafts can now name it as a channel."
    elif checked:
        notice = f"Checked {checked} with its network just now; its state is shown below."
    elif disconnected:
        notice = f"Disconnected {disconnected}: its credentials are wiped; its record and posts stay."
    return await _channels_page(request, signed, ui, notice=notice)


async def _connect(
    request: Request, form: FormPost, ui: UiState, which: str, fields: dict[str, Any], typed: dict[str, str]
) -> Response:
    _require_admin(form.principal)

    async def show(refusal: ClearpostError) -> Response:
        return await _channels_page(
            request,
            form.signed,
            ui,
            failed_form=which,
            error=refusal.detail,
            typed={which: typed},
            status_code=refusal.status_code,
        )

    account = await form.refusable(ui.user_api.connect_account(form.token, fields), show, every_error=True)
    return redirect(f"{CHANNELS_URL}?connected={quote(account['name'], safe='')}")


@router.post("/channels/mastodon")
async def connect_mastodon(
    request: Request,
    form: FormPostDep,
    ui: UiStateDep,
    name: Name = "",
    base_url: Url = "",
    access_token: Secret = "",
) -> Response:
    """A Mastodon account on any instance: its address and an access token made there."""
    typed = {"name": name.strip(), "base_url": base_url.strip()}
    fields = {"network": "mastodon", **typed, "access_token": access_token.strip() or None}
    return await _connect(request, form, ui, "mastodon", fields, typed)


@router.post("/channels/bluesky")
async def connect_bluesky(
    request: Request,
    form: FormPostDep,
    ui: UiStateDep,
    name: Name = "",
    identifier: Annotated[str, Form(max_length=256)] = "",
    app_password: Secret = "",
    base_url: Url = "",
) -> Response:
    """A Bluesky account: its handle and an app password (never the account's own password)."""
    typed = {"name": name.strip(), "identifier": identifier.strip(), "base_url": base_url.strip()}
    fields = {
        "network": "bluesky",
        "name": typed["name"],
        "identifier": typed["identifier"] or None,
        "app_password": app_password.strip() or None,
        "base_url": typed["base_url"] or None,
    }
    return await _connect(request, form, ui, "bluesky", fields, typed)


@router.post("/channels/authorize")
async def authorize(
    request: Request,
    form: FormPostDep,
    ui: UiStateDep,
    network: Annotated[OAuthNetwork, Form()],
    name: Name = "",
    target: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Start an OAuth network's flow: the publisher (asked server side, with the admin's token) names
    the network's authorization page, and the browser goes there; the network sends it back to the
    publisher's callback, which returns it to this page with `?connected=<name>`."""
    _require_admin(form.principal)
    typed = {"network": network, "name": name.strip(), "target": target.strip()}

    async def show(refusal: ClearpostError) -> Response:
        return await _channels_page(
            request,
            form.signed,
            ui,
            failed_form="oauth",
            error=refusal.detail,
            typed={"oauth": typed},
            status_code=refusal.status_code,
        )

    url = await form.refusable(
        ui.user_api.authorization_url(form.token, network, typed["name"], typed["target"] or None),
        show,
        every_error=True,
    )
    return RedirectResponse(url, status_code=303)


async def _account_action(
    request: Request, form: FormPost, ui: UiState, name: str, action: Literal["check", "disconnect"]
) -> Response:
    _require_admin(form.principal)

    async def show(refusal: ClearpostError) -> Response:
        verb = "checked" if action == "check" else "disconnected"
        return await _channels_page(
            request,
            form.signed,
            ui,
            failed_form="account",
            error=f"{name} was not {verb}: {refusal.detail}",
            status_code=refusal.status_code,
        )

    if action == "check":
        await form.refusable(ui.user_api.check_account(form.token, name), show, every_error=True)
        return redirect(f"{CHANNELS_URL}?checked={quote(name, safe='')}")
    await form.refusable(ui.user_api.disconnect_account(form.token, name), show, every_error=True)
    return redirect(f"{CHANNELS_URL}?disconnected={quote(name, safe='')}")


@router.post("/channels/{name}/check")
async def check_account(request: Request, name: str, form: FormPostDep, ui: UiStateDep) -> Response:
    """Ask the network about the account now (its token is refreshed first if it expires soon)."""
    return await _account_action(request, form, ui, name, "check")


@router.post("/channels/{name}/disconnect")
async def disconnect_account(request: Request, name: str, form: FormPostDep, ui: UiStateDep) -> Response:
    return await _account_action(request, form, ui, name, "disconnect")

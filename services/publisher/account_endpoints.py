"""Channel accounts: `POST/GET /api/v1/channel-accounts`, `DELETE .../{name}`, `POST .../{name}/check`,
and the browser flow `GET .../{network}/authorize` -> the network -> `GET .../{network}/callback`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.kit.auth import require_roles
from services.kit.errors import BadRequest
from services.kit.tokens import Principal
from services.publisher.accounts import DIRECT_NETWORKS, check_name
from services.publisher.deps import AccountServiceDep, DirectoryDep, OAuthFlowDep, PauseServiceDep
from services.publisher.models import ChannelAccount
from services.publisher.networks.base import AccountCredentials
from services.publisher.schemas import (
    AuthorizationStarted,
    ChannelAccountIn,
    ChannelAccountList,
    ChannelAccountOut,
)

router = APIRouter(prefix="/api/v1/channel-accounts", tags=["channel accounts"])
ADMIN = require_roles("admin")
READERS = require_roles("admin", "publisher", "compliance")
# Where the browser goes once an account is connected: the review UI's channel page.
UI_CHANNELS = "/review/channels"


def _out(account: ChannelAccount, paused: set[str]) -> ChannelAccountOut:
    """The account as shown, `paused` by a pause of it or of all publishing."""
    out = ChannelAccountOut.model_validate(account)
    out.paused = "all" in paused or account.name in paused
    out.usable = account.status == "ok" and not out.paused
    return out


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ChannelAccountOut)
async def connect_account(
    data: ChannelAccountIn,
    accounts: AccountServiceDep,
    directory: DirectoryDep,
    principal: Annotated[Principal, ADMIN],
) -> ChannelAccountOut:
    """Connect an account with credentials that need no browser (checked with the network first):
    Mastodon `access_token` (+ `base_url`, the instance), Bluesky `identifier` + `app_password`, a
    `sandbox` outbox, a `webhook` (`base_url` + `secret`). OAuth networks answer 400 naming the
    authorize route."""
    check_name(data.name)
    if data.network not in DIRECT_NETWORKS:
        raise BadRequest(
            f"{data.network} accounts connect through the browser: "
            f"GET /api/v1/channel-accounts/{data.network}/authorize?name={data.name}",
            code="use_authorize",
        )
    if data.name in directory.configured:
        raise BadRequest(f"{data.name!r} is a configured channel's name", code="account_exists")
    settings: dict[str, str] = {}
    if data.network == "mastodon" and data.access_token is None:
        raise BadRequest("a mastodon account needs `access_token`", code="credentials")
    if data.network == "bluesky" and (not data.identifier or data.app_password is None):
        raise BadRequest("a bluesky account needs `identifier` and `app_password`", code="credentials")
    if data.network == "webhook":
        secret = data.secret.get_secret_value() if data.secret else ""
        if len(secret.encode()) < 32:
            raise BadRequest("a webhook account needs a `secret` of at least 32 bytes", code="credentials")
        settings["secret"] = secret
    credentials = AccountCredentials(
        network=data.network,
        name=data.name,
        base_url=accounts.base_url_for(data.network, data.base_url),
        access_token=data.access_token.get_secret_value() if data.access_token else None,
        identifier=data.identifier,
        app_password=data.app_password.get_secret_value() if data.app_password else None,
        settings=settings,
    )
    account = await accounts.connect(credentials, principal)
    return _out(account, set())


@router.get("", response_model=ChannelAccountList, dependencies=[READERS])
async def list_accounts(accounts: AccountServiceDep, pauses: PauseServiceDep) -> ChannelAccountList:
    """Every account with its state: ok, expired, revoked, missing_scopes, unreachable or
    disconnected, why, and whether a pause covers it. Credentials are never shown."""
    paused = {p.scope for p in await pauses.active()}
    return ChannelAccountList(accounts=[_out(a, paused) for a in await accounts.list()])


@router.delete("/{name}", response_model=ChannelAccountOut)
async def disconnect_account(
    name: str, accounts: AccountServiceDep, principal: Annotated[Principal, ADMIN]
) -> ChannelAccountOut:
    """Disconnect: the credentials are wiped; the record (and every publication's) stays."""
    return _out(await accounts.disconnect(name, principal), set())


@router.post("/{name}/check", response_model=ChannelAccountOut, dependencies=[ADMIN])
async def check_account(name: str, accounts: AccountServiceDep) -> ChannelAccountOut:
    """Ask the network about the account now (refreshing its token first if it expires soon)."""
    return _out(await accounts.check(await accounts.get(name)), set())


@router.get("/{network}/authorize", response_model=AuthorizationStarted)
async def authorize(
    request: Request,
    network: str,
    name: Annotated[str, Query(min_length=1, max_length=64)],
    flow: OAuthFlowDep,
    principal: Annotated[Principal, ADMIN],
    target: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Start connecting an OAuth account (Facebook Page, Instagram business, LinkedIn organization,
    X): `name` for drafts to use, `target` the page / Instagram user / organization id to post as.
    Answers the network's authorization URL as JSON, or a 302 to it for a browser (Accept: text/html)."""
    url, expires = await flow.start(network, name, target, principal)
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(url, status_code=status.HTTP_302_FOUND)
    return JSONResponse(
        AuthorizationStarted(authorization_url=url, expires_at=expires).model_dump(mode="json")
    )


@router.get("/{network}/callback", response_model=ChannelAccountOut)
async def callback(
    request: Request,
    network: str,
    flow: OAuthFlowDep,
    state: Annotated[str, Query(min_length=8, max_length=512)],
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Where the network sends the browser back. No bearer token: the one-time `state`, made by an
    admin's authorize call ten minutes or less ago, is the credential."""
    account = await flow.finish(network, code=code, state=state, error=error)
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(
            f"{UI_CHANNELS}?connected={account.name}", status_code=status.HTTP_303_SEE_OTHER
        )
    return JSONResponse(_out(account, set()).model_dump(mode="json"))

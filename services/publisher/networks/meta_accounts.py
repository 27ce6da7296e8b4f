"""Connecting, renewing and checking a Facebook Page or an Instagram business account.

Facebook Login gives a short-lived *user* token. It is exchanged at once for a long-lived user token
(grant_type=fb_exchange_token, ~60 days), and the Page token read with that long-lived token does not
expire (Meta: "Page access tokens obtained from a long-lived user token have no expiration date").
Both adapters post with the Page token (`access_token`). Meta has no refresh tokens, so the
long-lived user token is kept in `refresh_token`: `refresh` exchanges it again and re-reads the Page
token; when Meta refuses (the user logged out, changed password, removed the app) the account has to
be connected again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from services.publisher.networks.base import (
    ACCOUNT_EXPIRED,
    ACCOUNT_MISSING_SCOPES,
    ACCOUNT_OK,
    ACCOUNT_REVOKED,
    ACCOUNT_UNREACHABLE,
    AccountCheck,
    AccountCredentials,
    CredentialsRejected,
    MissingScopes,
    NetworkRejected,
    NetworkUnavailable,
)
from services.publisher.networks.meta import MetaGraph, token_scopes

PageMatch = Callable[[Mapping[str, Any]], bool]


class MetaAccounts:
    """The account half of a Meta adapter: which Page a grant posts as, and whether it still can."""

    def __init__(self, graph: MetaGraph, *, page_fields: str, required_scopes: tuple[str, ...]) -> None:
        self.graph = graph
        self.page_fields = page_fields
        self.required_scopes = required_scopes

    async def long_lived(self, user_token: str) -> str:
        """The long-lived user token (~60 days) for a short-lived or long-lived one."""
        answer = await self.graph.exchange_token(user_token)
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise NetworkRejected(f"{self.graph.network}: the token exchange answered no access_token")
        return token

    async def page_for(self, user_token: str, match: PageMatch, what: str) -> dict[str, Any]:
        for page in await self.graph.pages(user_token, self.page_fields):
            if match(page):
                if not isinstance(page.get("access_token"), str):
                    raise MissingScopes(
                        f"{self.graph.network}: no Page token for {what}: the user needs a task that "
                        "allows posting (CREATE_CONTENT) on the Page",
                        scopes=self.required_scopes,
                    )
                return page
        raise NetworkRejected(
            f"{self.graph.network}: {what} is not among the Pages this Facebook user manages "
            "(or it was not selected in the login dialog)"
        )

    async def credentials(
        self,
        *,
        name: str,
        token: Mapping[str, object],
        match: PageMatch,
        what: str,
        account_ref: Callable[[Mapping[str, Any]], str],
        settings: Callable[[Mapping[str, Any]], dict[str, str]],
    ) -> AccountCredentials:
        fresh = token.get("access_token")
        if not isinstance(fresh, str) or not fresh:
            raise CredentialsRejected(f"{self.graph.network}: the grant holds no access_token")
        user_token = await self.long_lived(fresh)
        page = await self.page_for(user_token, match, what)
        try:
            scopes = await self.graph.granted_scopes(user_token)
        except NetworkRejected:
            scopes = token_scopes(token)
        return AccountCredentials(
            network=self.graph.network,
            name=name,
            base_url=self.graph.http.base_url,
            access_token=str(page["access_token"]),
            refresh_token=user_token,
            expires_at=None,  # a Page token from a long-lived user token does not expire
            account_ref=account_ref(page),
            scopes=scopes,
            settings=settings(page),
        )

    async def refresh(
        self,
        account: AccountCredentials,
        match: PageMatch,
        settings: Callable[[Mapping[str, Any]], dict[str, str]],
    ) -> AccountCredentials:
        if not account.refresh_token:
            raise CredentialsRejected(
                f"{self.graph.network}: no long-lived user token is kept for this account; connect it again"
            )
        user_token = await self.long_lived(account.refresh_token)
        page = await self.page_for(user_token, match, f"account {account.account_ref}")
        return dataclasses.replace(
            account,
            access_token=str(page["access_token"]),
            refresh_token=user_token,
            expires_at=None,
            settings={**account.settings, **settings(page)},
        )

    async def check(
        self,
        account: AccountCredentials,
        *,
        fields: str,
        display: Callable[[Mapping[str, Any]], str | None],
        renew: Callable[[AccountCredentials], Any] | None = None,
        renewed: AccountCredentials | None = None,
    ) -> AccountCheck:
        """GET the account's node with its token, then compare the granted permissions (read with
        the user token, when kept) with what posting needs. Never raises for a refused credential."""
        if not account.access_token or not account.account_ref:
            return AccountCheck(status=ACCOUNT_REVOKED, reason="no token or account id is stored")
        try:
            node = await self.graph.call(
                "GET",
                self.graph.path(account.account_ref),
                token=account.access_token,
                replay_safe=True,
                params={"fields": fields},
            )
        except CredentialsRejected as exc:
            if renew is not None and renewed is None and account.refresh_token:
                try:
                    fresh: AccountCredentials = await renew(account)
                except (CredentialsRejected, NetworkRejected, NetworkUnavailable):
                    pass
                else:
                    return await self.check(fresh, fields=fields, display=display, renewed=fresh)
            return AccountCheck(
                status=ACCOUNT_EXPIRED if exc.expired else ACCOUNT_REVOKED, reason=str(exc), renewed=renewed
            )
        except MissingScopes as exc:
            return AccountCheck(
                status=ACCOUNT_MISSING_SCOPES, reason=str(exc), scopes=account.scopes, renewed=renewed
            )
        except NetworkUnavailable as exc:
            return AccountCheck(status=ACCOUNT_UNREACHABLE, reason=str(exc), renewed=renewed)
        except NetworkRejected as exc:
            return AccountCheck(status=ACCOUNT_REVOKED, reason=str(exc), renewed=renewed)
        scopes = account.scopes
        reason = ""
        if account.refresh_token:
            try:
                scopes = await self.graph.granted_scopes(account.refresh_token)
            except (CredentialsRejected, NetworkRejected, NetworkUnavailable) as exc:
                reason = f"permissions not re-read ({type(exc).__name__})"
        missing = tuple(scope for scope in self.required_scopes if scopes and scope not in scopes)
        status = ACCOUNT_MISSING_SCOPES if missing else ACCOUNT_OK
        if missing:
            reason = "missing permissions: " + ", ".join(missing)
        return AccountCheck(
            status=status,
            reason=reason,
            account_ref=str(node.get("id") or account.account_ref),
            display_name=display(node),
            scopes=scopes,
            renewed=renewed,
        )

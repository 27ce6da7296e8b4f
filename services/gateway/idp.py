"""The one door to the organization's identity provider (OpenID Connect Core 1.0).

Discovery (`/.well-known/openid-configuration`, its `issuer` checked against the setting), the
provider's JWKS (read again once when a token names an unknown key), the authorization URL
(code flow, PKCE S256, `state`, `nonce`, optionally `prompt=login` and `max_age`), the code
exchange (authlib's OAuth 2.0 client, the client authenticating with its secret) and the ID
token's checks: signature by a provider key with an asymmetric algorithm, `iss`, `aud` (and `azp`
when there are several audiences), `exp`, `iat`, `nonce` and, when `max_age` was asked for,
`auth_time`. ID tokens are verified with joserfc (authlib's own successor to `authlib.jose`);
Clearpost's own tokens stay with services/kit/tokens.py. Every failure is an `IdpRefused` (the
provider's answer is not acceptable) or an `UpstreamUnavailable` (it did not answer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.base_client.errors import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.kit.errors import BadRequest, UpstreamUnavailable

# Asymmetric only: `none` and HMAC (keyed with the client secret) are never accepted.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
# Clock skew tolerated between the provider and the gateway.
LEEWAY_SECONDS = 60
DISCOVERY_TTL_SECONDS = 3600
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class IdpRefused(BadRequest):
    """The provider's answer (a code, a token) is not acceptable; the message says why."""

    def __init__(self, detail: str, code: str = "oidc_refused") -> None:
        super().__init__(detail, code=code)


@dataclass(frozen=True)
class IdTokenClaims:
    subject: str
    claims: dict[str, Any]
    auth_time: int | None
    acr: str | None
    amr: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class IdpClient:
    issuer: str
    client_id: str
    client_secret: str | None = field(repr=False)
    scopes: str = "openid profile email"


class IdentityProvider:
    def __init__(self, http: httpx.AsyncClient, client: IdpClient) -> None:
        self._http = http
        self.client = client
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_TTL_SECONDS:
            return self._metadata
        url = f"{self.client.issuer}/.well-known/openid-configuration"
        document = await self._get_json(url)
        if str(document.get("issuer", "")).rstrip("/") != self.client.issuer:
            raise IdpRefused(
                f"the discovery document names issuer {document.get('issuer')!r}, not {self.client.issuer!r}",
                code="oidc_misconfigured",
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str):
                raise IdpRefused(f"the discovery document has no {key}", code="oidc_misconfigured")
        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise IdpRefused("the provider does not offer PKCE S256", code="oidc_misconfigured")
        self._metadata, self._metadata_at = document, time.monotonic()
        return document

    async def end_session_endpoint(self) -> str | None:
        value = (await self.metadata()).get("end_session_endpoint")
        return value if isinstance(value, str) else None

    async def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        code_verifier: str,
        prompt: str | None = None,
        max_age: int | None = None,
    ) -> str:
        endpoint = (await self.metadata())["authorization_endpoint"]
        extra: dict[str, str] = {"nonce": nonce}
        if prompt is not None:
            extra["prompt"] = prompt
        if max_age is not None:
            extra["max_age"] = str(max_age)
        async with self._oauth(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                endpoint, state=state, code_verifier=code_verifier, **extra
            )
        return str(url)

    async def exchange(self, *, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token response for `code` (RFC 6749 §4.1.3 with the PKCE verifier)."""
        endpoint = (await self.metadata())["token_endpoint"]
        try:
            async with self._oauth(redirect_uri) as oauth:
                token = await oauth.fetch_token(endpoint, code=code, code_verifier=code_verifier)
        except (OAuthError, ValueError) as exc:
            raise IdpRefused(f"the identity provider refused the authorization code: {exc}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the identity provider did not answer; try again") from exc
        return dict(token)

    async def verify_id_token(
        self, id_token: str, *, nonce: str, max_age: int | None = None
    ) -> IdTokenClaims:
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in ID_TOKEN_ALGORITHMS]
        token = await self._decode(id_token, algorithms)
        claims = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.client.issuer},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise IdpRefused(f"the ID token is not valid: {exc.description or exc.error}") from exc
        audience = claims.get("aud")
        audiences = (
            [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        )
        if self.client.client_id not in audiences:
            raise IdpRefused("the ID token is for another client (aud)")
        if len(audiences) > 1 and claims.get("azp") != self.client.client_id:
            raise IdpRefused("the ID token has several audiences and names another authorized party (azp)")
        if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
            raise IdpRefused("the ID token's nonce is missing or not the one this sign-in sent")
        auth_time = claims.get("auth_time")
        if auth_time is not None and not isinstance(auth_time, int):
            raise IdpRefused("the ID token's auth_time is not a number of seconds")
        if max_age is not None:
            if auth_time is None:
                raise IdpRefused("the ID token has no auth_time, which max_age asks for")
            if time.time() - auth_time > max_age + LEEWAY_SECONDS:
                raise IdpRefused("the provider did not authenticate the user again (auth_time too old)")
        amr = claims.get("amr") or []
        acr = claims.get("acr")
        return IdTokenClaims(
            subject=str(claims["sub"]),
            claims=claims,
            auth_time=auth_time,
            acr=acr if isinstance(acr, str) else None,
            amr=tuple(str(a) for a in amr) if isinstance(amr, list) else (),
        )

    async def verify_logout_token(self, logout_token: str) -> tuple[str | None, str | None]:
        """(sub, sid) of a back-channel logout token (OpenID Connect Back-Channel Logout 1.0 §2.6):
        signed by the provider, `iss`, `aud`, `iat`, `jti`, the logout event, `sub` or `sid`, no
        `nonce`."""
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        token = await self._decode(logout_token, [a for a in offered if a in ID_TOKEN_ALGORITHMS])
        claims = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.client.issuer},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise IdpRefused(f"the logout token is not valid: {exc.description or exc.error}") from exc
        audience = claims.get("aud")
        audiences = (
            [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        )
        if self.client.client_id not in audiences:
            raise IdpRefused("the logout token is for another client (aud)")
        events = claims.get("events")
        if not isinstance(events, dict) or BACKCHANNEL_LOGOUT_EVENT not in events:
            raise IdpRefused("the token is not a back-channel logout token (events)")
        if "nonce" in claims:
            raise IdpRefused("a logout token must not carry a nonce")
        sub, sid = claims.get("sub"), claims.get("sid")
        if not isinstance(sub, str) and not isinstance(sid, str):
            raise IdpRefused("the logout token names neither sub nor sid")
        return (sub if isinstance(sub, str) else None, sid if isinstance(sid, str) else None)

    async def _decode(self, id_token: str, algorithms: list[str]) -> jwt.Token:
        # Once with the keys read before, once more with the set read again (a rotated-in key).
        for refresh in (False, True):
            keys = await self._key_set(refresh=refresh)
            try:
                return jwt.decode(id_token, keys, algorithms=algorithms)
            except (JoseError, ValueError) as exc:
                if refresh:
                    detail = exc.error if isinstance(exc, JoseError) else str(exc)
                    raise IdpRefused(f"the ID token's signature is not valid: {detail}") from exc
        raise IdpRefused("the ID token's signature is not valid")  # pragma: no cover

    async def _key_set(self, *, refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            document = await self._get_json((await self.metadata())["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError) as exc:
                raise IdpRefused(
                    f"the provider's key set cannot be read: {exc}", code="oidc_misconfigured"
                ) from exc
        return self._keys

    def end_session_url(
        self, endpoint: str, *, post_logout_redirect_uri: str, id_token_hint: str | None
    ) -> str:
        query = {"client_id": self.client.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token_hint:
            query["id_token_hint"] = id_token_hint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, timeout=10.0)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the identity provider did not answer; try again") from exc
        if response.status_code != 200:
            raise UpstreamUnavailable(f"the identity provider answered {response.status_code} for {url}")
        try:
            body = response.json()
        except ValueError as exc:
            raise IdpRefused(f"the identity provider's {url} is not JSON", code="oidc_misconfigured") from exc
        if not isinstance(body, dict):
            raise IdpRefused(f"the identity provider's {url} is not a JSON object", code="oidc_misconfigured")
        return body

    def _oauth(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client.client_id,
            client_secret=self.client.client_secret,
            scope=self.client.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client.client_secret else "none",
            timeout=10.0,
            trust_env=False,
            follow_redirects=False,
        )

"""What every social network adapter does, and the words it reports back in.

One adapter per network (mastodon.py, bluesky.py, facebook.py, instagram.py, linkedin.py, x.py)
implements `NetworkAdapter`: post text with images, find a post it may already have made, delete a
post, read replies, check an account, and say what the network's limits are. Adapters speak HTTP
only through `NetworkHttp` (http.py), the one shared layer for timeouts, retries, rate limits and
the loopback-only rule for plain http.

Never double-post. Every adapter's `post` is called with a `Checkpoints` store that survives
crashes (a publisher table, one row per publication and key) and an `idempotency_key` derived from
the publication id. Adapters use the network's own idempotency where it has one (Mastodon's
`Idempotency-Key`, a Bluesky record key derived from the publication, Instagram's media container
stored before `media_publish`); elsewhere `find` looks on the network for a post made since the
first attempt before anything is sent again. An answer that leaves it unknown whether the network
took the post (a timeout after the request was sent, a 5xx to a create) raises `AmbiguousOutcome`:
the caller then asks `find` before it posts again.

Credentials reach adapters only as `AccountCredentials`, unsealed in memory for one call; they are
never logged, never put in an error message and never handed to Temporal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol, runtime_checkable

from services.publisher.channels import ChannelRejected, ChannelUnavailable, OutgoingMedia

NETWORKS = ("facebook", "instagram", "linkedin", "x", "mastodon", "bluesky")

# Account states, as `GET /api/v1/channel-accounts` shows them.
ACCOUNT_OK = "ok"
ACCOUNT_EXPIRED = "expired"  # the token ran out and could not be refreshed
ACCOUNT_REVOKED = "revoked"  # the network no longer accepts the credentials
ACCOUNT_MISSING_SCOPES = "missing_scopes"  # the grant lacks a permission posting needs
ACCOUNT_UNREACHABLE = "unreachable"  # the network did not answer the check (may be fine later)
ACCOUNT_STATES = (ACCOUNT_OK, ACCOUNT_EXPIRED, ACCOUNT_REVOKED, ACCOUNT_MISSING_SCOPES, ACCOUNT_UNREACHABLE)


# --- errors ------------------------------------------------------------------------------------


class NetworkRejected(ChannelRejected):
    """The network refused for good (4xx other than 401/403/408/409/429): the same call cannot help."""


class NetworkUnavailable(ChannelUnavailable):
    """The network did not answer or failed for now, and surely did not act: retrying is safe."""


class RateLimited(NetworkUnavailable):
    """The network's rate limit is spent until `retry_at` (Unix seconds), longer than we wait in place."""

    def __init__(self, message: str, *, retry_at: float) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class AmbiguousOutcome(ChannelUnavailable):
    """The request was sent and no clear answer came back: the network may have acted on it.
    Never send a create again without asking `find` first (or relying on the network's own
    idempotency)."""


class CredentialsRejected(ChannelRejected):
    """401: the token expired or was revoked. `expired` says which, where the network tells."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class MissingScopes(ChannelRejected):
    """403 for want of a permission: the account must be connected again with the scopes listed."""

    def __init__(self, message: str, *, scopes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.scopes = scopes


class NotSupported(ChannelRejected):
    """The network's API cannot do this at all (e.g. delete on a network without a delete call)."""


# --- what adapters are handed and give back ----------------------------------------------------


@dataclass(frozen=True)
class AccountCredentials:
    """One connected account, unsealed for the length of one call. Which fields are set depends on
    the network: `access_token` (OAuth networks, Mastodon), `refresh_token` and `expires_at` (OAuth
    networks that refresh), `identifier` and `app_password` (Bluesky), `account_ref` (the network's
    id of what is posted as: Facebook Page id, Instagram business user id, LinkedIn organization
    URN, Bluesky DID, Mastodon/X user id), `settings` (network extras, e.g. Mastodon's
    `max_characters`, a Bluesky session's `access_jwt` and `refresh_jwt`)."""

    network: str
    name: str
    base_url: str
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    identifier: str | None = None
    app_password: str | None = field(default=None, repr=False)
    account_ref: str | None = None
    scopes: tuple[str, ...] = ()
    settings: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class PostRequest:
    """One rendition to post: the exact text reviewers approved for this network, and its images.
    `publication_id` is stable across retries; `idempotency_key` is derived from it."""

    publication_id: str
    idempotency_key: str
    text: str
    media: tuple[OutgoingMedia, ...] = ()
    # Public, expiring URLs of the images, by digest, for networks that fetch images themselves
    # (Instagram); empty when the deployment has no public media URL.
    media_urls: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PostedRef:
    """A post on the network: its id there, its public URL, and the network's answer as evidence."""

    external_id: str
    url: str | None
    evidence: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class DeletedRef:
    """What the network said when asked to delete a post. `already_gone`: it answered that the post
    does not exist (deleted before, or by hand), which counts as done."""

    external_id: str
    status_code: int
    answer: str
    already_gone: bool = False


@dataclass(frozen=True)
class Reply:
    external_id: str
    author: str
    text: str
    created_at: datetime | None
    url: str | None = None
    in_reply_to: str | None = None


@dataclass(frozen=True)
class CommentPage:
    """One page of a post's comments after `cursor`, oldest first, and where the next read starts.

    `cursor` is what to pass next time (the same one when nothing new came: never None after a
    read that saw anything); `more` says another page is there now. The publisher stores the cursor
    in the same transaction as the comments, so nothing is read twice or skipped (docs/comments.md).
    """

    replies: list[Reply]
    cursor: str | None
    more: bool = False


@dataclass(frozen=True)
class AccountCheck:
    """An account's state as the network sees it now, and what to remember about it."""

    status: str
    reason: str = ""
    account_ref: str | None = None
    display_name: str | None = None
    scopes: tuple[str, ...] = ()
    # Network facts worth keeping with the account (e.g. Mastodon's instance `max_characters`).
    settings: Mapping[str, str] = field(default_factory=dict)
    # Credentials the check renewed (a refreshed OAuth token, a new Bluesky session); None if none.
    renewed: AccountCredentials | None = None


@dataclass(frozen=True)
class NetworkLimits:
    """What one post may hold on a network. `measure` counts text as the network does (X weighs
    characters and counts every link as 23; Bluesky counts graphemes); `unit` names that count."""

    max_length: int
    measure: Callable[[str], int]
    unit: str = "characters"
    max_images: int = 4
    max_hashtags: int | None = None
    requires_image: bool = False
    max_image_bytes: int | None = None
    # How many characters a feed shows before it cuts the text off behind "more" (None: all of it).
    # Screening checks that what fair balance needs is shown before this fold (docs/channels.md).
    fold: int | None = None


class Checkpoints(Protocol):
    """Durable notes an adapter keeps about one publication (committed before it returns)."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str) -> None: ...


@dataclass(frozen=True)
class OAuthEndpoints:
    """Where a network's OAuth 2.0 authorization code flow (with PKCE) runs, and what it asks for."""

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    # How the client authenticates at the token endpoint ("client_secret_basic" or "client_secret_post").
    token_auth: str = "client_secret_post"
    pkce: bool = True


@runtime_checkable
class NetworkAdapter(Protocol):
    network: ClassVar[str]

    def limits(self, account: AccountCredentials) -> NetworkLimits:
        """The network's limits for this account (an instance's own limit, on Mastodon)."""
        ...

    async def check_account(self, account: AccountCredentials) -> AccountCheck:
        """Is the account usable for posting now? Never raises for a refused credential: says so."""
        ...

    async def post(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints
    ) -> PostedRef: ...

    async def find(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints, *, since: datetime
    ) -> PostedRef | None:
        """The post this request made, if the network has it (looked up by what the network offers:
        a stored id, a record key, or the account's posts since `since` with the same text)."""
        ...

    async def delete(self, account: AccountCredentials, external_id: str) -> DeletedRef: ...

    async def replies(self, account: AccountCredentials, external_id: str) -> list[Reply]: ...


@runtime_checkable
class CommentReader(Protocol):
    """An adapter that reads a post's comments page by page from a cursor (all six networks; how
    each reads and what its cursor holds: docs/comments.md). The ingest treats every one alike."""

    async def comments(
        self, account: AccountCredentials, external_id: str, *, cursor: str | None
    ) -> CommentPage: ...


@runtime_checkable
class CommentModerator(Protocol):
    """An adapter that can hide a comment from the public (Facebook, Instagram)."""

    async def hide_comment(self, account: AccountCredentials, comment_id: str) -> None: ...


@runtime_checkable
class OAuthNetwork(Protocol):
    """An adapter whose accounts connect through the browser (OAuth 2.0 authorization code)."""

    def oauth_endpoints(self) -> OAuthEndpoints: ...

    async def account_from_grant(
        self, name: str, token: Mapping[str, object], *, target: str | None
    ) -> AccountCredentials:
        """The account a fresh token grant posts as (e.g. the Facebook Page `target` names, whose
        page token is read with the user token), ready to seal."""
        ...

    async def refresh(self, account: AccountCredentials) -> AccountCredentials:
        """New credentials from the refresh token; CredentialsRejected when the network refuses."""
        ...


@dataclass(frozen=True)
class NetworkConfig:
    """One network's deployment settings: where its API is (a local fake in tests), where its OAuth
    pages are, and this deployment's app registration with it (OAuth networks)."""

    api_base_url: str
    auth_base_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    timeout_seconds: float = 15.0
    max_wait_seconds: float = 60.0

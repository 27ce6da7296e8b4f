"""What the Meta Graph fake holds, and the knobs tests turn on it (`app.state.fake`).

Everything a test wants to see after the adapter ran is here: Page posts and photos, Instagram
containers and media, deletes, tokens issued, and every request (method, path and whether a token
was put in its query string, which the adapters must never do).
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

PAGE_PERMISSIONS = frozenset(
    {"pages_manage_posts", "pages_read_engagement", "pages_show_list", "pages_manage_engagement"}
)
IG_PERMISSIONS = frozenset(
    {"instagram_basic", "instagram_content_publish", "instagram_manage_comments", "business_management"}
)
KNOWN_PERMISSIONS = PAGE_PERMISSIONS | IG_PERMISSIONS | {"public_profile", "email"}
SHORT_LIVED_SECONDS = 2 * 3600
LONG_LIVED_SECONDS = 60 * 24 * 3600


@dataclass
class FakeToken:
    value: str
    kind: str  # "user" or "page"
    user_id: str
    scopes: set[str]
    page_id: str | None = None
    parent: str | None = None  # the user token a Page token was read with
    expires_in: int | None = None
    expired: bool = False
    revoked_subcode: int | None = None  # 458 app removed, 460 password changed


@dataclass
class FakePage:
    id: str
    name: str
    admins: set[str]
    ig_user_id: str | None = None
    ig_username: str | None = None


@dataclass
class FakePhoto:
    id: str
    page_id: str
    data: bytes
    content_type: str
    published: bool


@dataclass
class FakePost:
    id: str
    page_id: str
    message: str
    created_time: float
    photo_ids: list[str]
    deleted: bool = False

    @property
    def permalink_url(self) -> str:
        return f"https://www.facebook.com/{self.id.replace('_', '/posts/')}"


@dataclass
class FakeContainer:
    id: str
    ig_user_id: str
    caption: str
    media_type: str  # IMAGE or CAROUSEL
    image_url: str | None = None
    image: bytes | None = None  # what was fetched from image_url
    is_carousel_item: bool = False
    children: list[str] = field(default_factory=list)
    polls_left: int = 0
    status_code: str = "IN_PROGRESS"


@dataclass
class FakeMedia:
    id: str
    ig_user_id: str
    caption: str
    timestamp: float
    container_id: str
    images: list[bytes]

    @property
    def permalink(self) -> str:
        return f"https://www.instagram.com/p/FAKE{self.id}/"


@dataclass
class FakeComment:
    id: str
    object_id: str
    message: str
    author: str
    created_time: float
    parent_id: str | None = None
    is_hidden: bool = False


@dataclass
class Failure:
    status: int
    body: dict[str, object] | None
    headers: dict[str, str]


@dataclass
class FakeMeta:
    """The Graph API's world, one app registration (client_id/secret, redirect URIs)."""

    client_id: str = "fake-app-id"
    client_secret: str = "fake-app-secret"
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1/callback",)
    clock: Callable[[], float] = time.time
    # HTTP status Graph uses for token (190), permission (10/200) and rate-limit (4) errors.
    token_error_status: int = 400
    permission_error_status: int = 403
    rate_limit_status: int = 400
    container_polls: int = 1  # status checks that answer IN_PROGRESS before FINISHED
    # Instagram lists comments in no documented order; the fake lists the newest first.
    ig_newest_first: bool = True
    ig_replies_expanded: int = 2  # replies shown in a comment's `replies{...}` before paging.next
    approving_user: str = "user-1"  # who "clicks Continue" in the login dialog

    users: dict[str, str] = field(default_factory=dict)
    pages: dict[str, FakePage] = field(default_factory=dict)
    tokens: dict[str, FakeToken] = field(default_factory=dict)
    codes: dict[str, dict[str, object]] = field(default_factory=dict)
    photos: dict[str, FakePhoto] = field(default_factory=dict)
    posts: dict[str, FakePost] = field(default_factory=dict)
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    media: dict[str, FakeMedia] = field(default_factory=dict)
    comments: list[FakeComment] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    tokens_in_query: list[str] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    hangs: dict[str, float] = field(default_factory=dict)
    # Rate limit: None = unlimited; at 0 every call is refused until `regain_minutes` have passed.
    calls_remaining: int | None = None
    call_budget: int = 200
    regain_minutes: int = 1
    spent_until: float | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(18_100_000_000_000_000))

    # --- building the world --------------------------------------------------------------------

    def next_id(self) -> str:
        return str(next(self._ids))

    def add_user(self, user_id: str = "user-1", name: str = "Alex Admin") -> str:
        self.users[user_id] = name
        return user_id

    def add_page(
        self,
        page_id: str,
        name: str,
        *,
        admin: str = "user-1",
        ig_user_id: str | None = None,
        ig_username: str = "",
    ) -> FakePage:
        page = FakePage(page_id, name, {admin}, ig_user_id, ig_username or None)
        self.pages[page_id] = page
        return page

    def issue_token(
        self,
        user_id: str,
        scopes: set[str] | frozenset[str],
        *,
        kind: str = "user",
        page_id: str | None = None,
        parent: str | None = None,
        expires_in: int | None = SHORT_LIVED_SECONDS,
    ) -> FakeToken:
        prefix = "EAAP" if kind == "page" else "EAAU"
        token = FakeToken(
            prefix + secrets.token_urlsafe(24), kind, user_id, set(scopes), page_id, parent, expires_in
        )
        self.tokens[token.value] = token
        return token

    def page_token(self, user_token: FakeToken, page_id: str) -> FakeToken:
        """The Page token read with `user_token` (one per user token and Page, stable)."""
        for token in self.tokens.values():
            if token.kind == "page" and token.parent == user_token.value and token.page_id == page_id:
                return token
        expires = None if user_token.expires_in != SHORT_LIVED_SECONDS else SHORT_LIVED_SECONDS
        return self.issue_token(
            user_token.user_id,
            user_token.scopes,
            kind="page",
            page_id=page_id,
            parent=user_token.value,
            expires_in=expires,
        )

    def comment(
        self,
        object_id: str,
        message: str,
        author: str = "Pat Patient",
        *,
        parent_id: str | None = None,
        at: float | None = None,
    ) -> FakeComment:
        """Someone comments on `object_id` (a Page post or IG media), or replies to the comment
        `parent_id` under it; `at` backdates it (a comment Instagram shows late)."""
        moment = self.clock() if at is None else at
        comment = FakeComment(self.next_id(), object_id, message, author, moment, parent_id)
        self.comments.append(comment)
        return comment

    # --- knobs ---------------------------------------------------------------------------------

    def fail_next(
        self,
        path: str,
        count: int = 1,
        *,
        status: int = 500,
        body: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `count` requests to `path` (without the version, e.g. "/123/feed") get `status`."""
        self.failures.setdefault(path, []).extend(
            Failure(status, body, dict(headers or {})) for _ in range(count)
        )

    def hang_next(self, path: str, seconds: float) -> None:
        """The next request to `path` is done (stored), then answered only after `seconds`."""
        self.hangs[path] = seconds

    def expire(self, token: str) -> None:
        self.tokens[token].expired = True

    def revoke(self, token: str, *, subcode: int = 458) -> None:
        """The token (and the Page tokens read with it) stop working, as when the app is removed."""
        for candidate in self.tokens.values():
            if candidate.value == token or candidate.parent == token:
                candidate.revoked_subcode = subcode

    def drop_scope(self, token: str, scope: str) -> None:
        """The user unticked a permission: the token and its Page tokens lose it."""
        for candidate in self.tokens.values():
            if candidate.value == token or candidate.parent == token:
                candidate.scopes.discard(scope)

    def set_rate_limit(self, remaining: int | None, *, regain_minutes: int = 1, budget: int = 200) -> None:
        self.calls_remaining = remaining
        self.call_budget = budget
        self.regain_minutes = regain_minutes
        self.spent_until = None

    # --- what was posted ------------------------------------------------------------------------

    def live_posts(self, page_id: str) -> list[FakePost]:
        return [post for post in self.posts.values() if post.page_id == page_id and not post.deleted]

    def live_media(self, ig_user_id: str) -> list[FakeMedia]:
        return [item for item in self.media.values() if item.ig_user_id == ig_user_id]

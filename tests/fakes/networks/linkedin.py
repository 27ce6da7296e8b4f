"""A local LinkedIn: the OAuth 2.0 pages, token introspection, organization ACLs, the versioned Posts,
Images and Social Actions APIs, as an organization page's client sees them.

What it checks as LinkedIn does: `LinkedIn-Version` and `X-Restli-Protocol-Version` headers, Bearer
tokens (401 `INVALID_ACCESS_TOKEN` 65600, `REVOKED_ACCESS_TOKEN` 65601, `EXPIRED_ACCESS_TOKEN`),
scopes (403 `ACCESS_DENIED`), the post payload's required fields, image ownership, and commentary in
the "little" text format: a reserved character shows only when escaped with a backslash; an unescaped
one (other than a `#hashtag`) cuts the shown text there, as LinkedIn silently truncates.
`state.shown(urn)` is what a viewer sees. 429 carries no reset header (LinkedIn's limits are daily).
Comments (`/rest/socialActions/{post or comment URN}/comments`) come newest first (LinkedIn
documents no order), paged by `start`/`count` with `paging.total`, each with its `commentsSummary`;
`state.add_comment` adds one, or a reply to a comment.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from tests.fakes.networks.fake_kit import FaultPlan, IssuedToken, OAuthRefused, TokenBook, fault_middleware

SCOPES = ("w_organization_social", "r_organization_social", "rw_organization_admin")
RESERVED = set("|{}@[]()<>#\\*_~")
ACCESS_LIFETIME = 60 * 24 * 3600  # 60 days, as LinkedIn issues them
REFRESH_LIFETIME = 365 * 24 * 3600


def render_little(commentary: str) -> str:
    """What a viewer sees of a little-format commentary (escapes resolved, truncated at the first
    unescaped reserved character that is not a hashtag)."""
    shown: list[str] = []
    index = 0
    while index < len(commentary):
        char = commentary[index]
        if char == "\\" and index + 1 < len(commentary):
            shown.append(commentary[index + 1])
            index += 2
            continue
        if char == "#" and index + 1 < len(commentary) and commentary[index + 1].isalnum():
            shown.append(char)
            index += 1
            continue
        if char in RESERVED:
            break
        shown.append(char)
        index += 1
    return "".join(shown)


@dataclass
class FakePost:
    urn: str
    author: str
    commentary: str
    content: dict[str, Any] | None
    created_at_ms: int
    payload: dict[str, Any]


@dataclass
class FakeImage:
    urn: str
    owner: str
    data: bytes | None = None


@dataclass
class FakeLinkedInState:
    tokens: TokenBook
    plan: FaultPlan = field(default_factory=FaultPlan)
    person: str = "urn:li:person:fakeadmin"
    organizations: dict[str, str] = field(default_factory=lambda: {"2414183": "Clearpost Clinic"})
    posts: dict[str, FakePost] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    # Posts the author listing does not show yet (LinkedIn's listing lags behind creates).
    unlisted: set[str] = field(default_factory=set)
    images: dict[str, FakeImage] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    versions_seen: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(7100000000000000001))

    def next_id(self) -> int:
        return next(self._ids)

    def shown(self, urn: str) -> str:
        return render_little(self.posts[urn].commentary)

    def add_comment(
        self, post_urn: str, actor: str, text: str, *, parent: str | None = None, at_ms: int | None = None
    ) -> str:
        """A member comments on `post_urn`, or replies to the comment URN `parent` under it; `at_ms`
        sets `created.time`. Answers the comment's id (its URN is `urn:li:comment:(post,id)`)."""
        comment_id = str(self.next_id())
        thread = parent or post_urn
        self.comments.setdefault(thread, []).append(
            {
                "id": comment_id,
                "$URN": f"urn:li:comment:({post_urn},{comment_id})",
                "actor": actor,
                "object": thread,
                "message": {"text": text},
                "created": {"actor": actor, "time": int(time.time() * 1000) if at_ms is None else at_ms},
            }
        )
        return comment_id

    def comment_urn(self, post_urn: str, comment_id: str) -> str:
        return f"urn:li:comment:({post_urn},{comment_id})"

    def grant(self, scopes: tuple[str, ...] = SCOPES) -> IssuedToken:
        """A token as if the admin had connected the page (for tests that skip the browser flow)."""
        return self.tokens.issue(self.person, scopes, next(iter(self.tokens.clients)))


def error(status: int, message: str, *, code: str = "", service_code: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": status, "message": message}
    if code:
        body["code"] = code
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return JSONResponse(body, status_code=status)


def create_app(*, client_id: str = "li-client", client_secret: str = "li-secret") -> FastAPI:
    app = FastAPI()
    state = FakeLinkedInState(
        tokens=TokenBook(
            clients={client_id: client_secret},
            allowed_scopes=SCOPES,
            subject="urn:li:person:fakeadmin",
            access_lifetime=ACCESS_LIFETIME,
            rotate_refresh=False,
        )
    )
    app.state.fake = state
    fault_middleware(
        app,
        state.plan,
        rate_headers=lambda plan: {},
        error_body=lambda status, message: {"status": status, "message": message},
        exempt=("/oauth/", "/upload/"),
    )

    def authorized(request: Request, scope: str | None) -> IssuedToken | JSONResponse:
        version = request.headers.get("linkedin-version", "")
        if not (len(version) == 6 and version.isdigit()):
            return error(
                400,
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
                code="VERSION_MISSING",
            )
        state.versions_seen.append(version)
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            return error(400, "X-Restli-Protocol-Version 2.0.0 is required", code="ILLEGAL_ARGUMENT")
        token = state.tokens.lookup(request.headers.get("authorization"))
        if token is None:
            return error(401, "Invalid access token", code="INVALID_ACCESS_TOKEN", service_code=65600)
        if token.revoked:
            return error(
                401,
                "The token used in the request has been revoked by the user",
                code="REVOKED_ACCESS_TOKEN",
                service_code=65601,
            )
        if token.expired:
            return error(
                401,
                "The token used in the request has expired",
                code="EXPIRED_ACCESS_TOKEN",
                service_code=65602,
            )
        if scope is not None and scope not in token.scopes:
            return error(
                403,
                f"Not enough permissions to access: {request.method} {request.url.path}",
                code="ACCESS_DENIED",
                service_code=100,
            )
        return token

    # --- OAuth ---------------------------------------------------------------------------------

    @app.get("/oauth/v2/authorization")
    async def authorization(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            code = state.tokens.authorize(params)
        except OAuthRefused as refused:
            return JSONResponse({"error": refused.error, "error_description": refused.description}, 400)
        query = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=302)

    @app.post("/oauth/v2/accessToken")
    async def access_token(
        grant_type: str = Form(""),
        code: str = Form(""),
        redirect_uri: str = Form(""),
        code_verifier: str = Form(""),
        refresh_token: str = Form(""),
        client_id: str | None = Form(None),
        client_secret: str | None = Form(None),
    ) -> JSONResponse:
        try:
            client = state.tokens.client(client_id, client_secret)
            if grant_type == "authorization_code":
                token = state.tokens.redeem(client, code, code_verifier, redirect_uri)
            elif grant_type == "refresh_token":
                token = state.tokens.refresh(client, refresh_token)
            else:
                raise OAuthRefused("unsupported_grant_type", f"grant_type {grant_type!r}")
        except OAuthRefused as refused:
            body = {"error": refused.error, "error_description": refused.description}
            return JSONResponse(body, status_code=refused.status)
        return JSONResponse(
            {
                "access_token": token.access_token,
                "expires_in": ACCESS_LIFETIME,
                "refresh_token": token.refresh_token,
                "refresh_token_expires_in": REFRESH_LIFETIME,
                "scope": ",".join(token.scopes),
            }
        )

    @app.post("/oauth/v2/introspectToken")
    async def introspect(
        token: str = Form(""), client_id: str | None = Form(None), client_secret: str | None = Form(None)
    ) -> JSONResponse:
        try:
            state.tokens.client(client_id, client_secret)
        except OAuthRefused as refused:
            return JSONResponse({"error": refused.error, "error_description": refused.description}, 401)
        issued = state.tokens.tokens.get(token)
        if issued is None:
            return JSONResponse({"active": False})
        status = "revoked" if issued.revoked else "expired" if issued.expired else "active"
        return JSONResponse(
            {
                "active": status == "active",
                "client_id": issued.client_id,
                "authorized_at": int(issued.created_at),
                "created_at": int(issued.created_at),
                "status": status,
                "expires_at": int(issued.expires_at),
                "scope": ",".join(issued.scopes),
                "auth_type": "3L",
            }
        )

    # --- organizations -------------------------------------------------------------------------

    @app.get("/rest/organizationAcls")
    async def organization_acls(request: Request) -> Response:
        token = authorized(request, "rw_organization_admin")
        if isinstance(token, Response):
            return token
        query = request.query_params
        if query.get("q") != "roleAssignee":
            return error(400, "q=roleAssignee is required", code="ILLEGAL_ARGUMENT")
        elements = [
            {
                "roleAssignee": token.subject,
                "state": "APPROVED",
                "role": "ADMINISTRATOR",
                "organization": f"urn:li:organization:{org_id}",
            }
            for org_id in state.organizations
            if query.get("role", "ADMINISTRATOR") == "ADMINISTRATOR"
        ]
        return JSONResponse({"elements": elements, "paging": {"count": 10, "start": 0, "links": []}})

    @app.get("/rest/organizations/{org_id}")
    async def organization(org_id: str, request: Request) -> Response:
        token = authorized(request, "rw_organization_admin")
        if isinstance(token, Response):
            return token
        if org_id not in state.organizations:
            return error(404, f"Organization {org_id} not found", code="NOT_FOUND")
        name = state.organizations[org_id]
        return JSONResponse({"id": int(org_id), "localizedName": name, "vanityName": name.lower()})

    # --- images ----------------------------------------------------------------------------------

    @app.post("/rest/images")
    async def initialize_upload(request: Request) -> Response:
        token = authorized(request, "w_organization_social")
        if isinstance(token, Response):
            return token
        if request.query_params.get("action") != "initializeUpload":
            return error(400, "action=initializeUpload is required", code="ILLEGAL_ARGUMENT")
        body = await request.json()
        owner = (body.get("initializeUploadRequest") or {}).get("owner", "")
        if owner not in {f"urn:li:organization:{o}" for o in state.organizations}:
            return error(403, f"Not enough permissions to upload images for {owner}", code="ACCESS_DENIED")
        image_id = f"D4E10AQ{state.next_id()}"
        state.images[f"urn:li:image:{image_id}"] = FakeImage(f"urn:li:image:{image_id}", owner)
        upload_url = f"{str(request.base_url).rstrip('/')}/upload/{image_id}?ca=vector_feedshare&sync=0"
        return JSONResponse(
            {
                "value": {
                    "uploadUrlExpiresAt": int(time.time() * 1000) + 3_600_000,
                    "uploadUrl": upload_url,
                    "image": f"urn:li:image:{image_id}",
                }
            }
        )

    @app.put("/upload/{image_id}")
    async def upload(image_id: str, request: Request) -> Response:
        image = state.images.get(f"urn:li:image:{image_id}")
        token = state.tokens.lookup(request.headers.get("authorization"))
        if token is None or token.revoked or token.expired:
            return error(401, "Invalid access token", code="INVALID_ACCESS_TOKEN", service_code=65600)
        if image is None or request.query_params.get("ca") != "vector_feedshare":
            return error(404, "upload URL not found", code="NOT_FOUND")
        image.data = await request.body()
        return Response(status_code=201)

    # --- posts -----------------------------------------------------------------------------------

    def post_json(post: FakePost) -> dict[str, Any]:
        document = dict(post.payload)
        document.update(
            id=post.urn,
            createdAt=post.created_at_ms,
            lastModifiedAt=post.created_at_ms,
            publishedAt=post.created_at_ms,
        )
        return document

    @app.post("/rest/posts")
    async def create_post(request: Request) -> Response:
        token = authorized(request, "w_organization_social")
        if isinstance(token, Response):
            return token
        body = await request.json()
        missing = [
            name
            for name in ("author", "commentary", "visibility", "distribution", "lifecycleState")
            if name not in body
        ]
        if missing:
            message = "".join(f"ERROR :: /{name} :: field is required but not found\n" for name in missing)
            return JSONResponse({"message": message, "status": 422}, status_code=422)
        author = body["author"]
        if author not in {f"urn:li:organization:{o}" for o in state.organizations}:
            return error(403, f"Not enough permissions to post as {author}", code="ACCESS_DENIED")
        if len(render_little(body["commentary"])) > 3000:
            return error(422, "commentary is longer than 3000 characters", code="UNPROCESSABLE_ENTITY")
        content = body.get("content")
        image_urns: list[str] = []
        if content:
            if "media" in content:
                image_urns = [content["media"]["id"]]
            elif "multiImage" in content:
                image_urns = [image["id"] for image in content["multiImage"]["images"]]
                if not 2 <= len(image_urns) <= 20:
                    return error(422, "multiImage takes 2 to 20 images", code="UNPROCESSABLE_ENTITY")
        for urn in image_urns:
            image = state.images.get(urn)
            if image is None or image.data is None or image.owner != author:
                return error(422, f"{urn} is not an uploaded image of {author}", code="UNPROCESSABLE_ENTITY")
        for earlier in state.posts.values():
            if earlier.author == author and earlier.commentary == body["commentary"]:
                return error(422, f"Content is a duplicate of {earlier.urn}", code="UNPROCESSABLE_ENTITY")
        urn = f"urn:li:share:{state.next_id()}"
        state.posts[urn] = FakePost(urn, author, body["commentary"], content, int(time.time() * 1000), body)
        return Response(status_code=201, headers={"x-restli-id": urn})

    @app.get("/rest/posts")
    async def posts_by_author(request: Request) -> Response:
        token = authorized(request, "r_organization_social")
        if isinstance(token, Response):
            return token
        query = request.query_params
        if query.get("q") != "author" or "author" not in query:
            return error(400, "q=author and author are required", code="ILLEGAL_ARGUMENT")
        count = int(query.get("count", "10"))
        found = sorted(
            (p for p in state.posts.values() if p.author == query["author"] and p.urn not in state.unlisted),
            key=lambda p: p.created_at_ms,
            reverse=True,
        )
        return JSONResponse(
            {"elements": [post_json(p) for p in found[:count]], "paging": {"count": count, "start": 0}}
        )

    @app.get("/rest/posts/{urn:path}")
    async def get_post(urn: str, request: Request) -> Response:
        token = authorized(request, "r_organization_social")
        if isinstance(token, Response):
            return token
        if urn not in state.posts:
            return error(404, f"Post {urn} does not exist", code="NOT_FOUND")
        return JSONResponse(post_json(state.posts[urn]))

    @app.delete("/rest/posts/{urn:path}")
    async def delete_post(urn: str, request: Request) -> Response:
        token = authorized(request, "w_organization_social")
        if isinstance(token, Response):
            return token
        if urn not in state.posts:
            return error(404, f"Post {urn} does not exist", code="NOT_FOUND")
        del state.posts[urn]
        state.deleted.append(urn)
        return Response(status_code=204)

    @app.get("/rest/socialActions/{urn:path}")
    async def comments(urn: str, request: Request) -> Response:
        token = authorized(request, "r_organization_social")
        if isinstance(token, Response):
            return token
        if not urn.endswith("/comments"):
            return error(404, "not found", code="NOT_FOUND")
        # A post's comments, or a comment's replies (its URN in place of the post's), newest first
        # (LinkedIn documents no order), paged by start and count, each with its replies' count.
        thread = urn.removesuffix("/comments")
        every = list(reversed(state.comments.get(thread, [])))
        start, count = (
            int(request.query_params.get("start", "0")),
            int(request.query_params.get("count", "10")),
        )
        elements = [
            {
                **element,
                "commentsSummary": {
                    "aggregatedTotalComments": len(state.comments.get(element["$URN"], [])),
                    "totalFirstLevelComments": len(state.comments.get(element["$URN"], [])),
                },
            }
            for element in every[start : start + count]
        ]
        paging = {"count": count, "start": start, "total": len(every), "links": []}
        return JSONResponse({"elements": elements, "paging": paging})

    return app

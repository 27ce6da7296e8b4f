"""A local fake of the Meta Graph API: Facebook Pages, Instagram business accounts, Facebook Login.

`create_app()` serves, under `/<version>/`: the login dialog (`dialog/oauth`, auto-approving, with
PKCE S256) and token endpoint (`oauth/access_token`: authorization_code and fb_exchange_token, no
refresh tokens, as Meta), `me/accounts`, `me/permissions`, nodes (Pages, IG users, posts, photos,
containers, media) read and deleted by id, `/{page}/photos`, `/{page}/feed`, `/{page}/published_posts`,
`/{ig-user}/media` (creating a container fetches `image_url` for real, loopback only),
`/{ig-user}/media_publish`, `/{object}/comments` (Instagram: top-level comments newest first, their
`replies{...}` expanded when asked, two before `paging.next`), and `/{ig-comment-id}/replies`.

Like Graph, it wants `Authorization: Bearer`, answers errors as `{"error": {"message", "type",
"code", "error_subcode", "fbtrace_id"}}` (HTTP 400 by default, as Graph mostly does; the status is a
knob), and puts `X-App-Usage` / `X-Business-Use-Case-Usage` on every answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tests.fakes.networks.meta_state import (
    IG_PERMISSIONS,
    KNOWN_PERMISSIONS,
    LONG_LIVED_SECONDS,
    PAGE_PERMISSIONS,
    FakeComment,
    FakeContainer,
    FakeMedia,
    FakeMeta,
    FakePhoto,
    FakePost,
    FakeToken,
)

VERSION = "v21.0"


class GraphFailure(Exception):
    def __init__(
        self, status: int, message: str, code: int, *, subcode: int | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.subcode = subcode
        self.kind = kind or (
            "OAuthException" if code in (190, 200, 10, 2500, 100) else "GraphMethodException"
        )

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": "A" + secrets.token_hex(8),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


def graph_time(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(moment))


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("127.0.0.1", "localhost", "::1")


def create_app(state: FakeMeta | None = None, *, version: str = VERSION) -> FastAPI:
    fake = state or FakeMeta()
    app = FastAPI()
    app.state.fake = fake
    handlers = GraphHandlers(fake)

    @app.api_route(f"/{version}/{{rest:path}}", methods=["GET", "POST", "DELETE"])
    async def graph(rest: str, request: Request) -> Response:
        path = "/" + rest
        fake.requests.append((request.method, path))
        if "access_token" in request.query_params:
            fake.tokens_in_query.append(path)
        failures = fake.failures.get(path)
        if failures:
            failure = failures.pop(0)
            body = failure.body or GraphFailure(failure.status, "An unexpected error has occurred.", 2).body()
            return JSONResponse(
                body, status_code=failure.status, headers={**handlers.usage(), **failure.headers}
            )
        try:
            response = await handlers.dispatch(request, rest.strip("/").split("/"))
        except GraphFailure as failure:
            headers = handlers.usage(spent=failure.code == 4)
            return JSONResponse(failure.body(), status_code=failure.status, headers=headers)
        hang = fake.hangs.pop(path, None)
        if hang:
            await asyncio.sleep(hang)  # done and stored; the answer comes too late
        if not isinstance(response, RedirectResponse):
            response.headers.update(handlers.usage())
        return response

    return app


class GraphHandlers:
    def __init__(self, fake: FakeMeta) -> None:
        self.fake = fake

    # --- cross-cutting -------------------------------------------------------------------------

    def usage(self, *, spent: bool = False) -> dict[str, str]:
        fake = self.fake
        if fake.calls_remaining is None:
            percent = 1
        else:
            percent = min(
                100, round(100 * (fake.call_budget - fake.calls_remaining) / max(1, fake.call_budget))
            )
        percent = 100 if spent else percent
        regain = fake.regain_minutes if percent >= 100 else 0
        app_usage = {"call_count": percent, "total_cputime": 1, "total_time": 1}
        buc = {
            "page": [
                {
                    "type": "pages",
                    "call_count": percent,
                    "total_cputime": 1,
                    "total_time": 1,
                    "estimated_time_to_regain_access": regain,
                }
            ]
        }
        return {"X-App-Usage": json.dumps(app_usage), "X-Business-Use-Case-Usage": json.dumps(buc)}

    def spend_call(self) -> None:
        fake = self.fake
        if fake.calls_remaining is None:
            return
        if fake.spent_until is not None and fake.clock() >= fake.spent_until:
            fake.calls_remaining, fake.spent_until = None, None
            return
        if fake.calls_remaining <= 0:
            fake.spent_until = fake.spent_until or fake.clock() + 60 * fake.regain_minutes
            raise GraphFailure(fake.rate_limit_status, "(#4) Application request limit reached", 4)
        fake.calls_remaining -= 1

    def bearer(self, request: Request) -> FakeToken:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise GraphFailure(
                self.fake.token_error_status,
                "An active access token must be used to query information about the current user.",
                2500,
            )
        token = self.fake.tokens.get(header[7:].strip())
        status = self.fake.token_error_status
        if token is None:
            raise GraphFailure(status, "Invalid OAuth access token - Cannot parse access token", 190)
        if token.revoked_subcode is not None:
            message = (
                "Error validating access token: The session has been invalidated because the user changed "
                "their password."
                if token.revoked_subcode == 460
                else "Error validating access token: The user has not authorized application."
            )
            raise GraphFailure(status, message, 190, subcode=token.revoked_subcode)
        if token.expired:
            raise GraphFailure(
                status, "Error validating access token: Session has expired.", 190, subcode=463
            )
        return token

    def need(self, token: FakeToken, *scopes: str) -> None:
        for scope in scopes:
            if scope not in token.scopes:
                code = 10 if scope in IG_PERMISSIONS else 200
                raise GraphFailure(
                    self.fake.permission_error_status,
                    f"(#{code}) Requires {scope} permission for this action",
                    code,
                )

    def missing(self, object_id: str, verb: str = "get") -> GraphFailure:
        return GraphFailure(
            400,
            f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be loaded "
            "due to missing permissions, or does not support this operation.",
            100,
            subcode=33,
        )

    def page_acting(self, token: FakeToken, page_id: str) -> None:
        """Posting as a Page needs that Page's token."""
        if token.kind != "page" or token.page_id != page_id:
            raise GraphFailure(
                403, "(#200) The user hasn't authorized the application to perform this action", 200
            )

    def ig_acting(self, token: FakeToken, ig_user_id: str) -> None:
        for page in self.fake.pages.values():
            if page.ig_user_id == ig_user_id and (
                (token.kind == "page" and token.page_id == page.id) or token.user_id in page.admins
            ):
                return
        raise self.missing(ig_user_id)

    @staticmethod
    async def form(request: Request) -> dict[str, Any]:
        if request.method == "GET":
            return dict(request.query_params)
        form = await request.form()
        return {key: value for key, value in form.items()}

    @staticmethod
    def page_of(items: list[dict[str, Any]], params: dict[str, str], base: str, token: str) -> dict[str, Any]:
        limit = min(100, int(params.get("limit", "25")))
        start = int(params.get("after", "0"))
        chunk = items[start : start + limit]
        document: dict[str, Any] = {"data": chunk}
        if chunk:
            # Like Graph, every non-empty page has its cursors; `next` only when more items follow.
            after = str(start + len(chunk))
            document["paging"] = {"cursors": {"before": str(start), "after": after}}
            if start + limit < len(items):
                # Like Graph, `next` repeats the token in its query: clients must not follow it blindly.
                query = urlencode({**params, "access_token": token, "after": after})
                document["paging"]["next"] = f"{base}?{query}"
        return document

    @staticmethod
    def pick(document: dict[str, Any], fields: str | None, default: tuple[str, ...]) -> dict[str, Any]:
        wanted = [name.split("{")[0] for name in fields.split(",")] if fields else list(default)
        return {key: document[key] for key in ["id", *wanted] if key in document}

    # --- dispatch ------------------------------------------------------------------------------

    async def dispatch(self, request: Request, parts: list[str]) -> Response:
        method = request.method
        if parts == ["dialog", "oauth"] and method == "GET":
            return self.dialog(request)
        if parts == ["oauth", "access_token"]:
            return self.token(await self.form(request))
        self.spend_call()
        token = self.bearer(request)
        params = dict(request.query_params)
        if parts == ["me", "accounts"] and method == "GET":
            return self.me_accounts(token, params, str(request.url).split("?")[0])
        if parts == ["me", "permissions"] and method == "GET":
            data = [{"permission": scope, "status": "granted"} for scope in sorted(token.scopes)]
            return JSONResponse({"data": data})
        if len(parts) == 1:
            if method == "GET":
                return JSONResponse(self.node(token, parts[0], params.get("fields")))
            if method == "DELETE":
                return JSONResponse(self.delete(token, parts[0]))
            if method == "POST":
                return JSONResponse(self.update_comment(token, parts[0], await self.form(request)))
        if len(parts) == 2:
            node, edge = parts
            handler: Callable[..., Any] | None = {
                ("POST", "photos"): self.page_photos,
                ("POST", "feed"): self.page_feed,
                ("POST", "media"): self.ig_create_container,
                ("POST", "media_publish"): self.ig_publish,
            }.get((method, edge))
            if handler is not None:
                result = handler(token, node, await self.form(request))
                if asyncio.iscoroutine(result):
                    result = await result
                return JSONResponse(result)
            base = str(request.url).split("?")[0]
            if method == "GET" and edge == "published_posts":
                return JSONResponse(self.published_posts(token, node, params, base))
            if method == "GET" and edge == "media":
                return JSONResponse(self.ig_media(token, node, params, base))
            if method == "GET" and edge == "comments":
                return JSONResponse(self.object_comments(token, node, params, base))
            if method == "GET" and edge == "replies":
                return JSONResponse(self.ig_replies(token, node, params, base))
        raise GraphFailure(400, "Unknown path components: /" + "/".join(parts), 2500)

    # --- Facebook Login ------------------------------------------------------------------------

    def dialog(self, request: Request) -> Response:
        fake, query = self.fake, request.query_params
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != fake.client_id:
            raise GraphFailure(400, "Invalid App ID", 101)
        if redirect_uri not in fake.redirect_uris:
            raise GraphFailure(
                400, "URL blocked: the redirect URI is not whitelisted in the app's settings", 191
            )
        if query.get("response_type", "code") != "code":
            raise GraphFailure(400, "response_type must be code", 100)
        if not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            raise GraphFailure(400, "code_challenge with code_challenge_method=S256 is required", 100)
        scopes = {part for part in query.get("scope", "").replace(",", " ").split() if part}
        unknown = scopes - KNOWN_PERMISSIONS
        if unknown:
            raise GraphFailure(400, f"Invalid Scopes: {', '.join(sorted(unknown))}", 100)
        code = secrets.token_urlsafe(24)
        fake.codes[code] = {
            "user": fake.approving_user,
            "scopes": scopes,
            "redirect_uri": redirect_uri,
            "challenge": query["code_challenge"],
        }
        target = f"{redirect_uri}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return RedirectResponse(target, status_code=302)

    def token(self, form: dict[str, Any]) -> Response:
        fake = self.fake
        if form.get("client_id") != fake.client_id or form.get("client_secret") != fake.client_secret:
            raise GraphFailure(400, "Error validating client secret.", 1, kind="OAuthException")
        grant = form.get("grant_type") or "authorization_code"
        if grant == "fb_exchange_token":
            old = fake.tokens.get(str(form.get("fb_exchange_token")))
            if old is None or old.kind != "user":
                raise GraphFailure(400, "Invalid OAuth access token - Cannot parse access token", 190)
            if old.revoked_subcode is not None or old.expired:
                raise GraphFailure(
                    400,
                    "Error validating access token: Session has expired.",
                    190,
                    subcode=old.revoked_subcode or 463,
                )
            new = fake.issue_token(old.user_id, old.scopes, expires_in=LONG_LIVED_SECONDS)
            return JSONResponse(
                {"access_token": new.value, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS}
            )
        if grant != "authorization_code":
            raise GraphFailure(400, f"Unsupported grant_type: {grant}", 100)
        grant_code = fake.codes.pop(str(form.get("code")), None)
        if grant_code is None or grant_code["redirect_uri"] != form.get("redirect_uri"):
            raise GraphFailure(400, "This authorization code has expired or was used.", 100, subcode=36009)
        verifier = str(form.get("code_verifier") or "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant_code["challenge"]:
            raise GraphFailure(400, "Invalid code verifier", 100)
        scopes: set[str] = grant_code["scopes"]  # type: ignore[assignment]
        new = fake.issue_token(str(grant_code["user"]), scopes)
        return JSONResponse({"access_token": new.value, "token_type": "bearer", "expires_in": new.expires_in})

    def me_accounts(self, token: FakeToken, params: dict[str, str], base: str) -> Response:
        if token.kind != "user":
            raise GraphFailure(
                400, "(#100) Tried accessing nonexisting field (accounts) on node type (Page)", 100
            )
        self.need(token, "pages_show_list")
        fields = params.get("fields") or "id,name,access_token"
        items = []
        for page in self.fake.pages.values():
            if token.user_id not in page.admins:
                continue
            item: dict[str, Any] = {"id": page.id, "name": page.name, "tasks": ["CREATE_CONTENT", "MANAGE"]}
            if "access_token" in fields:
                item["access_token"] = self.fake.page_token(token, page.id).value
            if "instagram_business_account" in fields and page.ig_user_id:
                item["instagram_business_account"] = {"id": page.ig_user_id, "username": page.ig_username}
            items.append(item)
        return JSONResponse(self.page_of(items, params, base, token.value))

    # --- nodes ---------------------------------------------------------------------------------

    def node(self, token: FakeToken, object_id: str, fields: str | None) -> dict[str, Any]:
        fake = self.fake
        if object_id in fake.pages:
            page = fake.pages[object_id]
            if token.user_id not in page.admins:
                raise self.missing(object_id)
            return self.pick({"id": page.id, "name": page.name}, fields, ("name",))
        for page in fake.pages.values():
            if page.ig_user_id == object_id:
                self.ig_acting(token, object_id)
                self.need(token, "instagram_basic")
                return self.pick({"id": object_id, "username": page.ig_username}, fields, ("username",))
        if object_id in fake.posts and not fake.posts[object_id].deleted:
            post = fake.posts[object_id]
            document = {
                "id": post.id,
                "message": post.message,
                "created_time": graph_time(post.created_time),
                "permalink_url": post.permalink_url,
            }
            return self.pick(document, fields, ("message", "created_time"))
        if object_id in fake.containers:
            container = fake.containers[object_id]
            self.ig_acting(token, container.ig_user_id)
            if container.status_code == "IN_PROGRESS":
                if container.polls_left > 0:
                    container.polls_left -= 1
                else:
                    container.status_code = "FINISHED"
            return self.pick(
                {"id": container.id, "status_code": container.status_code, "status": container.status_code},
                fields,
                ("id",),
            )
        if object_id in fake.media:
            item = fake.media[object_id]
            document = {
                "id": item.id,
                "caption": item.caption,
                "timestamp": graph_time(item.timestamp),
                "permalink": item.permalink,
                "media_type": "CAROUSEL_ALBUM" if len(item.images) > 1 else "IMAGE",
            }
            return self.pick(document, fields, ("id",))
        raise self.missing(object_id)

    def delete(self, token: FakeToken, object_id: str) -> dict[str, Any]:
        post = self.fake.posts.get(object_id)
        if post is not None and not post.deleted:
            self.page_acting(token, post.page_id)
            self.need(token, "pages_manage_posts")
            post.deleted = True
            self.fake.deleted.append(object_id)
            return {"success": True}
        if object_id in self.fake.media:
            raise GraphFailure(400, "Unsupported delete request.", 100)  # not in the IG Media reference
        raise self.missing(object_id, "delete")

    def update_comment(self, token: FakeToken, comment_id: str, form: dict[str, Any]) -> dict[str, Any]:
        """POST /{comment-id} with `is_hidden` (the Page's comments; pages_manage_engagement)."""
        comment = next((c for c in self.fake.comments if c.id == comment_id), None)
        if comment is not None and comment.object_id in self.fake.media:
            # Instagram: POST /{ig-comment-id} hide=true (instagram_manage_comments).
            self.ig_acting(token, self.fake.media[comment.object_id].ig_user_id)
            self.need(token, "instagram_manage_comments")
            if "hide" not in form:
                raise GraphFailure(400, "(#100) The parameter hide is required", 100)
            comment.is_hidden = str(form["hide"]).lower() == "true"
            return {"success": True}
        post = self.fake.posts.get(comment.object_id) if comment is not None else None
        if comment is None or post is None or post.deleted:
            raise self.missing(comment_id, "update")
        self.page_acting(token, post.page_id)
        self.need(token, "pages_manage_engagement")
        if "is_hidden" not in form:
            raise GraphFailure(400, "(#100) No fields to update", 100)
        comment.is_hidden = str(form["is_hidden"]).lower() == "true"
        return {"success": True}

    # --- Facebook Pages ------------------------------------------------------------------------

    def page_photos(self, token: FakeToken, page_id: str, form: dict[str, Any]) -> dict[str, Any]:
        self.page_acting(token, page_id)
        self.need(token, "pages_manage_posts")
        source = form.get("source")
        if source is None or not hasattr(source, "file"):
            raise GraphFailure(400, "(#324) Requires upload file", 324)
        data = source.file.read()
        published = str(form.get("published", "true")).lower() != "false"
        photo = FakePhoto(self.fake.next_id(), page_id, data, source.content_type or "", published)
        self.fake.photos[photo.id] = photo
        if not published:
            return {"id": photo.id}
        post = self.new_post(page_id, str(form.get("caption") or ""), [photo.id])
        return {"id": photo.id, "post_id": post.id}

    def page_feed(self, token: FakeToken, page_id: str, form: dict[str, Any]) -> dict[str, Any]:
        self.page_acting(token, page_id)
        self.need(token, "pages_manage_posts")
        message = str(form.get("message") or "")
        photo_ids = []
        index = 0
        while f"attached_media[{index}]" in form:
            photo_id = str(json.loads(str(form[f"attached_media[{index}]"])).get("media_fbid"))
            photo = self.fake.photos.get(photo_id)
            if photo is None or photo.page_id != page_id or photo.published:
                raise GraphFailure(400, f"(#100) Invalid media_fbid {photo_id}", 100)
            photo_ids.append(photo_id)
            index += 1
        if not message and not photo_ids:
            raise GraphFailure(400, "(#100) Missing message or attachment", 100)
        for photo_id in photo_ids:
            self.fake.photos[photo_id].published = True
        return {"id": self.new_post(page_id, message, photo_ids).id}

    def new_post(self, page_id: str, message: str, photo_ids: list[str]) -> FakePost:
        post = FakePost(f"{page_id}_{self.fake.next_id()}", page_id, message, self.fake.clock(), photo_ids)
        self.fake.posts[post.id] = post
        return post

    def published_posts(
        self, token: FakeToken, page_id: str, params: dict[str, str], base: str
    ) -> dict[str, Any]:
        if page_id not in self.fake.pages:
            raise self.missing(page_id)
        self.need(token, "pages_read_engagement")
        since = float(params.get("since", "0"))
        posts = sorted(self.fake.live_posts(page_id), key=lambda post: -post.created_time)
        items = [
            self.pick(
                {
                    "id": post.id,
                    "message": post.message,
                    "created_time": graph_time(post.created_time),
                    "permalink_url": post.permalink_url,
                },
                params.get("fields"),
                ("message", "created_time"),
            )
            for post in posts
            if post.created_time >= since
        ]
        return self.page_of(items, params, base, token.value)

    # --- Instagram -----------------------------------------------------------------------------

    async def ig_create_container(
        self, token: FakeToken, ig_user_id: str, form: dict[str, Any]
    ) -> dict[str, Any]:
        self.ig_acting(token, ig_user_id)
        self.need(token, "instagram_basic", "instagram_content_publish")
        caption = str(form.get("caption") or "")
        if len(caption) > 2200:
            raise GraphFailure(
                400, "The caption is too long (2,200 characters at most)", 100, subcode=2207028
            )
        fake = self.fake
        if form.get("media_type") == "CAROUSEL":
            children = [child for child in str(form.get("children") or "").split(",") if child]
            if not 2 <= len(children) <= 10:
                raise GraphFailure(400, "A carousel holds 2 to 10 items", 100, subcode=2207024)
            for child in children:
                item = fake.containers.get(child)
                if item is None or not item.is_carousel_item or item.ig_user_id != ig_user_id:
                    raise GraphFailure(400, f"Invalid carousel child {child}", 100)
            container = FakeContainer(
                fake.next_id(),
                ig_user_id,
                caption,
                "CAROUSEL",
                children=children,
                polls_left=fake.container_polls,
            )
        else:
            image_url = str(form.get("image_url") or "")
            image = await self.fetch(image_url)
            container = FakeContainer(
                fake.next_id(),
                ig_user_id,
                caption,
                "IMAGE",
                image_url=image_url,
                image=image,
                is_carousel_item=str(form.get("is_carousel_item")).lower() == "true",
                polls_left=fake.container_polls,
            )
        fake.containers[container.id] = container
        return {"id": container.id}

    async def fetch(self, url: str) -> bytes:
        """Instagram cURLs the image itself; so does the fake (loopback only: no traffic leaves the box)."""
        failure = GraphFailure(
            400,
            "Media download has failed.: The media URI doesn't meet our requirements.",
            9004,
            subcode=2207052,
        )
        if not url or not is_loopback_url(url):
            raise failure
        try:
            async with httpx.AsyncClient(timeout=5, trust_env=False, follow_redirects=False) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            raise failure from exc
        if response.status_code != 200 or not response.headers.get("content-type", "").startswith(
            "image/jpeg"
        ):
            raise failure
        return response.content

    def ig_publish(self, token: FakeToken, ig_user_id: str, form: dict[str, Any]) -> dict[str, Any]:
        self.ig_acting(token, ig_user_id)
        self.need(token, "instagram_basic", "instagram_content_publish")
        fake = self.fake
        container = fake.containers.get(str(form.get("creation_id")))
        if container is None or container.ig_user_id != ig_user_id or container.is_carousel_item:
            raise GraphFailure(400, "Media ID is not available", 9007, subcode=2207006)
        if container.status_code == "PUBLISHED":
            raise GraphFailure(400, "The media has already been published", 9007, subcode=2207006)
        if container.status_code != "FINISHED":
            raise GraphFailure(
                400, "The media is not ready for publishing, please wait for a moment", 9007, subcode=2207027
            )
        images = (
            [container.image or b""]
            if container.media_type == "IMAGE"
            else [fake.containers[child].image or b"" for child in container.children]
        )
        media = FakeMedia(fake.next_id(), ig_user_id, container.caption, fake.clock(), container.id, images)
        fake.media[media.id] = media
        container.status_code = "PUBLISHED"
        return {"id": media.id}

    def ig_media(
        self, token: FakeToken, ig_user_id: str, params: dict[str, str], base: str
    ) -> dict[str, Any]:
        self.ig_acting(token, ig_user_id)
        self.need(token, "instagram_basic")
        since = float(params.get("since", "0"))
        media = sorted(self.fake.live_media(ig_user_id), key=lambda item: -item.timestamp)
        items = [
            self.pick(
                {
                    "id": item.id,
                    "caption": item.caption,
                    "timestamp": graph_time(item.timestamp),
                    "permalink": item.permalink,
                },
                params.get("fields"),
                ("id",),
            )
            for item in media
            if item.timestamp >= since
        ]
        return self.page_of(items, params, base, token.value)

    def object_comments(
        self, token: FakeToken, object_id: str, params: dict[str, str], base: str
    ) -> dict[str, Any]:
        fake = self.fake
        items: list[dict[str, Any]]
        if object_id in fake.media:
            # IG Media comments: the top-level ones; `replies{fields}` expands each one's replies.
            self.need(token, "instagram_basic", "instagram_manage_comments")
            fields = params.get("fields") or ""
            expand = "replies{" in fields
            items = [
                {
                    **self.ig_comment(c),
                    **({"replies": self.ig_expanded(c, params, base, token.value)} if expand else {}),
                }
                for c in self.ig_listed(lambda c: c.object_id == object_id and c.parent_id is None)
            ]
        elif object_id in fake.posts and not fake.posts[object_id].deleted:
            self.need(token, "pages_read_engagement")
            items = [
                {
                    "id": c.id,
                    "message": c.message,
                    "from": {"name": c.author, "id": "u" + c.id},
                    "created_time": graph_time(c.created_time),
                    "permalink_url": f"https://www.facebook.com/{object_id}?comment_id={c.id}",
                    "is_hidden": c.is_hidden,
                    **({"parent": {"id": c.parent_id}} if c.parent_id else {}),
                }
                for c in fake.comments
                if c.object_id == object_id
            ]
        else:
            raise self.missing(object_id)
        return self.page_of(items, params, base, token.value)

    def ig_listed(self, wanted: Callable[[FakeComment], bool]) -> list[FakeComment]:
        chosen = [c for c in self.fake.comments if wanted(c)]
        return list(reversed(chosen)) if self.fake.ig_newest_first else chosen

    @staticmethod
    def ig_comment(c: FakeComment) -> dict[str, Any]:
        return {
            "id": c.id,
            "text": c.message,
            "username": c.author,
            "timestamp": graph_time(c.created_time),
            "hidden": c.is_hidden,
            **({"parent_id": c.parent_id} if c.parent_id else {}),
        }

    def ig_expanded(
        self, parent: FakeComment, params: dict[str, str], base: str, token: str
    ) -> dict[str, Any]:
        """A comment's replies as a nested `replies{...}` field shows them: the first few, and
        `paging.next` (to `/{ig-comment-id}/replies`) when there are more."""
        replies = [self.ig_comment(c) for c in self.ig_listed(lambda c: c.parent_id == parent.id)]
        shown: dict[str, Any] = {"data": replies[: self.fake.ig_replies_expanded]}
        if len(replies) > self.fake.ig_replies_expanded:
            after = str(self.fake.ig_replies_expanded)
            query = urlencode({"access_token": token, "after": after})
            shown["paging"] = {
                "cursors": {"before": "0", "after": after},
                "next": f"{base.rsplit('/', 2)[0]}/{parent.id}/replies?{query}",
            }
        return shown

    def ig_replies(
        self, token: FakeToken, comment_id: str, params: dict[str, str], base: str
    ) -> dict[str, Any]:
        """GET /{ig-comment-id}/replies: the replies of one Instagram comment."""
        parent = next((c for c in self.fake.comments if c.id == comment_id), None)
        if parent is None or parent.object_id not in self.fake.media:
            raise self.missing(comment_id)
        self.ig_acting(token, self.fake.media[parent.object_id].ig_user_id)
        self.need(token, "instagram_basic", "instagram_manage_comments")
        items = [self.ig_comment(c) for c in self.ig_listed(lambda c: c.parent_id == comment_id)]
        return self.page_of(items, params, base, token.value)


def create_media_app(images: dict[str, tuple[bytes, str]]) -> FastAPI:
    """The publisher's public media URLs, as Instagram sees them: GET /media/{name} serves the bytes."""
    app = FastAPI()
    app.state.images = images
    app.state.fetched = []

    @app.get("/media/{name}")
    async def media(name: str) -> Response:
        app.state.fetched.append(name)
        if name not in images:
            return Response(status_code=404)
        data, media_type = images[name]
        return Response(content=data, media_type=media_type)

    return app


__all__ = ["PAGE_PERMISSIONS", "FakeMeta", "create_app", "create_media_app"]

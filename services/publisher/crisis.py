"""The crisis lane at the publisher: its own check of an emergency post's signatures, the post, and
the takedown when the after-review does not approve it (docs/crisis-lane.md).

Nothing of the workflow is trusted: the review service's signed start record and each co-signer's
signed approval are verified against the review service's published keys, for the exact content
hash the drafts service holds now, from distinct crisis-role signers other than the starter and
the author, signed within the window (workflows/crisis_signatures.py). The author is the drafts
service's fact and consent is asked of the drafts service again here. Then the post goes out the
same way an approved post does (services/publisher/activities.py: at most once per channel, live
post recorded and watched). A refusal is audited (`publish.refused`) and final.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.kit.auth import KeySet
from services.kit.errors import Conflict, NotFound
from services.kit.tokens import SignatureError
from services.publisher.activities import CHANNEL_NOT_CONFIGURED, PublisherActivities
from services.publisher.channels import Channel
from services.publisher.directory import UnknownChannels
from services.publisher.schemas import VersionContent
from services.publisher.takedowns import TakedownService
from workflows.contracts import PublishRequest, TakedownRequest
from workflows.crisis_contracts import (
    PUBLISH_CRISIS_POST,
    TAKE_DOWN_CRISIS_POST,
    CrisisPublishRequest,
    CrisisTakedown,
    CrisisTakedownAccepted,
)
from workflows.crisis_signatures import (
    CrisisStart,
    quorum_problems,
    read_approval,
    read_start,
)
from workflows.crisis_template_contracts import PUBLISH_TEMPLATE_POST, TemplatePostInput
from workflows.crisis_templates import (
    FROM_TEMPLATE_PURPOSE,
    POST_PURPOSE,
    TemplateUse,
    read_use,
    use_problems,
)
from workflows.crisis_templates import read_approval as read_template_approval
from workflows.signatures import Requirement

CRISIS_ACTOR = "system:crisis"
T = TypeVar("T")


class CrisisTakedowns(Protocol):
    """The live post's takedown signal (workflows/client.py's take_down)."""

    async def take_down(self, draft_id: str, request: TakedownRequest) -> None: ...


class CrisisPublisherActivities(PublisherActivities):
    """publish_crisis_post, take_down_crisis_post and publish_template_post, on the publisher's task queue."""

    def __init__(self, *args: Any, review_keys: KeySet, takedowns: CrisisTakedowns, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._review_keys = review_keys
        self._takedowns = takedowns

    async def _resolve(self, names: Sequence[str]) -> dict[str, Channel]:
        try:
            return await self._channels.resolve(names)
        except UnknownChannels as exc:
            raise ApplicationError(
                f"channels not configured on this publisher: {', '.join(exc.names)}",
                type=CHANNEL_NOT_CONFIGURED,
                non_retryable=True,
            ) from exc

    async def _read_signed(self, read: Callable[[dict[str, dict[str, Any]]], T], what: str) -> T | str:
        """`read(keys)` under the review service's published keys, read again once for a key it has
        not seen yet (a rotation); a reason (str) when the records do not verify."""
        for refresh in (False, True):
            try:
                return read(await self._review_keys.keys(refresh=refresh))
            except SignatureError as exc:
                if refresh or "unknown key" not in str(exc):
                    return f"a {what} signature does not verify: {exc}"
        return "the review service's keys could not be read"  # pragma: no cover - loop returns

    async def _post_checked(
        self,
        plain: PublishRequest,
        content: VersionContent,
        channels: dict[str, Channel],
        categories: list[str],
        lifetime: Requirement,
    ) -> None:
        """Once the signed records held: the exact content, consent and pauses as for any post, then
        at most once per channel, the live post recorded and watched."""
        names = list(channels)
        self._verify(plain, content, channels)
        await self._consent_holds(plain, names, categories)
        await self._not_paused(plain, names)
        media = await self._fetch_media(content)
        for name in names:
            await self._publish_on(channels[name], plain, content, media)
        await self._went_live(plain, lifetime)

    async def crisis_problems(
        self, request: CrisisPublishRequest, *, author_id: str
    ) -> tuple[CrisisStart | None, list[str]]:
        signed = await self._read_signed(
            lambda keys: (
                read_start(request.start, keys),
                [read_approval(t, keys) for t in request.approvals],
            ),
            "crisis",
        )
        if isinstance(signed, str):
            return None, [signed]
        start, approvals = signed
        problems = []
        if (start.crisis_id, start.draft_id, start.version, start.content_hash) != (
            request.crisis_id,
            request.draft_id,
            request.version,
            request.content_hash,
        ):
            problems.append("the signed start record is for other content than this request")
        if sorted(start.channels) != sorted(request.channels):
            problems.append("the request names other channels than the signed start record")
        if start.author_id != author_id:
            problems.append(
                f"the signed start record names author {start.author_id!r}; "
                f"the drafts service records {author_id!r}"
            )
        return start, problems + quorum_problems(start, approvals)

    @activity.defn(name=PUBLISH_CRISIS_POST)
    async def publish_crisis_post(self, request: CrisisPublishRequest) -> None:
        plain = PublishRequest(
            request.draft_id, request.version, request.content_hash, list(request.channels)
        )
        channel_names = list(dict.fromkeys(request.channels))
        channels = await self._resolve(channel_names)
        content = await self._fetch(plain)
        start, problems = await self.crisis_problems(request, author_id=content.author_id)
        if content.purpose != POST_PURPOSE:
            problems.append(
                f"draft {request.draft_id} is a {content.purpose}, not a post for the emergency lane"
            )
        if start is None or problems:
            await self._approvals.refuse(plain, problems)
        assert start is not None
        # An emergency post has no lifetime of its own: its after-review decides whether it stays.
        lifetime = Requirement(
            draft_id=start.draft_id,
            version=start.version,
            content_hash=start.content_hash,
            author_id=start.author_id,
            policy_version="",
            stages=(),
            blocking_unresolved=0,
            categories=start.categories,
        )
        await self._post_checked(plain, content, channels, list(start.categories), lifetime)

    async def template_problems(
        self, request: TemplatePostInput, content: VersionContent
    ) -> tuple[TemplateUse | None, list[str]]:
        """Both signed template records verified under the review service's keys, and the draft
        the drafts service holds now matched against them (workflows/crisis_templates.py)."""
        signed = await self._read_signed(
            lambda keys: (read_template_approval(request.approval, keys), read_use(request.use, keys)),
            "template",
        )
        if isinstance(signed, str):
            return None, [signed]
        approval, use = signed
        problems = []
        if (use.use_id, use.draft_id, use.version, use.content_hash) != (
            request.use_id,
            request.draft_id,
            request.version,
            request.content_hash,
        ):
            problems.append("the signed use is for other content than this request")
        if sorted(request.channels) != sorted(use.channels):
            problems.append("the request names other channels than the signed use")
        if content.purpose != FROM_TEMPLATE_PURPOSE or (
            content.template_id,
            content.template_version,
        ) != (
            approval.template_id,
            approval.version,
        ):
            problems.append(
                "the drafts service does not record this draft as filled from the approved template"
            )
        problems += use_problems(
            approval,
            use,
            title=content.title,
            body=content.body,
            channels=list(content.channels),
            author_id=content.author_id,
        )
        return use, problems

    @activity.defn(name=PUBLISH_TEMPLATE_POST)
    async def publish_template_post(self, request: TemplatePostInput) -> None:
        """One post from a pre-approved template: both signed records checked here, then posted at
        most once per channel and watched as a live post. A refusal is audited and final."""
        plain = PublishRequest(
            request.draft_id, request.version, request.content_hash, list(request.channels)
        )
        channel_names = list(dict.fromkeys(request.channels))
        channels = await self._resolve(channel_names)
        content = await self._fetch(plain)
        use, problems = await self.template_problems(request, content)
        if use is None or problems:
            await self._approvals.refuse(plain, problems)
        assert use is not None
        lifetime = Requirement(
            draft_id=use.draft_id,
            version=use.version,
            content_hash=use.content_hash,
            author_id=use.user_id,
            policy_version="",
            stages=(),
            blocking_unresolved=0,
        )
        await self._post_checked(plain, content, channels, [], lifetime)

    @activity.defn(name=TAKE_DOWN_CRISIS_POST)
    async def take_down_crisis_post(self, order: CrisisTakedown) -> CrisisTakedownAccepted:
        """Record the takedown (who: the crisis lane; why: the after-review) and signal the live post;
        retried safely: a takedown already under way is the one this asked for."""
        reason = f"crisis post {order.crisis_id}: {order.reason}"
        try:
            async with self._sessionmaker() as session, session.begin():
                request_id = await TakedownService(session, audit=self._audit).request(
                    order.draft_id, reason, CRISIS_ACTOR, cause="takedown"
                )
        except Conflict as exc:
            return CrisisTakedownAccepted(
                "", "takedown_running" if exc.code == "takedown_running" else "not_live"
            )
        except NotFound:
            return CrisisTakedownAccepted("", "not_live")
        await self._takedowns.take_down(order.draft_id, TakedownRequest(request_id=request_id))
        return CrisisTakedownAccepted(request_id, "requested")

"""PHI in a public comment, one click: hidden through the Facebook adapter on the Meta fake,
flagged for deletion where the network cannot hide (Mastodon), audited either way, and the
screening recorded with the comment once."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.errors import Conflict
from services.kit.tokens import Principal
from services.publisher.comment_ingest import CommentIngest, CommentSeal
from services.publisher.comments import CommentService, suggested_reply
from services.publisher.models import FLAGGED_FOR_DELETION, HIDDEN
from services.publisher.networks.base import AccountCredentials, PostRequest
from services.publisher.networks.facebook import FacebookAdapter
from services.publisher.networks.mastodon import MastodonAdapter
from tests.fakes.checkpoints import MemoryCheckpoints
from tests.unit.comment_support import add_publication
from tests.unit.meta_support import PAGE_ID, MetaWorld
from tests.unit.recording_audit import RecordingAudit

pytest_plugins = ["tests.unit.meta_fixtures", "tests.unit.comment_fixtures"]

ACCOUNT = "riverside-fb"
MODERATOR = Principal(
    user_id="u-pat", username="publisher@demo", name="Parker", roles=frozenset({"publisher"})
)
PHI_TEXT = "My son Jake Miller is in room 412 at Riverside with leukemia, please pray"


class OneAccount:
    """The account service's two calls the moderation makes, for one connected account."""

    def __init__(self, credentials: AccountCredentials) -> None:
        self._credentials = credentials

    async def get(self, name: str) -> str:
        assert name == ACCOUNT
        return name

    async def usable_credentials(self, account: str) -> AccountCredentials:
        return self._credentials


async def phi_comment(
    world: MetaWorld, sessions: async_sessionmaker[AsyncSession], seal: CommentSeal
) -> tuple[FacebookAdapter, AccountCredentials, str]:
    fb = FacebookAdapter(world.config(), sleep=world.clock.sleep, clock=world.clock.now)
    account = await fb.account_from_grant("Riverside", {"access_token": world.user_token()}, target=PAGE_ID)
    posted = await fb.post(
        account, PostRequest("pub-1", "idem-1", "Visiting hours are changing."), MemoryCheckpoints()
    )
    await add_publication(sessions, account=ACCOUNT, network="facebook", external_id=posted.external_id)
    world.fake.comment(posted.external_id, PHI_TEXT, author="Maria Miller")

    async def credentials(name: str) -> AccountCredentials:
        return account

    [read] = (
        await CommentIngest(sessions, {"facebook": fb}, credentials, seal).read_account(ACCOUNT)
    ).comments
    return fb, account, read.comment_id


def service(
    session: AsyncSession,
    seal: CommentSeal,
    adapters: dict[str, object],
    account: AccountCredentials,
    audit: RecordingAudit,
) -> CommentService:
    return CommentService(
        session,
        seal=seal,
        adapters=adapters,  # type: ignore[arg-type]
        accounts=lambda _session: OneAccount(account),  # type: ignore[arg-type,return-value]
        audit=audit,  # type: ignore[arg-type]
    )


async def test_a_phi_comment_is_hidden_through_the_adapter_and_audited(
    meta_world: MetaWorld, publisher_sessions: async_sessionmaker[AsyncSession], comment_seal: CommentSeal
) -> None:
    fb, account, comment_id = await phi_comment(meta_world, publisher_sessions, comment_seal)
    audit = RecordingAudit()
    async with publisher_sessions() as session, session.begin():
        comments = service(session, comment_seal, {"facebook": fb}, account, audit)
        await comments.record_screening(comment_id, "screening-1", ["phi"])
        await comments.record_screening(comment_id, "screening-2", ["phi", "adverse_event"])  # once only
        hidden = await comments.hide(comment_id, MODERATOR, "PHI in public")
        assert (hidden.moderation, hidden.moderated_by, hidden.screening_id) == (
            HIDDEN,
            "u-pat",
            "screening-1",
        )
        assert comments.text_of(hidden) == PHI_TEXT
    [on_network] = meta_world.fake.comments
    assert on_network.is_hidden
    assert audit.actions() == ["comment.screened", "comment.hidden"]
    assert audit.events[-1]["details"]["reason"] == "PHI in public"
    assert "private" in (suggested_reply(["phi"]) or "")
    async with publisher_sessions() as session, session.begin():
        with pytest.raises(Conflict):
            await service(session, comment_seal, {"facebook": fb}, account, audit).hide(
                comment_id, MODERATOR, "again"
            )


async def test_a_network_that_cannot_hide_flags_the_comment_for_deletion(
    meta_world: MetaWorld, publisher_sessions: async_sessionmaker[AsyncSession], comment_seal: CommentSeal
) -> None:
    _fb, account, comment_id = await phi_comment(meta_world, publisher_sessions, comment_seal)
    audit = RecordingAudit()
    # The same row, as if it had come from a network without a hide call.
    mastodon = MastodonAdapter(meta_world.config())
    async with publisher_sessions() as session, session.begin():
        comments = service(session, comment_seal, {"facebook": mastodon}, account, audit)
        flagged = await comments.hide(comment_id, MODERATOR, "PHI in public")
        assert flagged.moderation == FLAGGED_FOR_DELETION
    assert not meta_world.fake.comments[0].is_hidden
    assert audit.actions() == ["comment.flagged_for_deletion"]

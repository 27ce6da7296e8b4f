from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import UTCDateTime, new_metadata

PENDING = "pending"
PUBLISHED = "published"
REMOVED = "removed"  # taken down from its network (evidence in `removal`)

# Live posts: what the publisher keeps about a draft once it is on its networks.
LIVE = "live"
TAKING_DOWN = "taking_down"
TAKEN_DOWN = "taken_down"
TAKEDOWN_FAILED = "takedown_failed"


class Base(DeclarativeBase):
    metadata = new_metadata()


class Publication(Base):
    """One approved draft version on one channel (a configured channel or a connected account).

    The row is committed as `pending` before anything is posted, so its id can be handed to the
    channel and looked up there after a crash; it turns `published` only once the channel has it,
    and `removed` once a takedown deleted it there.
    """

    __tablename__ = "publications"
    __table_args__ = (
        UniqueConstraint("draft_id", "version", "channel"),
        CheckConstraint(f"status IN ('{PENDING}', '{PUBLISHED}', '{REMOVED}')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The network of a connected account ("mastodon", ...); None for sandbox and webhook channels.
    network: Mapped[str | None] = mapped_column(String(32), nullable=True)
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # What the network answered to the delete, and when: the takedown's evidence.
    removal: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class PublicationCheckpoint(Base):
    """A note an adapter keeps about one publication before it sends anything (e.g. the first
    attempt's time, Instagram's container id): what makes a retry find instead of post again."""

    __tablename__ = "publication_checkpoints"

    publication_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelAccount(Base):
    """A connected social network account, by the unique `name` drafts use in `channels`.

    Credentials are sealed with the publisher's key ring (AAD names the row and network) and are
    wiped when the account is disconnected; the row stays, so publications keep their account.
    """

    __tablename__ = "channel_accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    network: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    account_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Network facts that are not secret (e.g. an instance's max_characters).
    facts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    connected_by: Mapped[str] = mapped_column(String(64))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OAuthState(Base):
    """One browser authorization in flight: found by the SHA-256 of its `state`, used once."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    network: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    verifier: Mapped[bytes] = mapped_column(LargeBinary)  # sealed PKCE code verifier
    redirect_uri: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PublishingPause(Base):
    """A pause of all publishing (`scope` "all") or of one account (`scope` its name); active
    until `resumed_at` is set by an explicit, audited resume."""

    __tablename__ = "publishing_pauses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    paused_by: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resumed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resume_reason: Mapped[str] = mapped_column(Text, default="")


class HeldPost(Base):
    """An approved post that a pause stopped at publishing time: resume wakes its workflow."""

    __tablename__ = "held_posts"

    draft_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LivePost(Base):
    """A draft that is on its networks: its lifetime (from the signed stage requirement) and its
    takedown, if one was asked for."""

    __tablename__ = "live_posts"

    draft_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    on_expiry: Mapped[str] = mapped_column(String(16), default="pull")
    takedown_reason: Mapped[str] = mapped_column(Text, default="")
    takedown_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    takedown_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    takedown_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    takedown_failure: Mapped[str] = mapped_column(Text, default="")


# Comments: what a moderator decided about one in public.
HIDDEN = "hidden"  # hidden through the network (Facebook, Instagram)
FLAGGED_FOR_DELETION = "flagged_for_deletion"  # the network cannot hide: the account owner deletes it


class Comment(Base):
    """One comment or reply read under a publication, once (unique per publication and network id).

    The text is sealed with the publisher's key ring (AAD names the row); `read_at` is when the
    ingest read it (day 0 of an adverse-event case). `categories` and `screening_id` are the review
    service's screening of it (the findings themselves are the review service's)."""

    __tablename__ = "comments"
    __table_args__ = (UniqueConstraint("publication_id", "external_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    network: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64), index=True)
    publication_id: Mapped[str] = mapped_column(String(36), index=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    post_external_id: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200))
    in_reply_to: Mapped[str | None] = mapped_column(String(200), nullable=True)
    author: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    text_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    screened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    screening_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    moderation: Mapped[str | None] = mapped_column(String(32), nullable=True)
    moderated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CommentCursor(Base):
    """Where the next read of one publication's comments starts (the adapter's cursor), committed
    with the comments that page held."""

    __tablename__ = "comment_cursors"

    publication_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text, nullable=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime())

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String, Text, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

from services.kit.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class AuditEvent(Base):
    """One link of the append-only chain; `hash` covers every column but `draft_id` (derived).

    Who (`actor`, `actor_name`, `actor_roles`), what (`action`, `subject`, `content_hash`,
    `before`/`after`, `details`), when (`at`, server UTC), why (`reason`), from where
    (`service`, `request_id`, `trace_id`). The newer columns are hashed only when set, so
    events written before they existed keep their hashes.
    """

    __tablename__ = "audit_events"

    # Assigned by the appender as tail + 1: a second writer racing for the same seq hits the
    # primary key instead of silently forking the chain.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The exact ISO 8601 string that was hashed, so verification never depends on how a driver
    # round-trips timestamps.
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    draft_id: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    actor_roles: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    service: Mapped[str | None] = mapped_column(String(50), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    trace_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    before: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    after: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class AuditTreeNode(Base):
    """The root of one complete subtree of the Merkle tree over the log (level 0 = leaf hashes).

    Written in the same transaction as the event whose leaf completes it, so the tree and the
    log never disagree unless someone edits the database by hand.
    """

    __tablename__ = "audit_tree_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column("idx", Integer, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditTreeHead(Base):
    """A tree head the audit service signed with its own Ed25519 key."""

    __tablename__ = "audit_tree_heads"

    tree_size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(200))


def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: Any) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are append-only")


for _model in (AuditEvent, AuditTreeNode, AuditTreeHead):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)

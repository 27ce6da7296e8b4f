from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, String, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

from services.kit.db import new_metadata

GENESIS_HASH = "0" * 64


class Base(DeclarativeBase):
    metadata = new_metadata()


class AuditEvent(Base):
    """One link of the append-only chain; `hash` covers every column but `draft_id` (derived)."""

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


def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: AuditEvent) -> None:
    raise RuntimeError(f"audit event {target.seq} is append-only")


event.listen(AuditEvent, "before_update", _refuse_change)
event.listen(AuditEvent, "before_delete", _refuse_change)

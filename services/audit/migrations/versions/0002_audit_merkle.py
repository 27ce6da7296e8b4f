"""who/why/where columns on audit events; Merkle tree nodes and signed tree heads

Revision ID: 0002_audit
Revises: 0001_audit
Create Date: 2026-11-30
"""

import hashlib
from collections.abc import Sequence

import rfc8785
import sqlalchemy as sa
from alembic import op

revision: str = "0002_audit"
down_revision: str | None = "0001_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_EVENT_COLUMNS = (
    ("actor_name", sa.String(200)),
    ("actor_roles", sa.JSON()),
    ("reason", sa.Text()),
    ("service", sa.String(50)),
    ("request_id", sa.String(100)),
    ("trace_id", sa.String(32)),
    ("content_hash", sa.String(64)),
    ("before", sa.JSON()),
    ("after", sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        for name, type_ in NEW_EVENT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_index(op.f("ix_audit_events_actor"), "audit_events", ["actor"])
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"])
    op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_tree_nodes")),
    )
    op.create_table(
        "audit_tree_heads",
        sa.Column("tree_size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_tree_heads")),
    )
    _backfill_tree()


def _backfill_tree() -> None:
    """Put the events written before this revision into the Merkle tree (hashing frozen here).

    leaf = SHA-256(0x00 || canonical JSON of the hashed fields); a complete subtree's root is
    stored as soon as its last leaf is in, keeping only the right edge (log2 n hashes) in memory.
    """
    events = sa.table(
        "audit_events",
        *(
            sa.column(name)
            for name in ("seq", "at", "actor", "action", "subject", "idempotency_key", "prev_hash")
        ),
        sa.column("details", sa.JSON()),
    )
    nodes = sa.table("audit_tree_nodes", sa.column("level"), sa.column("idx"), sa.column("hash"))
    bind = op.get_bind()
    edge: list[tuple[int, bytes]] = []  # (level, hash) of complete subtrees still waiting for a sibling
    count, after = 0, 0
    while True:
        rows = bind.execute(
            sa.select(events).where(events.c.seq > after).order_by(events.c.seq).limit(1000)
        ).all()
        if not rows:
            return
        batch: list[dict[str, object]] = []
        for row in rows:
            entry = {k: getattr(row, k) for k in ("seq", "at", "actor", "action", "subject")}
            entry.update(details=row.details, idempotency_key=row.idempotency_key, prev_hash=row.prev_hash)
            digest = hashlib.sha256(b"\x00" + bytes(rfc8785.dumps(entry))).digest()
            level, index = 0, count
            batch.append({"level": 0, "idx": index, "hash": digest})
            while edge and edge[-1][0] == level:
                _, left = edge.pop()
                digest = hashlib.sha256(b"\x01" + left + digest).digest()
                level, index = level + 1, index >> 1
                batch.append({"level": level, "idx": index, "hash": digest})
            edge.append((level, digest))
            count += 1
        bind.execute(nodes.insert(), batch)
        after = rows[-1].seq


def downgrade() -> None:
    op.drop_table("audit_tree_heads")
    op.drop_table("audit_tree_nodes")
    op.drop_index(op.f("ix_audit_events_action"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_actor"), table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        for name, _ in reversed(NEW_EVENT_COLUMNS):
            batch.drop_column(name)

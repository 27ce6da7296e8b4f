"""The append-only audit log: appending one event (chain link + Merkle leaf), signing tree heads,
proving inclusion and consistency, and verifying the whole log."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging

from cryptography.exceptions import InvalidSignature
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.chain import GENESIS_HASH, draft_id_from_subject
from services.audit.entries import canonical_value, entry_bytes, hashed_bytes, lifted_fields, to_out
from services.audit.merkle import (
    EMPTY_ROOT,
    NodeKey,
    consistency_ranges,
    fold,
    inclusion_paths,
    leaf_hash,
    node_hash,
    stored_nodes,
)
from services.audit.models import AuditEvent, AuditTreeHead, AuditTreeNode
from services.audit.repository import AuditEventRepository
from services.audit.schemas import AuditEventIn, AuditEventOut, VerifyResult
from services.audit.signed_formats import TrustedKeys, tree_head_message
from services.audit.signing import AuditSigner, SignedTreeHead
from services.kit.canonical import canonical_json
from services.kit.clock import utcnow
from services.kit.errors import Conflict, NotFound

log = logging.getLogger(__name__)

VERIFY_BATCH_SIZE = 1000


def utc_now_iso() -> str:
    """Server UTC time as the fixed-width string that is hashed, stored and returned."""
    return utcnow().isoformat(timespec="microseconds")


def head_of(row: AuditTreeHead) -> SignedTreeHead:
    return SignedTreeHead(row.tree_size, row.root_hash, row.timestamp, row.key_id, row.signature)


class MerkleNodes:
    """Node lookups for one proof or root: everything a set of ranges needs, fetched at once."""

    def __init__(self, repo: AuditEventRepository) -> None:
        self._repo = repo

    async def range_hashes(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        keys = [key for start, end in ranges for key in stored_nodes(start, end)]
        found = await self._repo.nodes(keys)
        missing = [key for key in keys if key not in found]
        if missing:
            raise Conflict(f"the Merkle tree is missing node(s) {missing[:3]}; run verify")
        return [fold([found[key] for key in stored_nodes(start, end)]) for start, end in ranges]

    async def root(self, size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        return (await self.range_hashes([(0, size)]))[0]


class AuditService:
    """Business rules over one session; flushes, never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._events = AuditEventRepository(session)
        self._nodes = MerkleNodes(self._events)

    # --- appending -------------------------------------------------------------------------------

    async def append(
        self,
        entry: AuditEventIn,
        *,
        at: str,
        signer: AuditSigner | None = None,
        head_every_events: int = 0,
    ) -> tuple[AuditEvent, bool]:
        """Link `entry` after the current tail; (event, created). A reused key returns the original."""
        details = canonical_value(entry.details, "details")
        extra = lifted_fields(entry, details)
        existing = await self._events.get_by_idempotency_key(entry.idempotency_key)
        if existing is not None:
            same = (
                existing.actor == entry.actor
                and existing.action == entry.action
                and existing.subject == entry.subject
                and canonical_json(existing.details) == canonical_json(details)
                and all(
                    extra[name] is None or getattr(existing, name) == extra[name]
                    for name in ("actor_name", "actor_roles", "reason", "content_hash", "before", "after")
                )
            )
            if not same:
                raise Conflict(
                    f"idempotency key {entry.idempotency_key!r} was already used for a different event"
                )
            return existing, False

        tail = await self._events.tail()
        seq = 1 if tail is None else tail.seq + 1
        prev_hash = GENESIS_HASH if tail is None else tail.hash
        event = AuditEvent(
            seq=seq,
            at=at,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
            draft_id=draft_id_from_subject(entry.subject),
            details=details,
            idempotency_key=entry.idempotency_key,
            prev_hash=prev_hash,
            **extra,
        )
        data = entry_bytes(event)
        event.hash = hashlib.sha256(data).hexdigest()
        self._events.add(event)
        await self._events.flush()
        if await self._add_leaf(seq, leaf_hash(data)) and signer and head_every_events > 0:
            if seq % head_every_events == 0:
                await self.sign_tree_head(signer, timestamp=at, size=seq)
        return event, True

    async def _add_leaf(self, seq: int, leaf: bytes) -> bool:
        """Put the event's leaf into the tree with every subtree it completes; False if it cannot."""
        index = seq - 1
        size = await self._events.tree_size()
        lefts: list[NodeKey] = []
        level, position = 0, index
        while position & 1:
            lefts.append((level, position - 1))
            level, position = level + 1, position >> 1
        found = await self._events.nodes(lefts) if size == index else {}
        if size != index or len(found) != len(lefts):
            # Only a hand edit of the database gets here (the tree is written with every event).
            # Keep recording, fail safe: the tree stops growing, so verify and every export name
            # the first event it does not cover until someone investigates.
            log.error(
                "audit event %s is not added to the Merkle tree: the tree has %s leaves; run verify",
                seq,
                size,
            )
            return False
        digest = leaf
        self._events.add(AuditTreeNode(level=0, index=index, hash=digest))
        for level, left_index in lefts:
            digest = node_hash(found[(level, left_index)], digest)
            self._events.add(AuditTreeNode(level=level + 1, index=left_index >> 1, hash=digest))
        await self._events.flush()
        return True

    # --- tree heads and proofs -------------------------------------------------------------------

    async def tree_size(self) -> int:
        return await self._events.tree_size()

    async def sign_tree_head(
        self, signer: AuditSigner, *, timestamp: str, size: int | None = None
    ) -> SignedTreeHead:
        """Sign (and keep) the head of the tree at `size` (default: now); an existing head is reused."""
        size = await self._events.tree_size() if size is None else size
        existing = await self._events.head(size)
        if existing is not None:
            return head_of(existing)
        root = (await self._nodes.root(size)).hex()
        head = signer.sign_tree_head(tree_size=size, root_hash=root, timestamp=timestamp)
        self._events.add(
            AuditTreeHead(
                tree_size=size,
                root_hash=root,
                timestamp=timestamp,
                key_id=head.key_id,
                signature=head.signature,
            )
        )
        await self._events.flush()
        return head

    async def latest_head(self) -> SignedTreeHead | None:
        row = await self._events.largest_head()
        return None if row is None else head_of(row)

    async def checkpoint_for(self, size: int) -> tuple[SignedTreeHead | None, list[str] | None]:
        """The largest head signed before (other than one at `size`) and a proof `size` extends it."""
        row = await self._events.largest_head_other_than(size)
        if row is None:
            return None, None
        if row.tree_size == 0 or row.tree_size > size:
            return head_of(row), None if row.tree_size > size else []
        return head_of(row), await self.consistency_proof(row.tree_size, size, tree_size=size)

    async def consistency_proof(self, first: int, second: int, *, tree_size: int | None = None) -> list[str]:
        size = await self._events.tree_size() if tree_size is None else tree_size
        # The proof named by (first, second) does not exist, rather than the request being malformed:
        # which sizes exist depends on the log, not on the request (GET /consistency answers 404).
        if second > size:
            raise NotFound(f"the log has {size} events (the tree size): no tree of {second} events yet")
        if not 0 < first <= second:
            raise NotFound(
                f"no proof that a tree of {second} events extends a larger one of {first}: "
                "a consistency proof needs 0 < first <= second"
            )
        return [h.hex() for h in await self._nodes.range_hashes(consistency_ranges(first, second))]

    async def inclusion_proofs(self, indexes: list[int], size: int) -> dict[int, list[str] | None]:
        """Proofs for many leaves against the tree of `size`, with one lookup per tree level."""
        paths = inclusion_paths((index for index in indexes if index < size), size)
        keys = {key for path in paths.values() for key in path if key[0] >= 0}
        edges = {key[1] for path in paths.values() for key in path if key[0] < 0}
        for start in edges:
            keys.update(stored_nodes(start, size))
        found = await self._events.nodes(keys)
        hexes: dict[NodeKey, str | None] = {key: value.hex() for key, value in found.items()}
        for start in edges:
            parts = [found.get(key) for key in stored_nodes(start, size)]
            hexes[(-1, start)] = None if None in parts else fold([p for p in parts if p is not None]).hex()
        proofs: dict[int, list[str] | None] = {index: None for index in indexes}
        for index, path in paths.items():
            proof = [hexes.get(key) for key in path]
            # A missing node (only a hand edit deletes one) means no proof: the verifier says so.
            proofs[index] = None if None in proof else [h for h in proof if h is not None]
        return proofs

    # --- reading ---------------------------------------------------------------------------------

    async def list_events(
        self,
        *,
        draft_id: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        after_seq: int = 0,
        limit: int,
    ) -> list[AuditEventOut]:
        rows = await self._events.list(
            draft_id=draft_id, action=action, actor=actor, after_seq=after_seq, limit=limit
        )
        return [to_out(row) for row in rows]

    # --- verifying -------------------------------------------------------------------------------

    async def verify(
        self, *, batch_size: int = VERIFY_BATCH_SIZE, keys: TrustedKeys | None = None
    ) -> VerifyResult:
        """Walk the log from genesis; stop at the first event that does not hold.

        Each event: its seq follows the last, its prev_hash is the last hash, its content hashes
        to its hash, and the Merkle tree holds exactly its leaf. Along the way the tree's root is
        recomputed (O(log n) memory) at every signed head's size and compared with that head;
        at the end, neither the tree nor a signed head may cover events the log no longer has.
        """
        heads = list(await self._events.heads())
        tree_size = await self._events.tree_size()
        expected_seq, prev_hash, good = 1, GENESIS_HASH, 0
        edge: list[tuple[int, bytes]] = []
        next_head = 0
        while next_head < len(heads) and heads[next_head].tree_size == 0:
            next_head += 1
        batch: list[AuditEvent] = []

        async def check(events: list[AuditEvent]) -> VerifyResult | None:
            nonlocal expected_seq, prev_hash, good, next_head
            leaves = await self._events.leaves(events[0].seq - 1, events[-1].seq - 1)
            for event in events:
                data, reason = _first_problem(event, expected_seq=expected_seq, prev_hash=prev_hash)
                if reason is None:
                    stored = leaves.get(event.seq - 1)
                    leaf = leaf_hash(data)
                    if stored is None:
                        reason = f"not in the Merkle tree (the tree holds {tree_size} events)"
                    elif stored != leaf:
                        reason = "not the event the Merkle tree holds at this position"
                if reason is not None:
                    return VerifyResult(ok=False, events=good, first_bad_seq=event.seq, reason=reason)
                good += 1
                expected_seq, prev_hash = event.seq + 1, event.hash
                _push(edge, leaf)
                while next_head < len(heads) and heads[next_head].tree_size == good:
                    problem = _head_problem(heads[next_head], _edge_root(edge), keys)
                    if problem is not None:
                        return VerifyResult(ok=False, events=good, first_bad_seq=event.seq, reason=problem)
                    next_head += 1
            return None

        async for event in self._events.in_seq_order(batch_size=batch_size):
            batch.append(event)
            if len(batch) >= batch_size:
                failed = await check(batch)
                if failed is not None:
                    return failed
                batch = []
        if batch and (failed := await check(batch)) is not None:
            return failed
        if tree_size > good:
            return VerifyResult(
                ok=False,
                events=good,
                first_bad_seq=good + 1,
                reason=f"events {good + 1}..{tree_size} are missing: the Merkle tree holds {tree_size}",
            )
        if next_head < len(heads):
            head = heads[-1]
            return VerifyResult(
                ok=False,
                events=good,
                first_bad_seq=good + 1,
                reason=f"events {good + 1}..{head.tree_size} are missing: a tree head signed at"
                f" {head.timestamp} covers {head.tree_size} events",
            )
        return VerifyResult(ok=True, events=good)


def _push(edge: list[tuple[int, bytes]], leaf: bytes) -> None:
    """Add a leaf to the right edge of complete subtrees (a compact range)."""
    level, digest = 0, leaf
    while edge and edge[-1][0] == level:
        digest = node_hash(edge.pop()[1], digest)
        level += 1
    edge.append((level, digest))


def _edge_root(edge: list[tuple[int, bytes]]) -> bytes:
    return fold([digest for _, digest in edge]) if edge else EMPTY_ROOT


def _head_problem(head: AuditTreeHead, root: bytes, keys: TrustedKeys | None) -> str | None:
    if head.root_hash != root.hex():
        return (
            f"the tree head signed at {head.timestamp} for {head.tree_size} events does not match"
            " the log: an event up to here was changed, removed or reordered"
        )
    if keys is not None:
        key = keys.get(head.key_id)
        message = tree_head_message(
            tree_size=head.tree_size, root_hash=head.root_hash, timestamp=head.timestamp, key_id=head.key_id
        )
        try:
            if key is None:
                raise InvalidSignature
            key.verify(base64.b64decode(head.signature), message)
        except (InvalidSignature, ValueError, binascii.Error):
            return f"the tree head for {head.tree_size} events is not signed by this audit service's key"
    return None


def _first_problem(event: AuditEvent, *, expected_seq: int, prev_hash: str) -> tuple[bytes, str | None]:
    """(the hashed bytes, the first thing wrong with the event or None)."""
    if event.seq != expected_seq:
        return b"", f"gap before seq {event.seq} (expected seq {expected_seq})"
    if event.prev_hash != prev_hash:
        return b"", "broken link: prev_hash does not match the previous event's hash"
    try:
        data = hashed_bytes(event)
    except (ValueError, TypeError):
        return b"", "hash mismatch: stored content is not canonical JSON"
    if hashlib.sha256(data).hexdigest() != event.hash:
        return data, "hash mismatch"
    if event.draft_id != draft_id_from_subject(event.subject):
        return data, "draft_id does not match subject"
    return data, None

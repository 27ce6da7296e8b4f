"""Streaming exports of the log: JSON Lines that verify on their own, or CSV for reading.

Memory stays flat: events come from the database in keyset batches (a fresh short session per
batch, so no transaction is held open for the length of a download), and each batch's proofs
come from the stored complete-subtree roots with one query per tree level.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from services.audit.entries import OPTIONAL_FIELDS, hashed_bytes
from services.audit.merkle import leaf_hash
from services.audit.offline import EXPORT_FORMAT
from services.audit.repository import AuditEventRepository, EventFilter
from services.audit.schemas import AuditEventIn
from services.audit.service import AuditService
from services.audit.signing import AuditSigner, SignedTreeHead
from services.audit.writer import AuditLog
from services.kit.errors import UpstreamUnavailable
from services.kit.tokens import Principal

CSV_COLUMNS = (
    "seq",
    "at",
    "actor",
    *OPTIONAL_FIELDS,
    "action",
    "subject",
    "draft_id",
    "details",
    "idempotency_key",
    "prev_hash",
    "hash",
)


# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): `=`, `+`, `-`, `@`, and tab
# or carriage return, which some tools strip before looking for those.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: str) -> str:
    """The cell as a spreadsheet shows it and never runs it: a leading `'` before a formula start."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


@dataclass(frozen=True)
class PreparedExport:
    format: str
    filter: EventFilter
    head: SignedTreeHead
    upto_seq: int
    header: bytes  # the JSONL header line, without its newline


class AuditExporter:
    def __init__(self, log: AuditLog, *, batch_size: int) -> None:
        self._log = log
        self._batch_size = batch_size

    @property
    def _signer(self) -> AuditSigner:
        if self._log.signer is None:
            raise UpstreamUnavailable("the audit log has no signing key")
        return self._log.signer

    async def prepare(
        self,
        *,
        fmt: str,
        flt: EventFilter,
        principal: Principal,
        reason: str | None = None,
        request_id: str | None = None,
        trace_id: str | None = None,
    ) -> PreparedExport:
        """Record the export in the trail, sign a head covering it, and build the header."""
        recorded = await self._log.append(
            AuditEventIn(
                idempotency_key=f"audit:export:{uuid.uuid4()}",
                actor=principal.user_id,
                actor_name=principal.name,
                actor_roles=sorted(principal.roles),
                action="audit.exported",
                subject="audit:export",
                reason=reason,
                service="audit",
                request_id=request_id,
                trace_id=trace_id,
                details={"format": fmt, "filter": asdict(flt)},
            )
        )
        head = await self._log.sign_tree_head()
        assert head is not None  # only None with only_if_grown
        async with self._log.sessionmaker() as session:
            service = AuditService(session)
            last_seq, tree_size = await AuditEventRepository(session).bounds()
            # Healthy: every event has its leaf (both are written in one transaction), so export
            # exactly what the head covers. Otherwise include every event, so the ones the tree
            # does not cover are named by whoever verifies the export.
            upto = head.tree_size if last_seq == tree_size else max(last_seq, head.tree_size)
            checkpoint, consistency = await service.checkpoint_for(head.tree_size)
        header: dict[str, Any] = {
            "type": "header",
            "format": EXPORT_FORMAT,
            "exported_at": head.timestamp,
            "exported_by": {
                "user_id": principal.user_id,
                "name": principal.name,
                "roles": sorted(principal.roles),
            },
            "export_event_seq": recorded.event.seq,
            "filter": asdict(flt),
            "tree_head": head.as_dict(),
            "checkpoint": checkpoint.as_dict() if checkpoint else None,
            "consistency_proof": consistency,
            "hashing": "hash = SHA-256(entry); leaf = SHA-256(0x00 || entry); node = SHA-256(0x01 || l || r)",
        }
        return PreparedExport(fmt, flt, head, upto, orjson.dumps(header))

    async def _batches(self, prepared: PreparedExport) -> AsyncIterator[tuple[list[Any], dict[int, Any]]]:
        after = 0
        while True:
            async with self._log.sessionmaker() as session:
                repo = AuditEventRepository(session)
                batch = list(
                    await repo.page(
                        prepared.filter, after_seq=after, upto_seq=prepared.upto_seq, limit=self._batch_size
                    )
                )
                if not batch:
                    return
                proofs: dict[int, Any] = {}
                if prepared.format == "jsonl":
                    proofs = await AuditService(session).inclusion_proofs(
                        [e.seq - 1 for e in batch], prepared.head.tree_size
                    )
            yield batch, proofs
            after = batch[-1].seq

    async def jsonl(self, prepared: PreparedExport) -> AsyncIterator[bytes]:
        yield prepared.header + b"\n"
        digest = hashlib.sha256()
        count = 0
        async for batch, proofs in self._batches(prepared):
            out = bytearray()
            for event in batch:
                data = hashed_bytes(event)
                digest.update(leaf_hash(data))
                out += orjson.dumps(
                    {
                        "type": "event",
                        "entry": data.decode(),
                        "hash": event.hash,
                        "proof": proofs.get(event.seq - 1),
                    }
                )
                out += b"\n"
                count += 1
            yield bytes(out)
        events_digest = digest.hexdigest()
        signature = self._signer.sign_export(
            header_sha256=hashlib.sha256(prepared.header).hexdigest(),
            events=count,
            events_digest=events_digest,
        )
        trailer = {
            "type": "trailer",
            "events": count,
            "events_digest": events_digest,
            "key_id": self._signer.key_id,
            "signature": signature,
        }
        yield orjson.dumps(trailer) + b"\n"

    async def csv(self, prepared: PreparedExport) -> AsyncIterator[bytes]:
        """For reading, not verifying: text cells that a spreadsheet would evaluate are escaped."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        async for batch, _ in self._batches(prepared):
            for event in batch:
                row = []
                for column in CSV_COLUMNS:
                    value = getattr(event, column)
                    if isinstance(value, dict | list):
                        value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
                    if isinstance(value, str):
                        value = spreadsheet_cell(value)
                    row.append("" if value is None else value)
                writer.writerow(row)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode()

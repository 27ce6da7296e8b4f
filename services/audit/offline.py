"""Verifying an audit export with nothing but the file and the audit service's public key.

No database, no network, no service code beyond the pure Merkle functions: an auditor can read
this module (and docs/audit.md) and check every rule it applies. Lines are parsed with orjson
for speed; the hashes are always over the exact bytes of the `entry` string.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from services.audit.chain import GENESIS_HASH, draft_id_from_subject
from services.audit.merkle import InclusionVerifier
from services.audit.signed_formats import (
    ExportInvalid,
    TrustedKeys,
    check_consistency,
    check_signature,
    check_tree_head,
    export_statement,
)

EXPORT_FORMAT = "clearpost-audit-export/1"
FILTER_FIELDS = ("since", "until", "draft_id", "actor", "action")


# --- what is signed ------------------------------------------------------------------------------


# --- keys ----------------------------------------------------------------------------------------


# --- the export ----------------------------------------------------------------------------------


@dataclass
class ExportReport:
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    first_at: str | None = None
    last_at: str | None = None
    tree_size: int = 0
    root_hash: str = ""
    signed_at: str = ""
    key_id: str = ""
    exported_at: str = ""
    filter: dict[str, Any] = field(default_factory=dict)
    authenticity_checked: bool = False
    checkpoint_size: int | None = None


def _outside_filter(entry: dict[str, Any], flt: dict[str, Any]) -> str | None:
    at = entry.get("at")
    if flt.get("since") and not (isinstance(at, str) and at >= flt["since"]):
        return f"its time {at} is before the export's `since` {flt['since']}"
    if flt.get("until") and not (isinstance(at, str) and at < flt["until"]):
        return f"its time {at} is not before the export's `until` {flt['until']}"
    if flt.get("actor") and entry.get("actor") != flt["actor"]:
        return f"its actor {entry.get('actor')!r} is not the export's actor filter"
    if flt.get("action") and entry.get("action") != flt["action"]:
        return f"its action {entry.get('action')!r} is not the export's action filter"
    if flt.get("draft_id") and draft_id_from_subject(str(entry.get("subject", ""))) != flt["draft_id"]:
        return f"its subject {entry.get('subject')!r} is not the export's draft"
    return None


@dataclass(frozen=True)
class _Context:
    """What every event line is checked against, from the header (picklable for worker processes)."""

    tree_size: int
    root: bytes
    filter: dict[str, Any]

    @property
    def unfiltered(self) -> bool:
        return not any(self.filter.values())


@dataclass
class _Run:
    """The state of a walk over event lines, and where it stopped."""

    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    last_text: str = ""
    line: int = 0  # number of the last line read
    count: int = 0
    first_seq: int | None = None
    first_text: str = ""
    stop: dict[str, Any] | None = None  # the non-event line that ended the walk (the trailer)


def _read_header(header_line: bytes, keys: TrustedKeys | None) -> tuple[_Context, ExportReport]:
    report = ExportReport(authenticity_checked=keys is not None)
    try:
        header = orjson.loads(header_line)
    except orjson.JSONDecodeError as exc:
        raise ExportInvalid("the first line is not JSON", line=1) from exc
    if not isinstance(header, dict) or header.get("type") != "header":
        raise ExportInvalid("the first line is not an export header", line=1)
    if header.get("format") != EXPORT_FORMAT:
        raise ExportInvalid(f"unknown export format {header.get('format')!r}", line=1)
    head: dict[str, Any] = header.get("tree_head") or {}
    tree_size, root = check_tree_head(head, keys, "the export's tree head")
    report.tree_size, report.root_hash = tree_size, head["root_hash"]
    report.signed_at, report.key_id = head["timestamp"], str(head.get("key_id"))
    report.exported_at = str(header.get("exported_at", ""))
    flt = header.get("filter")
    if not isinstance(flt, dict):
        raise ExportInvalid("the header has no filter", line=1)
    report.filter = {k: flt.get(k) for k in FILTER_FIELDS}
    checkpoint = header.get("checkpoint")
    if checkpoint is not None:
        try:
            check_consistency(checkpoint, head, header.get("consistency_proof"), keys)
        except ExportInvalid as exc:
            raise ExportInvalid(f"against the last periodic tree head: {exc.reason}", line=1) from exc
        report.checkpoint_size = checkpoint.get("tree_size")
    return _Context(tree_size, root, report.filter), report


def _check_events(lines: Iterator[bytes], ctx: _Context, run: _Run, add_leaf: Callable[[bytes], Any]) -> None:
    """Check event lines until a line of another type (kept in run.stop) or the end of `lines`.

    Raises ExportInvalid at the first fault, with line numbers counted from run.line.
    """
    tree_size, unfiltered, flt = ctx.tree_size, ctx.unfiltered, ctx.filter
    check_inclusion = InclusionVerifier(tree_size, ctx.root).verify
    sha256 = hashlib.sha256
    loads = orjson.loads
    last_seq, last_hash, last_text = run.last_seq, run.last_hash, run.last_text
    count, line_number = run.count, run.line
    # The loop below is the hot path of `clearpost audit verify` (>= 200,000 events/s): locals
    # only, one dict lookup per field, every check a plain comparison.
    try:
        for raw in lines:
            line_number += 1
            try:
                item = loads(raw)
                kind = item["type"]
            except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
                raise ExportInvalid("not a JSON export line", line=line_number, seq=last_seq + 1) from exc
            if kind != "event":
                if kind != "trailer":
                    raise ExportInvalid(f"unknown line type {kind!r}", line=line_number, seq=last_seq + 1)
                run.stop = item
                return
            try:
                text: str = item["entry"]
                entry_bytes = text.encode()
                # Canonical JSON sorts keys, and every nested value (actor_roles, after, before,
                # details) sorts before "prev_hash" and "seq", whose values are a hex string and an
                # integer: their last occurrences are the entry's own. Reading just these two is what
                # keeps this loop fast; the inclusion proof below then authenticates the whole entry
                # at position seq - 1, and a filtered export parses the entry in full.
                at_prev = text.rindex('"prev_hash":"') + 13
                prev_hash = text[at_prev : at_prev + 64]
                at_seq = text.rindex('"seq":') + 6
                seq = int(text[at_seq : text.index(",", at_seq)])  # "subject" always follows "seq"
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                raise ExportInvalid("the event has no readable entry", line=line_number) from exc
            if type(seq) is not int or seq <= last_seq:
                raise ExportInvalid(
                    f"out of order: seq {seq} after seq {last_seq}", line=line_number, seq=last_seq + 1
                )
            if seq != last_seq + 1:
                if unfiltered:
                    raise ExportInvalid(
                        f"missing from the export (the next event is seq {seq})",
                        line=line_number,
                        seq=last_seq + 1,
                    )
            elif prev_hash != last_hash:
                if item.get("hash") == sha256(entry_bytes).hexdigest():  # else: name the hash first
                    raise ExportInvalid(
                        "broken link: prev_hash is not the previous event's hash", line=line_number, seq=seq
                    )
            entry_hash = sha256(entry_bytes).hexdigest()
            if item.get("hash") != entry_hash:
                raise ExportInvalid(
                    "hash mismatch: the entry does not hash to the event's recorded hash",
                    line=line_number,
                    seq=seq,
                )
            if not unfiltered:
                try:
                    entry = loads(entry_bytes)
                except orjson.JSONDecodeError as exc:
                    raise ExportInvalid("the event has no readable entry", line=line_number) from exc
                if entry.get("seq") != seq or entry.get("prev_hash") != prev_hash:
                    raise ExportInvalid("the entry is not canonical JSON", line=line_number, seq=seq)
                if (outside := _outside_filter(entry, flt)) is not None:
                    raise ExportInvalid(
                        f"the event does not match the export's filter: {outside}", line=line_number
                    )
            proof = item.get("proof")
            if proof is None:
                raise ExportInvalid(
                    f"not covered by the signed tree head (size {tree_size}): this event is not in the"
                    " service's Merkle tree",
                    line=line_number,
                    seq=seq,
                )
            leaf = sha256(b"\x00" + entry_bytes).digest()
            problem = check_inclusion(seq - 1, leaf, proof) if type(proof) is list else "no proof"
            if problem is not None:
                raise ExportInvalid(
                    f"not the event the signed tree holds at this position ({problem})",
                    line=line_number,
                    seq=seq,
                )
            add_leaf(leaf)
            count += 1
            if count == 1:
                run.first_seq, run.first_text = seq, text
            last_seq, last_hash, last_text = seq, entry_hash, text
    finally:
        run.last_seq, run.last_hash, run.last_text = last_seq, last_hash, last_text
        run.count, run.line = count, line_number


def _finish(
    report: ExportReport,
    ctx: _Context,
    run: _Run,
    keys: TrustedKeys | None,
    header_sha256: str,
    events_digest: str,
    more_lines: bool,
) -> ExportReport:
    """The walk ended: check the trailer it stopped at (or that there is none) and fill the report."""
    if run.stop is None:
        raise ExportInvalid(
            f"the export is truncated: it ends without its trailer (after {run.count} events)",
            line=run.line,
        )
    _check_trailer(run.stop, report, keys, header_sha256, run.count, events_digest, run.line)
    if ctx.unfiltered and run.last_seq < ctx.tree_size:
        raise ExportInvalid(
            f"events {run.last_seq + 1}..{ctx.tree_size} are missing: the signed tree has {ctx.tree_size}",
            line=run.line,
            seq=run.last_seq + 1,
        )
    if more_lines:
        raise ExportInvalid("lines after the trailer", line=run.line + 1)
    report.events = run.count
    if run.count:
        report.first_seq, report.first_at = run.first_seq, _at(run.first_text)
        report.last_seq, report.last_at = run.last_seq, _at(run.last_text)
    return report


def verify_export(lines: Iterable[bytes], keys: TrustedKeys | None) -> ExportReport:
    """Check a JSON Lines export from header to trailer; raise ExportInvalid at the first fault."""
    iterator = iter(lines)
    header_line = next(iterator, b"").rstrip(b"\r\n")
    ctx, report = _read_header(header_line, keys)
    digest = hashlib.sha256()
    run = _Run(line=1)
    _check_events(iterator, ctx, run, digest.update)
    more = run.stop is not None and next(iterator, None) is not None
    return _finish(report, ctx, run, keys, hashlib.sha256(header_line).hexdigest(), digest.hexdigest(), more)


# --- the same, in parallel over a file -----------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    """Event lines [start, end) of the file, and where the line before them begins."""

    path: str
    ctx: _Context
    start: int
    end: int
    previous_line_start: int  # == start when the previous line is the header


@dataclass
class _ChunkResult:
    run: _Run
    leaves: bytes
    more_lines: bool  # lines after the one the walk stopped at
    fault: tuple[str, int | None, int | None] | None = None  # reason, line (chunk-relative), seq


def _state_after(previous: bytes) -> tuple[int, str, str]:
    """(seq, hash, entry text) of the event line before a chunk, as the walk would have left them.

    When that line is not a well-formed event, the chunk before fails at it first, and what this
    chunk finds is never reported.
    """
    try:
        text = orjson.loads(previous)["entry"]
        at_seq = text.rindex('"seq":') + 6
        seq = int(text[at_seq : text.index(",", at_seq)])
        return seq, hashlib.sha256(text.encode()).hexdigest(), text
    except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError, ValueError):
        return 0, GENESIS_HASH, ""


def _check_chunk(chunk: _Chunk) -> _ChunkResult:
    with open(chunk.path, "rb") as fh:
        fh.seek(chunk.previous_line_start)
        previous = fh.read(chunk.start - chunk.previous_line_start)
        data = fh.read(chunk.end - chunk.start)
    run = _Run()
    if previous:
        run.last_seq, run.last_hash, run.last_text = _state_after(previous.rstrip(b"\r\n"))
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the newline that ends the chunk's last line
    leaves = bytearray()
    try:
        _check_events(iter(lines), chunk.ctx, run, leaves.extend)
    except ExportInvalid as exc:
        return _ChunkResult(run, b"", False, (exc.reason, exc.line, exc.seq))
    return _ChunkResult(run, bytes(leaves), run.stop is not None and run.line < len(lines))


def _chunk_bounds(fh: BinaryIO, start: int, size: int, chunk_bytes: int) -> list[tuple[int, int, int]]:
    """(start, end, previous line start) of chunks of about chunk_bytes, split after a newline."""
    bounds: list[tuple[int, int, int]] = []
    previous_start = start
    while start < size:
        end = min(start + chunk_bytes, size)
        if end < size:
            fh.seek(end)
            while True:  # to the end of the line that `end` falls in
                block = fh.read(1 << 16)
                if not block:
                    end = size
                    break
                newline = block.find(b"\n")
                if newline >= 0:
                    end += newline + 1
                    break
                end += len(block)
        bounds.append((start, end, previous_start))
        previous_start = _line_start(fh, start, end)
        start = end
    return bounds


def _line_start(fh: BinaryIO, low: int, end: int) -> int:
    """Where the last line of [low, end) begins (end is just after its newline)."""
    position = end - 1
    while position > low:
        step = min(1 << 16, position - low)
        fh.seek(position - step)
        found = fh.read(step).rfind(b"\n")
        if found >= 0:
            return position - step + found + 1
        position -= step
    return low


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def verify_export_file(
    path: Path,
    keys: TrustedKeys | None,
    *,
    workers: int | None = None,
    chunk_bytes: int = 4 * 2**20,
    on_progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """verify_export over a file, its event lines checked by `workers` processes in parallel.

    The file is cut after newlines into chunks; each worker checks a chunk's lines exactly as
    verify_export does, starting from the event line before the chunk (for the chain link), and
    returns its leaf hashes; the chunks are then joined in file order: the first fault in the
    file is the one reported, the trailer digest is computed over every leaf in order.
    `on_progress` gets the number of bytes checked so far.
    """
    workers = workers or default_workers()
    with path.open("rb") as fh:
        header_line = fh.readline()
        body_start = len(header_line)
        size = fh.seek(0, os.SEEK_END)
        header_line = header_line.rstrip(b"\r\n")
        ctx, report = _read_header(header_line, keys)
        bounds = _chunk_bounds(fh, body_start, size, chunk_bytes)
    chunks = [_Chunk(str(path), ctx, start, end, previous) for start, end, previous in bounds]
    digest = hashlib.sha256()
    run = _Run(line=1)
    more = False
    with _pool(workers if len(chunks) > 1 else 1) as results_of:
        for chunk, result in zip(chunks, results_of(chunks), strict=True):
            if run.stop is not None:  # an earlier chunk ended at the trailer: these lines follow it
                more = True
                continue
            if result.fault is not None:
                reason, line, seq = result.fault
                raise ExportInvalid(reason, line=None if line is None else run.line + line, seq=seq)
            digest.update(result.leaves)
            part = result.run
            if part.count and not run.count:
                run.first_seq, run.first_text = part.first_seq, part.first_text
            if part.count:
                run.last_seq, run.last_hash, run.last_text = part.last_seq, part.last_hash, part.last_text
            run.count += part.count
            run.line += part.line
            run.stop, more = part.stop, result.more_lines
            if on_progress is not None:
                on_progress(chunk.end)
    return _finish(report, ctx, run, keys, hashlib.sha256(header_line).hexdigest(), digest.hexdigest(), more)


@contextmanager
def _pool(workers: int) -> Iterator[Callable[[list[_Chunk]], Iterator[_ChunkResult]]]:
    """Map chunks to results in order: in this process for one worker, else in a process pool."""
    if workers <= 1:
        yield lambda chunks: map(_check_chunk, chunks)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
        try:
            yield lambda chunks: executor.map(_check_chunk, chunks)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)


def _at(entry_text: str) -> str | None:
    at = loads_entry(entry_text).get("at")
    return at if isinstance(at, str) else None


def loads_entry(entry_text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(entry_text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _check_trailer(
    item: dict[str, Any],
    report: ExportReport,
    keys: TrustedKeys | None,
    header_sha256: str,
    count: int,
    events_digest: str,
    line: int,
) -> None:
    if item.get("events") != count:
        raise ExportInvalid(
            f"the trailer counts {item.get('events')} events but the export holds {count}", line=line
        )
    if item.get("events_digest") != events_digest:
        raise ExportInvalid("the trailer's digest does not match the events in the export", line=line)
    if keys is not None:
        statement = export_statement(header_sha256=header_sha256, events=count, events_digest=events_digest)
        check_signature(keys, report.key_id, item.get("signature"), statement, "the export's trailer")

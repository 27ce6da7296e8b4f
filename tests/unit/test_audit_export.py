"""Exports that verify on their own, and tampering with the database found at the exact event."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.audit.entries import event_hash
from services.audit.main import app
from services.audit.merkle import stored_nodes
from services.audit.offline import ExportReport, verify_export, verify_export_file
from services.audit.signed_formats import ExportInvalid, TrustedKeys
from services.audit.signing import AuditSigner
from tests.unit.audit_fixtures import DRAFT, AuditApp, audit_app

__all__ = ["audit_app"]

EVENTS = 10


def verify(data: bytes, keys: TrustedKeys | None) -> ExportReport:
    """verify_export over the lines, and the parallel file verifier: both must say the same.

    The file is cut into chunks of a few hundred bytes (about one event each) and checked by two
    processes, so every fault lands at a chunk's edge somewhere in this suite.
    """
    try:
        expected: ExportReport | ExportInvalid = verify_export(data.splitlines(), keys)
    except ExportInvalid as exc:
        expected = exc
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.jsonl"
        path.write_bytes(data)
        for chunk_bytes in (1, 300, 1 << 20):
            try:
                got: ExportReport | ExportInvalid = verify_export_file(
                    path, keys, workers=2, chunk_bytes=chunk_bytes
                )
            except ExportInvalid as exc:
                got = exc
            if isinstance(expected, ExportInvalid):
                assert isinstance(got, ExportInvalid), f"chunks of {chunk_bytes} bytes: verified"
                assert (str(got), got.line, got.seq) == (str(expected), expected.line, expected.seq)
            else:
                assert got == expected, f"chunks of {chunk_bytes} bytes"
    if isinstance(expected, ExportInvalid):
        raise expected
    return expected


def failure(data: bytes, keys: TrustedKeys | None) -> ExportInvalid:
    with pytest.raises(ExportInvalid) as caught:
        verify(data, keys)
    return caught.value


async def service_verify(api: AuditApp) -> dict[str, Any]:
    response = await api.client.get("/api/v1/audit/verify", headers=api.bearer("auditor"))
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


async def filled(api: AuditApp, count: int = EVENTS) -> None:
    for n in range(1, count + 1):
        await api.append(n)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/audit/export"),
        ("GET", "/api/v1/audit/export?format=csv"),
        ("GET", "/api/v1/audit/events"),
        ("GET", "/api/v1/audit/verify"),
        ("GET", "/api/v1/audit/tree-head"),
        ("GET", "/api/v1/audit/consistency?first=1&second=1"),
        ("GET", f"/api/v1/audit/drafts/{DRAFT}/approval-record.pdf"),
    ],
)
async def test_only_auditors_and_admins_read_the_trail(audit_app: AuditApp, method: str, path: str) -> None:
    await filled(audit_app, 2)

    anonymous = await audit_app.client.request(method, path)
    author = await audit_app.client.request(method, path, headers=audit_app.bearer("author"))
    reviewer = await audit_app.client.request(method, path, headers=audit_app.bearer("legal", "compliance"))
    auditor = await audit_app.client.request(method, path, headers=audit_app.bearer("auditor"))
    admin = await audit_app.client.request(method, path, headers=audit_app.bearer("admin"))

    assert anonymous.status_code == 401
    assert (author.status_code, reviewer.status_code) == (403, 403)
    assert author.json()["error"] == "forbidden"
    assert (auditor.status_code, admin.status_code) == (200, 200), auditor.text


async def test_the_public_key_is_published_and_pins_the_signer(audit_app: AuditApp, tmp_path: Path) -> None:
    body = (await audit_app.client.get("/api/v1/audit/public-key")).json()
    key_file = audit_app.var_dir / "keys" / "audit" / "audit-signing.pem"

    assert [k["crv"] for k in body["keys"]] == ["Ed25519"]
    assert body["pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert list(await audit_app.trusted_keys(tmp_path)) == [body["keys"][0]["kid"]]


async def test_a_full_export_verifies_offline_and_is_itself_in_the_trail(
    audit_app: AuditApp, tmp_path: Path
) -> None:
    await filled(audit_app)
    keys = await audit_app.trusted_keys(tmp_path)

    data = await audit_app.export(reason="quarterly review")
    report = verify(data, keys)

    lines = [orjson.loads(line) for line in data.splitlines()]
    header, trailer = lines[0], lines[-1]
    assert [line["type"] for line in lines] == ["header"] + ["event"] * (EVENTS + 1) + ["trailer"]
    assert (report.events, report.first_seq, report.last_seq) == (EVENTS + 1, 1, EVENTS + 1)
    assert report.tree_size == header["tree_head"]["tree_size"] == EVENTS + 1
    assert report.authenticity_checked and report.checkpoint_size == 8  # a head every 4 events
    assert trailer["events"] == EVENTS + 1
    recorded = json.loads(lines[-2]["entry"])
    assert recorded["action"] == "audit.exported" and recorded["seq"] == header["export_event_seq"]
    assert (recorded["actor"], recorded["actor_name"], recorded["reason"]) == (
        "u-auditor",
        "Audrey Auditor",
        "quarterly review",
    )
    first = json.loads(lines[1]["entry"])
    # Appended with the audit service's own credential: the caller is recorded, not the body's claim.
    assert first["service"] == "audit" and len(first["trace_id"]) == 32
    assert (await service_verify(audit_app))["ok"] is True


@pytest.mark.parametrize(
    ("params", "expected_seqs"),
    [
        ({"draft_id": DRAFT}, [1, 3, 5, 7, 9]),
        ({"actor": "user:1"}, [1, 4, 7, 10]),
        ({"action": "review.opened"}, [2, 4, 6, 8, 10]),
        ({"action": "review.opened", "actor": "user:2"}, [2, 8]),
    ],
)
async def test_a_filtered_export_verifies_on_its_own(
    audit_app: AuditApp, tmp_path: Path, params: dict[str, str], expected_seqs: list[int]
) -> None:
    await filled(audit_app)
    keys = await audit_app.trusted_keys(tmp_path)

    data = await audit_app.export(**params)

    report = verify(data, keys)
    seqs = [json.loads(orjson.loads(line)["entry"])["seq"] for line in data.splitlines()[1:-1]]
    assert seqs == expected_seqs and report.events == len(expected_seqs)
    assert all(report.filter[k] == v for k, v in params.items())
    dropped = b"\n".join(line for i, line in enumerate(data.splitlines()) if i != 2)
    assert "trailer" in str(failure(dropped, keys))


async def test_time_bounds_filter_by_server_time(audit_app: AuditApp, tmp_path: Path) -> None:
    await filled(audit_app, 4)
    listed = (await audit_app.client.get("/api/v1/audit/events", headers=audit_app.bearer("admin"))).json()[
        "events"
    ]

    data = await audit_app.export(since=listed[1]["at"], until=listed[3]["at"])

    report = verify(data, await audit_app.trusted_keys(tmp_path))
    assert (report.first_seq, report.last_seq, report.events) == (2, 3, 2)


async def test_csv_export_has_one_row_per_event(audit_app: AuditApp) -> None:
    await filled(audit_app, 5)

    data = (await audit_app.export(format="csv")).decode()

    rows = data.strip().splitlines()
    assert rows[0].startswith("seq,at,actor,actor_name")
    assert [row.split(",")[0] for row in rows[1:]] == ["1", "2", "3", "4", "5", "6"]


async def test_a_truncated_export_fails(audit_app: AuditApp, tmp_path: Path) -> None:
    await filled(audit_app)
    keys = await audit_app.trusted_keys(tmp_path)
    lines = (await audit_app.export()).splitlines()

    no_trailer = failure(b"\n".join(lines[:-1]), keys)
    cut_short = failure(b"\n".join(lines[:5]), None)
    tail_dropped = failure(b"\n".join([*lines[:-3], lines[-1]]), keys)
    digest_forged = failure(b"\n".join([*lines[:-1], lines[-1].replace(b'"events":11', b'"events":9')]), keys)

    assert "truncated" in no_trailer.reason and "truncated" in cut_short.reason
    assert "trailer counts 11" in tail_dropped.reason
    assert "trailer counts 9" in digest_forged.reason


async def test_a_forged_tree_head_fails_the_signature_check(audit_app: AuditApp, tmp_path: Path) -> None:
    await filled(audit_app)
    keys = await audit_app.trusted_keys(tmp_path)
    data = await audit_app.export()
    header = orjson.loads(data.splitlines()[0])
    # A forger with another key re-signs the same head: integrity holds, authenticity does not.
    forger = AuditSigner.generate()
    forged_head = forger.sign_tree_head(
        tree_size=header["tree_head"]["tree_size"],
        root_hash=header["tree_head"]["root_hash"],
        timestamp=header["tree_head"]["timestamp"],
    )
    header["tree_head"] = forged_head.as_dict()
    header["checkpoint"] = None
    reforged = orjson.dumps(header) + b"\n" + b"\n".join(data.splitlines()[1:])
    tweaked = dict(orjson.loads(data.splitlines()[0]))
    tweaked["tree_head"] = {**tweaked["tree_head"], "tree_size": 10}

    assert "not a key you trust" in failure(reforged, keys).reason
    assert "not a key you trust" not in str(verify_export_without_trailer_check(reforged))
    bumped = orjson.dumps(tweaked) + b"\n" + b"\n".join(data.splitlines()[1:])
    assert "signature does not verify" in failure(bumped, keys).reason


def verify_export_without_trailer_check(data: bytes) -> str:
    """Without a key the forged head passes the integrity checks (only the trailer, re-signed by
    nobody, still matches the events): what the CLI then reports as not authenticated."""
    try:
        return repr(verify(data, None))
    except ExportInvalid as exc:
        return str(exc)


# --- tampering with the database, one row at a time ---------------------------------------------


async def stored(seq: int | None = None) -> dict[str, Any]:
    """One event as stored (read straight from the table, so reading it records nothing)."""
    from sqlalchemy import select

    from services.audit.entries import to_out
    from services.audit.models import AuditEvent

    async with app.state.sessionmaker() as session:
        statement = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)
        if seq is not None:
            statement = select(AuditEvent).where(AuditEvent.seq == seq)
        return to_out((await session.execute(statement)).scalar_one()).model_dump()


async def edit_content(api: AuditApp) -> None:
    await api.sql("UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 5")


async def edit_with_recomputed_hash(api: AuditApp) -> None:
    target = {k: v for k, v in (await stored(5)).items() if k not in ("hash", "draft_id")}
    target["actor"] = "user:mallory"
    await api.sql(
        "UPDATE audit_events SET actor = 'user:mallory', hash = :h WHERE seq = 5", h=event_hash(**target)
    )


async def delete_row(api: AuditApp) -> None:
    await api.sql("DELETE FROM audit_events WHERE seq = 5")


async def swap_rows(api: AuditApp) -> None:
    columns = ("at", "actor", "action", "subject", "draft_id", "details", "trace_id", "prev_hash", "hash")
    rows = {seq: await stored(seq) for seq in (5, 6)}

    def values(seq: int) -> dict[str, Any]:
        return {c: json.dumps(rows[seq][c]) if c == "details" else rows[seq][c] for c in columns}

    assignments = ", ".join(f'"{c}" = :{c}' for c in columns)
    await api.sql(f"UPDATE audit_events SET {assignments} WHERE seq = 5", **values(6))
    await api.sql(f"UPDATE audit_events SET {assignments} WHERE seq = 6", **values(5))


async def insert_row(api: AuditApp) -> None:
    """A well-formed event appended by hand after the last one: the chain alone cannot tell."""
    tail = await stored()
    forged: dict[str, Any] = {
        "seq": tail["seq"] + 1,
        "at": tail["at"],
        "actor": "user:mallory",
        "action": "decision.recorded",
        "subject": f"draft:{DRAFT}",
        "details": {"decision": "approve"},
        "idempotency_key": "forged:1",
        "prev_hash": tail["hash"],
    }
    await api.sql(
        "INSERT INTO audit_events (seq, at, actor, action, subject, draft_id, details, idempotency_key,"
        " prev_hash, hash) VALUES (:seq, :at, :actor, :action, :subject, :draft_id, :details,"
        " :idempotency_key, :prev_hash, :hash)",
        **{**forged, "details": json.dumps(forged["details"])},
        draft_id=DRAFT,
        hash=event_hash(**forged),
    )


TAMPERING = {
    # how, the seq the service's verify names, the seq the offline verify names, words in its reason
    "edit": (edit_content, 5, 5, "hash mismatch"),
    "edit-and-rehash": (edit_with_recomputed_hash, 5, 5, "not the event the signed tree holds"),
    "delete": (delete_row, 6, 5, "missing"),
    "reorder": (swap_rows, 5, 5, "hash mismatch"),
    "insert": (insert_row, 12, 12, "not covered by the signed tree head"),
}


@pytest.mark.parametrize("how", list(TAMPERING))
async def test_tampering_with_one_row_is_found_at_that_event(
    audit_app: AuditApp, tmp_path: Path, how: str
) -> None:
    tamper, service_seq, export_seq, reason = TAMPERING[how]
    await filled(audit_app)
    keys = await audit_app.trusted_keys(tmp_path)
    assert (await service_verify(audit_app))["ok"] is True  # event 11 records this verify

    await tamper(audit_app)

    result = await service_verify(audit_app)
    assert (result["ok"], result["first_bad_seq"]) == (False, service_seq), result
    if how == "delete":
        assert "expected seq 5" in result["reason"]
    fresh = await audit_app.export()
    found = failure(fresh, keys)
    assert found.seq == export_seq, str(found)
    assert reason in found.reason, str(found)


async def test_deleting_the_newest_events_is_found_against_the_last_signed_head(
    audit_app: AuditApp, tmp_path: Path
) -> None:
    await filled(audit_app, 12)  # heads signed at 4, 8 and 12 events
    keys = await audit_app.trusted_keys(tmp_path)
    # The thorough intruder removes events 11 and 12 and every tree node that covers them, so the
    # chain and the tree left behind agree with each other; only the signed head remembers.
    await audit_app.sql("DELETE FROM audit_events WHERE seq > 10")
    keep = set(stored_nodes(0, 10))
    async with app.state.sessionmaker() as session:
        from sqlalchemy import text

        rows = (await session.execute(text("SELECT level, idx FROM audit_tree_nodes"))).all()
        for level, idx in rows:
            covered_to = (idx + 1) << level
            if covered_to > 10 and (level, idx) not in keep:
                await session.execute(
                    text("DELETE FROM audit_tree_nodes WHERE level = :l AND idx = :i"), {"l": level, "i": idx}
                )
        await session.commit()

    export = failure(await audit_app.export(), keys)  # its own event refills seq 11
    result = await service_verify(audit_app)

    assert (result["ok"], result["first_bad_seq"]) == (False, 12)
    assert "covers 12 events" in result["reason"], result
    assert "the log shrank" in export.reason and "covers 12 events" in export.reason


async def test_consistency_proofs_link_heads_and_expose_rewrites(audit_app: AuditApp, tmp_path: Path) -> None:
    from services.audit.signed_formats import check_consistency

    keys = await audit_app.trusted_keys(tmp_path)
    await filled(audit_app, 5)
    old = (await audit_app.client.get("/api/v1/audit/tree-head", headers=audit_app.bearer("auditor"))).json()
    await filled(audit_app, 9)
    new = (await audit_app.client.get("/api/v1/audit/tree-head", headers=audit_app.bearer("auditor"))).json()
    proof = (
        await audit_app.client.get(
            "/api/v1/audit/consistency",
            params={"first": old["tree_size"], "second": new["tree_size"]},
            headers=audit_app.bearer("auditor"),
        )
    ).json()
    bad = await audit_app.client.get(
        "/api/v1/audit/consistency", params={"first": 3, "second": 999}, headers=audit_app.bearer("auditor")
    )

    check_consistency(old, new, proof["proof"], keys)
    assert bad.status_code == 404 and "tree size" in bad.json()["detail"]
    with pytest.raises(ExportInvalid, match="does not extend"):
        check_consistency(old, new, proof["proof"][::-1], keys)
    with pytest.raises(ExportInvalid, match="shrank"):
        check_consistency(new, old, [], keys)


async def test_the_approval_record_lists_each_signature(audit_app: AuditApp) -> None:
    content_hash = "ab" * 32
    await audit_app.append(1)
    await audit_app.append(
        2,
        actor="u-legal",
        action="decision.recorded",
        subject=f"draft:{DRAFT}",
        details={
            "stage": "legal",
            "decision": "request_changes",
            "reason": "Add the safety statement",
            "decider_name": "Lena Legal",
            "decider_roles": ["legal"],
            "content_hash": content_hash,
        },
    )

    response = await audit_app.client.get(
        f"/api/v1/audit/drafts/{DRAFT}/approval-record.pdf", headers=audit_app.bearer("auditor")
    )
    missing = await audit_app.client.get(
        "/api/v1/audit/drafts/nope/approval-record.pdf", headers=audit_app.bearer("auditor")
    )

    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    for expected in ("Lena Legal", "Changes requested", content_hash, "Add the safety statement", "legal"):
        assert expected in text, expected
    assert missing.status_code == 404
    generated = (
        await audit_app.client.get(
            "/api/v1/audit/events",
            params={"action": "audit.approval_record_generated"},
            headers=audit_app.bearer("admin"),
        )
    ).json()["events"]
    assert [e["details"]["draft_id"] for e in generated] == [DRAFT, "nope"]


def pdf_text(data: bytes) -> str:
    """The text drawn in an fpdf2 PDF (uncompressed for the check)."""
    import zlib

    chunks = []
    for part in data.split(b"stream\n")[1:]:
        body = part.split(b"\nendstream")[0]
        try:
            chunks.append(zlib.decompress(body).decode("latin-1"))
        except zlib.error:
            chunks.append(body.decode("latin-1"))
    return "".join(chunks).replace("\\(", "(").replace("\\)", ")")


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"]


async def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(
    audit_app: AuditApp, tmp_path: Path
) -> None:
    for n, formula in enumerate(FORMULAS, start=1):
        await audit_app.append(n, actor=formula, subject=formula, reason=formula)

    data = (await audit_app.export(format="csv")).decode()

    rows = list(csv.DictReader(io.StringIO(data, newline="")))
    events = [r for r in rows if r["action"] != "audit.exported"]
    assert len(events) == len(FORMULAS)
    for row, formula in zip(events, FORMULAS, strict=True):
        for column in ("actor", "subject", "reason"):
            assert row[column] == "'" + formula, (column, row[column])
    # Nothing else is changed, and the verifiable format keeps the recorded text.
    assert rows[0]["seq"] == "1" and events[0]["details"].startswith("{")
    jsonl = await audit_app.export()
    assert verify(jsonl, await audit_app.trusted_keys(tmp_path)).events == len(FORMULAS) + 2
    entries = [json.loads(json.loads(line)["entry"]) for line in jsonl.splitlines()[1:-1]]
    assert [e["actor"] for e in entries[: len(FORMULAS)]] == FORMULAS

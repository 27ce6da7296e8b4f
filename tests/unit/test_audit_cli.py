"""`clearpost audit`: export with progress, verify offline with the pinned key, prove consistency."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from services.audit.cli import app as audit_cli
from services.audit.cli import download_export
from tests.unit.audit_fixtures import DRAFT, AuditApp, audit_app

__all__ = ["audit_app"]

runner = CliRunner()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


async def exported(api: AuditApp, tmp_path: Path, **params: str) -> Path:
    for n in range(1, 8):
        await api.append(n)
    api.client.headers.update(api.bearer("auditor"))
    path = tmp_path / "export.jsonl"
    lines = await download_export(api.client, params, path)
    assert lines == len(path.read_bytes().splitlines())
    return path


async def test_verify_reports_what_it_checked(audit_app: AuditApp, tmp_path: Path) -> None:
    path = await exported(audit_app, tmp_path, draft_id=DRAFT)
    key = await audit_app.public_key_file(tmp_path)

    result = runner.invoke(audit_cli, ["verify", str(path), "--key", str(key)])

    assert result.exit_code == 0, result.output
    assert "events verified : 4" in result.output
    assert "seq 1..7" in result.output and DRAFT in result.output
    assert "tree size       : 8" in result.output
    assert "signatures checked" in result.output and "NOT CHECKED" not in result.output


async def test_verify_without_a_key_says_authenticity_was_not_checked(
    audit_app: AuditApp, tmp_path: Path
) -> None:
    path = await exported(audit_app, tmp_path)

    result = runner.invoke(audit_cli, ["verify", str(path)])

    assert result.exit_code == 0, result.output
    assert "authenticity    : NOT CHECKED" in result.output


async def test_verify_names_the_first_failing_event(audit_app: AuditApp, tmp_path: Path) -> None:
    path = await exported(audit_app, tmp_path)
    key = await audit_app.public_key_file(tmp_path)
    lines = path.read_bytes().splitlines()
    event = orjson.loads(lines[3])
    event["entry"] = event["entry"].replace('"actor":"user:0"', '"actor":"user:mallory"')
    lines[3] = orjson.dumps(event)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"\n".join(lines) + b"\n")
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_bytes(b"\n".join(lines[:-1]) + b"\n")

    edited = runner.invoke(audit_cli, ["verify", str(tampered), "--key", str(key)])
    cut = runner.invoke(audit_cli, ["verify", str(truncated), "--key", str(key)])

    assert edited.exit_code == 1
    assert "FAILED" in edited.output and "event seq 3" in edited.output and "hash mismatch" in edited.output
    assert cut.exit_code == 1 and "truncated" in cut.output


async def test_a_key_from_another_service_fails_and_bad_input_is_refused(
    audit_app: AuditApp, tmp_path: Path
) -> None:
    from services.audit.signing import AuditSigner

    path = await exported(audit_app, tmp_path)
    other = tmp_path / "other.pem"
    other.write_text(AuditSigner.generate().public_pem())
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")

    wrong_key = runner.invoke(audit_cli, ["verify", str(path), "--key", str(other)])
    bad_key = runner.invoke(audit_cli, ["verify", str(path), "--key", str(garbage)])
    not_export = runner.invoke(audit_cli, ["verify", str(garbage)])
    missing = runner.invoke(audit_cli, ["verify", str(tmp_path / "nope.jsonl")])

    assert wrong_key.exit_code == 1 and "not a key you trust" in wrong_key.output
    assert bad_key.exit_code == 2 and "not an Ed25519 public key" in bad_key.output
    assert not_export.exit_code == 1 and "first line is not JSON" in not_export.output
    assert missing.exit_code == 2


async def test_consistency_between_two_exports(audit_app: AuditApp, tmp_path: Path) -> None:
    first = await exported(audit_app, tmp_path)
    older = first.rename(tmp_path / "older.jsonl")
    for n in range(20, 25):
        await audit_app.append(n)
    newer = tmp_path / "newer.jsonl"
    await download_export(audit_app.client, {}, newer)
    key = await audit_app.public_key_file(tmp_path)
    old_size = json.loads(older.read_bytes().splitlines()[0])["tree_head"]["tree_size"]
    new_size = json.loads(newer.read_bytes().splitlines()[0])["tree_head"]["tree_size"]
    proof = (
        await audit_app.client.get(
            "/api/v1/audit/consistency", params={"first": old_size, "second": new_size}
        )
    ).json()
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(json.dumps(proof))
    forged_file = tmp_path / "reversed.json"
    forged_file.write_text(json.dumps({"proof": ["00" * 32, *proof["proof"][1:]]}))

    ok = runner.invoke(
        audit_cli, ["consistency", str(older), str(newer), "--key", str(key), "--proof", str(proof_file)]
    )
    forged = runner.invoke(
        audit_cli, ["consistency", str(older), str(newer), "--key", str(key), "--proof", str(forged_file)]
    )
    shrunk = runner.invoke(audit_cli, ["consistency", str(newer), str(older), "--key", str(key)])

    assert ok.exit_code == 0, ok.output
    assert f"tree of {new_size} events" in ok.output and f"tree of {old_size} events" in ok.output
    assert forged.exit_code == 1 and "does not extend" in forged.output
    assert shrunk.exit_code == 1 and "shrank" in shrunk.output


async def test_export_needs_credentials_and_a_known_format(tmp_path: Path) -> None:
    no_token = runner.invoke(
        audit_cli, ["export", "-o", str(tmp_path / "x.jsonl"), "--url", "http://127.0.0.1:9"], env={}
    )
    bad_format = runner.invoke(audit_cli, ["export", "-o", str(tmp_path / "x"), "--format", "xml"])

    assert no_token.exit_code == 2 and "--token" in no_token.output
    assert bad_format.exit_code == 2 and "jsonl or csv" in bad_format.output


async def test_a_refused_export_leaves_no_file(audit_app: AuditApp, tmp_path: Path) -> None:
    audit_app.client.headers.update(audit_app.bearer("author"))
    target = tmp_path / "refused.jsonl"

    with pytest.raises(Exception) as refused:
        await download_export(audit_app.client, {}, target)

    assert getattr(refused.value, "exit_code", None) == 1
    assert not target.exists()


async def test_the_few_lines_of_independent_python_in_the_docs_verify_an_export(
    audit_app: AuditApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = await exported(audit_app, tmp_path, draft_id=DRAFT)
    await audit_app.public_key_file(tmp_path)
    docs = DOCS.read_text()
    snippet = docs.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    path.rename(tmp_path / "export.jsonl")

    exec(compile(snippet, "docs/audit.md", "exec"), {})

    assert "4 events verified against the signed tree of 8" in capsys.readouterr().out
    lines = (tmp_path / "export.jsonl").read_bytes().splitlines()
    event = orjson.loads(lines[2])
    event["entry"] = event["entry"].replace("draft.created", "draft.deleted")
    (tmp_path / "export.jsonl").write_bytes(b"\n".join([*lines[:2], orjson.dumps(event), *lines[3:]]) + b"\n")
    with pytest.raises(AssertionError, match="hash mismatch"):
        exec(compile(snippet, "docs/audit.md", "exec"), {})

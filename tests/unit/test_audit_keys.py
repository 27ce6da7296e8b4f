"""`clearpost keys rotate audit`: a new Ed25519 key signs from the next start, every retired key
stays published, so heads and exports signed before still verify; the rotation is an audit event."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

import services.audit.cli as audit_cli
from services.audit.main import app
from services.audit.offline import verify_export_file
from services.audit.signed_formats import ExportInvalid, check_consistency, check_tree_head, load_public_keys
from services.audit.signing import load_audit_key_ring, load_or_create_audit_key
from services.keys_cli import keys_app
from services.kit.audit_client import deliver_pending_key_events
from services.kit.auth import INTERNAL_HEADER, StaticKeySet
from services.kit.keyfiles import KeyRingFiles, create_key_file
from services.kit.settings import SERVICE_NAMES, KitSettings
from services.kit.tokens import load_key_ring
from tests.unit.audit_fixtures import INTERNAL_TOKEN, AuditApp, audit_app

__all__ = ["audit_app"]

runner = CliRunner()


def _refuse_connections(*_: Any, **__: Any) -> httpx.Response:
    raise httpx.ConnectError("connection refused")


@asynccontextmanager
async def restarted(api: AuditApp) -> AsyncIterator[None]:
    """The audit service started again on the same database and keys (as after a restart)."""
    async with app.router.lifespan_context(app):
        app.state.key_set = StaticKeySet({api.key.kid: api.key.public_jwk})
        yield


async def _head(api: AuditApp) -> dict[str, Any]:
    response = await api.client.get("/api/v1/audit/tree-head", headers=api.bearer("auditor"))
    assert response.status_code == 200, response.text
    head: dict[str, Any] = response.json()
    return head


async def _rotation_events(api: AuditApp) -> list[dict[str, Any]]:
    response = await api.client.get(
        "/api/v1/audit/events",
        params={"action": "audit.signing_key_rotated"},
        headers=api.bearer("auditor"),
    )
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def test_heads_and_exports_signed_before_a_rotation_verify_with_the_published_keys(
    audit_app: AuditApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys_dir = audit_app.var_dir / "keys" / "audit"
    for n in range(1, 6):
        await audit_app.append(n)
    old_head = await _head(audit_app)
    old_export = tmp_path / "before.jsonl"
    old_export.write_bytes(await audit_app.export())
    old_kid = old_head["key_id"]
    monkeypatch.setattr(audit_cli.httpx, "post", _refuse_connections)  # the service is down

    result = runner.invoke(keys_app, ["rotate", "audit"])

    assert result.exit_code == 0, result.output
    assert f"audit: retired key {old_kid} (still published)" in result.output
    assert "records the rotation when it next starts" in result.output
    assert [p.name for p in keys_dir.glob("audit-signing.rotated-*.json")] == [
        f"audit-signing.rotated-{old_kid}.json"
    ]
    retired = json.loads((keys_dir / f"audit-signing.retired-{old_kid}.pub.json").read_text())
    assert retired["kid"] == old_kid and "d" not in retired  # the public half only
    assert stat.S_IMODE((keys_dir / "audit-signing.pem").stat().st_mode) == 0o600

    async with restarted(audit_app):
        published = await audit_app.public_key_file(tmp_path)
        document = json.loads(published.read_text())
        new_kid = document["keys"][0]["kid"]
        new_head = await _head(audit_app)
        proof = await audit_app.client.get(
            "/api/v1/audit/consistency",
            params={"first": old_head["tree_size"], "second": new_head["tree_size"]},
            headers=audit_app.bearer("auditor"),
        )
        verified = await audit_app.client.get("/api/v1/audit/verify", headers=audit_app.bearer("auditor"))
        rotations = await _rotation_events(audit_app)
        new_export = tmp_path / "after.jsonl"
        new_export.write_bytes(await audit_app.export())

    keys = load_public_keys(published)
    assert [k["kid"] for k in document["keys"]] == [new_kid, old_kid] and new_kid != old_kid
    assert new_head["key_id"] == new_kid  # new heads use the new key
    check_tree_head(old_head, keys)  # a head signed before the rotation still verifies
    check_consistency(old_head, new_head, proof.json()["proof"], keys)
    assert verify_export_file(old_export, keys, workers=1).key_id == old_kid
    assert verify_export_file(new_export, keys, workers=1).key_id == new_kid
    with pytest.raises(ExportInvalid, match="not a key you trust"):
        check_tree_head(old_head, {new_kid: keys[new_kid]})  # only because the old key is published
    assert verified.json()["ok"] is True  # every stored head, under either key
    assert len(rotations) == 1 and rotations[0]["actor"].startswith("operator:")
    assert rotations[0]["details"]["retired_key_id"] == old_kid
    assert rotations[0]["details"]["key_id"] == new_kid
    assert not list(keys_dir.glob("audit-signing.rotated-*.json"))  # recorded once, at the start


async def test_a_running_service_records_the_rotation_at_once(
    audit_app: AuditApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys_dir = audit_app.var_dir / "keys" / "audit"
    loop = asyncio.get_running_loop()
    sent: list[httpx.Request] = []

    def deliver(url: str, *, content: str, headers: dict[str, str], timeout: float) -> httpx.Response:
        """The command's POST, handed to the running app (the command runs in a thread here)."""
        assert url.endswith("/internal/v1/events") and headers[INTERNAL_HEADER] == INTERNAL_TOKEN
        request = audit_app.client.post("/internal/v1/events", content=content, headers=headers)
        response = asyncio.run_coroutine_threadsafe(request, loop).result(timeout=30)
        sent.append(response.request)
        return response

    monkeypatch.setattr(audit_cli.httpx, "post", deliver)
    old_kid = load_audit_key_ring(keys_dir).current.key_id

    result = await asyncio.to_thread(runner.invoke, keys_app, ["rotate", "audit"])

    assert result.exit_code == 0, result.output
    assert "the rotation is in the audit log (event seq" in result.output
    assert len(sent) == 1 and not list(keys_dir.glob("audit-signing.rotated-*.json"))
    events = await _rotation_events(audit_app)
    assert [e["details"]["retired_key_id"] for e in events] == [old_kid]
    # Until the restart the running service keeps its ring; after it, the new key signs.
    assert (await _head(audit_app))["key_id"] == old_kid
    async with restarted(audit_app):
        await audit_app.append(99)  # a head per tree size: the next size is signed with the new key
        assert (await _head(audit_app))["key_id"] == events[0]["details"]["key_id"]
        assert len(await _rotation_events(audit_app)) == 1


@pytest.mark.parametrize("service", ["gateway", "review"])
async def test_every_services_rotation_is_an_audit_event(
    audit_app: AuditApp, monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    """The gateway's and the review service's rings too: the event waits in that service's own key
    folder while the audit service is down, and the service delivers it once (it retries in the
    background while it runs: services/kit/audit_client.py)."""
    keys_dir = audit_app.var_dir / "keys" / service
    old_kid = load_key_ring(keys_dir, f"{service}-signing").current.kid
    monkeypatch.setattr(audit_cli.httpx, "post", _refuse_connections)

    result = runner.invoke(keys_app, ["rotate", service])

    assert result.exit_code == 0, result.output
    assert "records the rotation when it next starts" in result.output
    assert [p.name for p in keys_dir.glob(f"{service}-signing.rotated-*.json")] == [
        f"{service}-signing.rotated-{old_kid}.json"
    ]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={INTERNAL_HEADER: INTERNAL_TOKEN},
    ) as service_http:
        assert await deliver_pending_key_events(service_http, keys_dir) == 1
        assert await deliver_pending_key_events(service_http, keys_dir) == 0  # nothing left
    response = await audit_app.client.get(
        "/api/v1/audit/events",
        params={"action": f"{service}.signing_key_rotated"},
        headers=audit_app.bearer("auditor"),
    )
    [event] = response.json()["events"]
    assert event["subject"] == f"{service}:signing-key" and event["actor"].startswith("operator:")
    assert event["details"]["retired_key_id"] == old_kid
    assert event["details"]["key_id"] == load_key_ring(keys_dir, f"{service}-signing").current.kid
    assert not list(keys_dir.glob("*.rotated-*.json"))


async def test_a_read_only_key_folder_delivers_its_rotation_once_and_keeps_the_file(
    audit_app: AuditApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key folder mounted from a Kubernetes Secret cannot lose the event file: the running
    service delivers it once, and a later start delivers it again without a second log entry."""
    keys_dir = audit_app.var_dir / "keys" / "gateway"
    load_key_ring(keys_dir, "gateway-signing")
    monkeypatch.setattr(audit_cli.httpx, "post", _refuse_connections)
    assert runner.invoke(keys_app, ["rotate", "gateway"]).exit_code == 0

    def read_only(self: Path, missing_ok: bool = False) -> None:
        raise OSError(30, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "unlink", read_only)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={INTERNAL_HEADER: INTERNAL_TOKEN},
    ) as service_http:
        this_run: set[str] = set()
        assert await deliver_pending_key_events(service_http, keys_dir, this_run) == 1
        assert await deliver_pending_key_events(service_http, keys_dir, this_run) == 0
        assert await deliver_pending_key_events(service_http, keys_dir) == 1  # the next start
    assert len(list(keys_dir.glob("*.rotated-*.json"))) == 1
    response = await audit_app.client.get(
        "/api/v1/audit/events",
        params={"action": "gateway.signing_key_rotated"},
        headers=audit_app.bearer("auditor"),
    )
    assert len(response.json()["events"]) == 1


def test_rotate_refuses_unknown_services_missing_keys_and_foreign_key_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    keys_dir = tmp_path / "keys" / "audit"

    unknown = runner.invoke(keys_app, ["rotate", "drafts"])
    missing = runner.invoke(keys_app, ["rotate", "audit"])
    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    create_key_file(keys_dir / "audit-signing.pem", p256)
    foreign = runner.invoke(keys_app, ["rotate", "audit"])

    assert unknown.exit_code == 2 and "choose from gateway, review, audit" in unknown.output
    assert missing.exit_code == 1 and "nothing to rotate" in missing.output
    assert foreign.exit_code == 1 and "does not hold an Ed25519 private key" in foreign.output
    assert sorted(p.name for p in keys_dir.iterdir()) == ["audit-signing.pem"]  # nothing changed
    assert (keys_dir / "audit-signing.pem").read_bytes() == p256


def test_a_retired_key_file_that_is_not_the_key_it_names_stops_the_service(tmp_path: Path) -> None:
    signer = load_or_create_audit_key(tmp_path / "audit-signing.pem")
    other = load_or_create_audit_key(tmp_path / "other.pem").public_jwk()
    (tmp_path / f"audit-signing.retired-{signer.key_id}.pub.json").write_text(
        json.dumps({**other, "kid": signer.key_id})
    )

    with pytest.raises(ValueError, match="its kid does not match its key"):
        load_audit_key_ring(tmp_path)


def test_key_files_are_created_once_and_rotation_publishes_only_public_halves(tmp_path: Path) -> None:
    files = KeyRingFiles(tmp_path, "ring")
    first = files.private_pem(lambda: b"first")
    second = files.private_pem(lambda: b"second")  # already there: kept
    create_key_file(files.current, b"third")  # a concurrent start loses to the existing file

    with pytest.raises(ValueError, match="private half"):
        files.rotate(lambda: b"new", lambda pem: {"kid": pem.decode(), "d": "secret"})
    retired, current = files.rotate(
        lambda: b"new", lambda pem: {"kid": pem.decode(), "x": "public"}, at=1_796_000_000
    )

    assert first == second == b"first" and (retired, current) == ("first", "new")
    assert files.retired() == [{"kid": "first", "x": "public", "retired_at": 1_796_000_000}]
    assert files.current.read_bytes() == b"new"
    assert stat.S_IMODE(files.current.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_each_service_reads_its_own_key_folder_and_old_shared_files_move_in(tmp_path: Path) -> None:
    """One compromised service does not hold the others' keys: var/keys/<service>/ each, with what an
    earlier release kept side by side in var/keys/ moved to its owner, and the old shared service
    token deleted."""
    settings = KitSettings(var_dir=tmp_path)
    legacy = {
        "gateway-signing.pem": "gateway",
        "gateway-signing.retired-k1.pub.json": "gateway",
        "scim-token": "gateway",
        "review-signing.pem": "review",
        "review-signing.rotated-k2.json": "review",
        "audit-signing.pem": "audit",
        "consent.key": "drafts",
    }
    for name in [*legacy, "internal-token", "payload.key"]:
        (settings.keys_dir / name).write_text(name)

    folders = {service: settings.service_keys_dir(service) for service in SERVICE_NAMES}

    for name, owner in legacy.items():
        assert (folders[owner] / name).read_text() == name
    assert {p.name for p in settings.keys_dir.iterdir() if p.is_file()} == {"payload.key"}
    assert all(stat.S_IMODE(folder.stat().st_mode) == 0o700 for folder in folders.values())
    with pytest.raises(ValueError, match="unknown service"):
        settings.service_keys_dir("workflows")

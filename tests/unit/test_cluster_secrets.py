"""`clearpost keys bootstrap`: the secrets of a multi-host install, and a process reading its
part of them the way docs/deploy.md mounts them (CLEARPOST_SECRETS_DIR=shared:own,
CLEARPOST_OWN_KEYS_DIR=keys)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.drafts.config import DraftsSettings
from services.gateway.config import GatewaySettings
from services.kit.tokens import load_key_ring

runner = CliRunner()


def test_bootstrap_writes_every_secret_once_and_a_service_reads_its_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "secrets"
    result = runner.invoke(
        app, ["keys", "bootstrap", str(out), "--database-url", "postgresql+asyncpg://db/cp"]
    )
    assert result.exit_code == 0, result.output

    for path in out.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path  # nobody but the owner
    callers = json.loads((out / "shared" / "CLEARPOST_INTERNAL_CALLERS").read_text())
    tokens = {s: (out / s / "settings" / "CLEARPOST_INTERNAL_TOKEN").read_text() for s in callers}
    assert sorted(callers) == ["audit", "drafts", "gateway", "publisher", "review"]
    assert len(set(tokens.values())) == 5  # a credential of its own for each service
    for service, token in tokens.items():
        assert callers[service] == hashlib.sha256(token.encode()).hexdigest()
    assert len(base64.b64decode((out / "shared" / "CLEARPOST_PAYLOAD_KEY").read_text())) == 32

    for name in ("CLEARPOST_INTERNAL_TOKEN", "CLEARPOST_GATEWAY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(
        "CLEARPOST_SECRETS_DIR", os.pathsep.join([str(out / "shared"), str(out / "gateway" / "settings")])
    )
    monkeypatch.setenv("CLEARPOST_OWN_KEYS_DIR", str(out / "gateway" / "keys"))
    gateway = GatewaySettings()
    assert gateway.internal_token == tokens["gateway"]
    assert gateway.internal_callers == callers
    assert gateway.shared_database_url == "postgresql+asyncpg://db/cp"
    assert gateway.gateway_scim_token and gateway.metrics_token and gateway.payload_key
    ring = load_key_ring(gateway.service_keys_dir("gateway"), "gateway-signing")
    assert list((out / "gateway" / "keys").iterdir()) == [out / "gateway" / "keys" / "gateway-signing.pem"]
    assert ring.current.kid in ring.published

    monkeypatch.setenv(
        "CLEARPOST_SECRETS_DIR", os.pathsep.join([str(out / "shared"), str(out / "drafts" / "settings")])
    )
    drafts = DraftsSettings()
    assert drafts.internal_token == tokens["drafts"]
    assert len(base64.b64decode(drafts.consent_key or "")) == 32


def test_bootstrap_never_overwrites_a_folder_that_holds_something(tmp_path: Path) -> None:
    out = tmp_path / "secrets"
    out.mkdir()
    (out / "keep-me").write_text("an earlier secret")

    result = runner.invoke(app, ["keys", "bootstrap", str(out)])

    assert result.exit_code == 1
    assert "is not empty" in result.output
    assert (out / "keep-me").read_text() == "an earlier secret"
    assert sorted(p.name for p in out.iterdir()) == ["keep-me"]

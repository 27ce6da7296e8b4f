"""Settings from a mounted secrets folder and a process's own key folder: what lets a cluster run
every service without a shared var/ (docs/deploy.md, "Nothing shared under var/")."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from services.drafts.config import DraftsSettings
from services.kit.codec import load_payload_keys
from services.kit.settings import KitSettings

PAYLOAD_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # base64 of 32 bytes


def secrets_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    for name, value in files.items():
        (folder / name).write_text(value + "\n")
    return folder


def test_every_setting_can_come_from_a_file_named_for_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = hashlib.sha256(b"drafts-token").hexdigest()
    folder = secrets_folder(
        tmp_path,
        {
            "CLEARPOST_PAYLOAD_KEY": PAYLOAD_KEY,
            "CLEARPOST_INTERNAL_TOKEN": "review-token",
            "CLEARPOST_INTERNAL_CALLERS": f'{{"drafts": "{digest}"}}',
            "CLEARPOST_DATABASE_URL": "postgresql+asyncpg://clearpost:pw@db:5432/clearpost",
            "CLEARPOST_CONSENT_KEY": PAYLOAD_KEY,
        },
    )
    monkeypatch.setenv("CLEARPOST_SECRETS_DIR", str(folder))

    settings = DraftsSettings(var_dir=tmp_path / "var")

    assert settings.payload_key == PAYLOAD_KEY
    assert settings.internal_token == "review-token"
    assert settings.internal_callers == {"drafts": digest}
    assert settings.database_url == "postgresql+asyncpg://clearpost:pw@db:5432/clearpost"
    assert settings.database_schema == "clearpost_drafts"
    assert settings.consent_key == PAYLOAD_KEY
    # Nothing was generated under var/keys/ for the payload key.
    load_payload_keys(settings)
    assert not (tmp_path / "var" / "keys" / "payload.key").exists()


def test_the_environment_wins_over_the_secrets_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = secrets_folder(tmp_path, {"CLEARPOST_INTERNAL_TOKEN": "from-file"})
    monkeypatch.setenv("CLEARPOST_SECRETS_DIR", str(folder))
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", "from-env")

    assert KitSettings(var_dir=tmp_path).internal_token == "from-env"


def test_without_a_secrets_folder_nothing_is_read_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets_folder(tmp_path, {"CLEARPOST_INTERNAL_TOKEN": "from-file"})
    monkeypatch.delenv("CLEARPOST_SECRETS_DIR", raising=False)
    monkeypatch.delenv("CLEARPOST_INTERNAL_TOKEN", raising=False)

    assert KitSettings(var_dir=tmp_path).internal_token is None


def test_own_keys_dir_replaces_the_services_folder_under_var(tmp_path: Path) -> None:
    mounted = tmp_path / "review-keys"
    mounted.mkdir()

    settings = KitSettings(var_dir=tmp_path / "var", own_keys_dir=mounted)

    assert settings.service_keys_dir("review") == mounted
    assert not (tmp_path / "var" / "keys" / "review").exists()
    assert (
        KitSettings(var_dir=tmp_path / "var").service_keys_dir("review")
        == tmp_path / "var" / "keys" / "review"
    )

"""How services reach Temporal in production: mutual TLS and the authorizer's token (settings only;
the embedded dev server speaks plain gRPC on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from services.kit.settings import KitSettings
from services.kit.temporal import tls_config


def test_no_tls_settings_means_plain_grpc(tmp_path: Path) -> None:
    assert tls_config(KitSettings(var_dir=tmp_path)) is False


def test_a_client_certificate_means_mutual_tls(tmp_path: Path) -> None:
    for name in ("ca.pem", "review.pem", "review.key"):
        (tmp_path / name).write_bytes(f"-----{name}-----".encode())
    settings = KitSettings(
        var_dir=tmp_path,
        temporal_tls_ca_file=tmp_path / "ca.pem",
        temporal_tls_cert_file=tmp_path / "review.pem",
        temporal_tls_key_file=tmp_path / "review.key",
        temporal_tls_server_name="temporal-frontend",
    )

    tls = tls_config(settings)

    assert isinstance(tls, TLSConfig)
    assert (tls.server_root_ca_cert, tls.client_cert, tls.client_private_key, tls.domain) == (
        b"-----ca.pem-----",
        b"-----review.pem-----",
        b"-----review.key-----",
        "temporal-frontend",
    )


def test_half_a_client_certificate_is_refused(tmp_path: Path) -> None:
    (tmp_path / "review.pem").write_text("cert")
    with pytest.raises(ValueError, match="both"):
        tls_config(KitSettings(var_dir=tmp_path, temporal_tls_cert_file=tmp_path / "review.pem"))

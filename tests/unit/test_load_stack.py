"""The bench's cluster shape (services/load/stack.py): which processes it runs, what each runs, and
that no two share a var/ folder or see another service's secrets."""

from __future__ import annotations

import os
from pathlib import Path

from services.load.stack import PROCESS_NAMES, Stack, cluster_names, service_of


def _stack(kind: str, names: tuple[str, ...], tmp_path: Path) -> Stack:
    return Stack(
        kind=kind,
        var_dir=tmp_path,
        env={"CLEARPOST_VAR_DIR": str(tmp_path)},
        urls={},
        temporal_address="127.0.0.1:1",
        names=names,
        health_ports={n: 9000 + i for i, n in enumerate(names) if "worker" in n or n.startswith("workflows")},
    )


def test_the_cluster_runs_every_api_and_every_worker_apart_and_twice_the_workers_in_2x() -> None:
    one = cluster_names(1)
    assert one == (
        "temporal", "gateway", "drafts", "review", "publisher", "audit",
        "drafts-worker", "review-worker", "publisher-worker", "audit-worker", "workflows",
    )  # fmt: skip
    two = cluster_names(2)
    assert set(one) < set(two) and len(two) == len(one) + 5
    assert {service_of(n) for n in two} == {
        "temporal",
        "gateway",
        "drafts",
        "review",
        "publisher",
        "audit",
        "workflows",
    }
    assert service_of("review-worker-2") == "review"


def test_each_cluster_process_runs_its_own_command_with_its_own_folder_and_secrets(tmp_path: Path) -> None:
    stack = _stack("cluster-2x", cluster_names(2), tmp_path)
    commands = {name: stack._command(name)[3:] for name in stack.names}
    assert commands["gateway"] == ["serve", "gateway"]
    assert commands["review"] == ["serve", "review", "--no-worker"]
    assert commands["review-worker-2"] == ["worker", "review"]
    assert commands["workflows-2"] == ["worker"]

    envs = {name: stack.process_env(name) for name in stack.names if name != "temporal"}
    var_dirs = [env["CLEARPOST_VAR_DIR"] for env in envs.values()]
    assert len(set(var_dirs)) == len(var_dirs)  # nothing shared on disk
    secrets = tmp_path / "secrets"
    assert envs["publisher-worker"]["CLEARPOST_SECRETS_DIR"].split(os.pathsep) == [
        str(secrets / "shared"),
        str(secrets / "publisher" / "settings"),
    ]
    assert "CLEARPOST_OWN_KEYS_DIR" not in envs["publisher"]
    assert envs["review-worker"]["CLEARPOST_OWN_KEYS_DIR"] == str(secrets / "review" / "keys")
    assert envs["workflows"]["CLEARPOST_SECRETS_DIR"] == str(secrets / "shared")
    assert (
        envs["audit-worker"]["CLEARPOST_WORKER_HEALTH_PORT"]
        != envs["audit-worker-2"]["CLEARPOST_WORKER_HEALTH_PORT"]
    )


def test_the_single_machine_shape_is_what_make_run_starts(tmp_path: Path) -> None:
    stack = _stack("sqlite", PROCESS_NAMES, tmp_path)
    stack.health_ports = {}  # as Stack.start makes it for this shape
    services = ("gateway", "drafts", "review", "publisher", "audit")
    assert [stack._command(n)[3:] for n in stack.names if n != "temporal"] == [
        *(["serve", s] for s in services),
        ["worker"],
    ]
    assert stack.process_env("review") is stack.env
    assert stack.outboxes() == [tmp_path / "outbox" / "sandbox.jsonl"]

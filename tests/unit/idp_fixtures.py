"""The real OpenID provider of the tests (tests/idp/server.mjs), started once per session.

Test modules load this with `pytest_plugins = ["tests.unit.idp_fixtures"]`; helpers are in
tests/unit/idp_support.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.idp_support import TestIdp, start_idp


@pytest.fixture(scope="session")
def test_idp() -> Iterator[TestIdp]:
    idp = start_idp()
    try:
        yield idp
    finally:
        idp.process.terminate()
        idp.process.wait(5)

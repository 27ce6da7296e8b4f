"""schemathesis against every service's OpenAPI document, on the running system, authenticated.

Every check schemathesis has is on (server errors, schema conformance of status codes, content
types, headers and bodies, negative-data rejection, `ignored_auth`, ...). `make test` runs a
bounded number of examples per operation (CLEARPOST_FUZZ_EXAMPLES, default 5); `make fuzz`
raises it. Requests carry an X-Forwarded-For of their own so failed sign-ins generated here count
against that address, not against the loopback address every other e2e test shares.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.system import DEMO_PASSWORD, RunningSystem

# The whole system on SQLite only: the PostgreSQL system runs the spine, operations, audit and
# offboarding suites; this one would double `make test` for little (its storage is unit-tested on both).
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["sqlite"], indirect=True)]

EXAMPLES = int(os.environ.get("CLEARPOST_FUZZ_EXAMPLES", "5"))
FUZZ_ADDRESS = "198.51.100.77"
# Who calls each service's operations (a role that may use most of them).
CALLERS = {"gateway": "admin@demo", "drafts": "author@demo", "review": "compliance@demo",
           "publisher": "publisher@demo", "audit": "auditor@demo"}  # fmt: skip


@pytest.fixture(scope="session", params=list(CALLERS))
def fuzz_target(request: pytest.FixtureRequest, system: RunningSystem) -> dict[str, Any]:
    service: str = request.param
    token = httpx.post(
        f"{system.gateway}/api/v1/auth/token",
        data={"username": CALLERS[service], "password": DEMO_PASSWORD},
        timeout=10,
    ).json()["access_token"]
    scim = (system.var_dir / "keys" / "gateway" / "scim-token").read_text().strip()
    return {"service": service, "url": system.urls[service], "token": token, "scim": scim}


def exercise_for(operation: Any, base_url: str, headers: dict[str, str]) -> Any:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def exercise(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers)

    return exercise


def test_openapi_conformance(fuzz_target: dict[str, Any]) -> None:
    """Each operation of the service's OpenAPI document, every check on; all failures listed."""
    schema = schemathesis.openapi.from_url(f"{fuzz_target['url']}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/internal/"):
            continue  # service-to-service routes take the service credential, not a user's token
        if "x-clearpost-service" in operation.definition.raw:
            continue  # the gateway's document lists every proxied operation: fuzzed at its own service
        bearer = fuzz_target["scim"] if operation.path.startswith("/scim/") else fuzz_target["token"]
        headers = {"Authorization": f"Bearer {bearer}", "X-Forwarded-For": FUZZ_ADDRESS}

        exercise = exercise_for(operation, fuzz_target["url"], headers)
        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:  # every operation runs; failures reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)

"""`clearpost login`, `drafts create/status/submit`, `reviews queue` against the real gateway and
drafts apps in process: the CLI's requests go through the gateway's own token endpoint and proxy to
the drafts service's own routes (only the workflow is missing, so submitting is refused)."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from services.cli import app as clearpost
from services.gateway.proxy import UpstreamProxy
from services.review.schemas import Queue, QueueItem
from services.staff_cli import NOT_SIGNED_IN
from tests.unit.drafts_fixtures import DraftsApi, api

__all__ = ["api"]

GATEWAY = "http://gateway.test"


class InProcessGateway(httpx.BaseTransport):
    """The CLI's (synchronous) requests, from the thread it runs in, answered by the gateway app on
    the test's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
        self._loop = loop
        self._client = client

    async def _send(self, request: httpx.Request, body: bytes) -> httpx.Response:
        answer = await self._client.request(
            request.method, str(request.url), headers=request.headers, content=body
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(self._send(request, request.read()), self._loop).result(30)


@pytest.fixture
def gateway_upstreams() -> dict[str, str]:
    return {"drafts": "http://drafts.test"}


@pytest.fixture
async def transport(gateway_app: FastAPI, api: DraftsApi) -> AsyncIterator[InProcessGateway]:
    # The drafts service trusts the gateway's signing keys, as deployed.
    api.app.state.key_set = gateway_app.state.key_set
    mounts = {"http://drafts.test": httpx.ASGITransport(app=api.app)}
    async with (
        httpx.AsyncClient(mounts=mounts) as upstream,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url=GATEWAY) as client,
    ):
        gateway_app.state.proxy = UpstreamProxy(upstream, gateway_app.state.settings)
        yield InProcessGateway(asyncio.get_running_loop(), client)


async def run(
    transport: httpx.BaseTransport, token_file: Path, *args: str, stdin: str | None = None
) -> Result:
    arguments = [*args, "--gateway", GATEWAY, "--token-file", str(token_file)]
    return await asyncio.to_thread(CliRunner().invoke, clearpost, arguments, input=stdin, obj=transport)


async def test_login_create_status_and_a_refused_submit(transport: InProcessGateway, tmp_path: Path) -> None:
    token_file = tmp_path / "config" / "clearpost" / "token"
    signed_in = await run(
        transport, token_file, "login", "--username", "author@demo", stdin="demo-password\n"
    )
    assert signed_in.exit_code == 0, signed_in.output
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and token_file.read_text().count(".") == 2

    body = tmp_path / "post.txt"
    body.write_text("Walk-in flu vaccinations 9-12 at the Main St clinic.")
    created = await run(
        transport,
        token_file,
        "drafts",
        "create",
        "--title",
        "Flu shots",
        "--body-file",
        str(body),
        "-c",
        "sandbox",
    )
    assert created.exit_code == 0, created.output
    draft_id = created.stdout.strip()

    status = await run(transport, token_file, "drafts", "status", draft_id)
    assert status.exit_code == 0, status.output
    assert status.stdout.splitlines()[0] == f"{draft_id}  version 1  draft  Flu shots"

    # No workflow runs in this test: the API's reason reaches the user, and the exit code says so.
    submitted = await run(transport, token_file, "drafts", "submit", draft_id)
    assert submitted.exit_code == 1 and submitted.stdout == ""
    assert submitted.stderr.startswith("clearpost: 503: ")


async def test_refusals_say_why_on_stderr_and_exit_1(transport: InProcessGateway, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    never_signed_in = await run(transport, token_file, "drafts", "status", "d-1")
    wrong = await run(transport, token_file, "login", "-u", "author@demo", stdin="not-the-password\n")
    token_file.write_text("not-a-token")
    expired = await run(transport, token_file, "drafts", "status", "d-1")

    assert never_signed_in.exit_code == 1 and NOT_SIGNED_IN in never_signed_in.stderr
    assert wrong.exit_code == 1 and wrong.stderr == "clearpost: invalid username or password\n"
    assert expired.exit_code == 1 and expired.stderr.strip() == f"clearpost: {NOT_SIGNED_IN}"

    await run(transport, token_file, "login", "-u", "author@demo", stdin="demo-password\n")
    unknown = await run(transport, token_file, "drafts", "status", "no-such-draft")
    invalid = await run(
        transport, token_file, "drafts", "create", "--title", "", "--body", "x", "-c", "sandbox"
    )
    no_text = await run(transport, token_file, "drafts", "create", "--title", "T", "-c", "sandbox")

    assert unknown.exit_code == 1 and unknown.stderr.startswith("clearpost: 404: ")
    assert invalid.exit_code == 1 and "title:" in invalid.stderr
    assert no_text.exit_code == 1 and "--body or --body-file" in no_text.stderr


def test_the_review_queue_is_a_table_of_tasks(tmp_path: Path) -> None:
    item = QueueItem(
        draft_id="d-42",
        version=2,
        content_hash="ab" * 32,
        stage="compliance",
        roles=["compliance"],
        author_id="u-1",
        policy_version="p1",
        opened_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        finding_count=3,
        categories=["phi", "fda_fair_balance"],
    )
    answer = Queue(tasks=[item]).model_dump(mode="json")  # the review service's own response model

    def queue(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/reviews/queue"
        assert request.headers["authorization"] == "Bearer the-token"
        return httpx.Response(200, json=answer)

    token_file = tmp_path / "token"
    token_file.write_text("the-token\n")
    result = CliRunner().invoke(
        clearpost,
        ["reviews", "queue", "--gateway", GATEWAY, "--token-file", str(token_file)],
        obj=httpx.MockTransport(queue),
    )

    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["draft", "version", "stage", "opened", "findings", "categories"]
    assert row.split() == ["d-42", "2", "compliance", "2026-03-01T09:30:00", "3", "phi,", "fda_fair_balance"]

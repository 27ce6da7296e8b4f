"""`clearpost run` is ready only when every service's /readyz answers 200; a process that exits
first stops the wait with its code."""

from __future__ import annotations

import httpx

from services.readiness import wait_until_ready

URLS = {"gateway": "http://gw.test", "drafts": "http://drafts.test"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def client(answers: dict[str, list[int]]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        statuses = answers[request.url.host]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        if status == 0:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status, text="database unreachable" if status != 200 else "ok")

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_ready_once_every_service_answers() -> None:
    clock, said = Clock(), []
    with client({"gw.test": [0, 503, 200], "drafts.test": [200]}) as http:
        result = wait_until_ready(
            URLS, lambda: None, client=http, clock=clock, sleep=clock.sleep, progress=said.append
        )

    assert result.ready and result.waiting == {}
    assert said == ["  drafts is ready", "  gateway is ready"]
    assert clock.now == 1.0  # two waits: refused, then 503, then ready


def test_a_process_that_exits_stops_the_wait_with_its_code() -> None:
    clock = Clock()
    with client({"gw.test": [0], "drafts.test": [200]}) as http:
        result = wait_until_ready(
            URLS, lambda: 3 if clock.now > 1 else None, client=http, clock=clock, sleep=clock.sleep
        )

    assert not result.ready and result.exited == 3 and list(result.waiting) == ["gateway"]


def test_a_service_never_ready_is_named_at_the_deadline() -> None:
    clock = Clock()
    with client({"gw.test": [200], "drafts.test": [503]}) as http:
        result = wait_until_ready(
            URLS, lambda: None, client=http, clock=clock, sleep=clock.sleep, deadline_seconds=5
        )

    assert not result.ready and result.exited is None
    assert result.waiting == {"drafts": "HTTP 503: database unreachable"}

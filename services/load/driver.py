"""Posts pushed through the public gateway API the way a reviewing team works.

Each post: an author creates a draft and submits it; screening runs; every planned stage is
approved, in order, by a reviewer holding the stage's role who has not decided another stage of
that draft (the demo users); the post is published. Each post is driven by what the API shows
(`GET /drafts/{id}`), so a request lost to a crash is simply tried again on the next look, and a
refusal caused by one (say, a decision the workflow already took) changes nothing.

Every answer is counted: 5xx by route, and transport errors (a process that is down) apart.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DEMO_PASSWORD = "demo-password"
AUTHORS = ("author@demo", "author2@demo")
# Reviewers by role, each stage taken by the first one who has not decided another stage of the draft.
REVIEWERS = {
    "compliance": ("compliance@demo", "authorreviewer@demo"),
    "legal": ("legal@demo", "dual@demo"),
    "medical": ("medical@demo", "dual@demo"),
}
# The demo product with its safety statement: screened clean, planned for compliance and legal.
BODY = (
    "Ask your cardiologist whether Cardiozen is right for you. It helps lower blood pressure. "
    "Cardiozen may cause dizziness, low blood pressure and, rarely, serious allergic reactions. "
    "Do not take Cardiozen if you are pregnant. See full Prescribing Information."
)
# Where a post cannot go on without an author's or reviewer's new choice: not our pipeline's job.
DEAD_ENDS = frozenset({"rejected", "withdrawn", "publish_failed", "changes_requested"})
POLL_SECONDS = 0.2
RETRY_SECONDS = 1.0


def percentile(values: Iterable[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[rank]


@dataclass
class PostResult:
    index: int
    draft_id: str | None = None
    status: str = "not created"
    started: float = 0.0
    finished: float | None = None
    approve_to_visible: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started


@dataclass
class RunResult:
    posts: list[PostResult]
    wall_seconds: float
    server_errors: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)

    @property
    def published(self) -> list[PostResult]:
        return [p for p in self.posts if p.status == "published"]

    @property
    def stuck(self) -> list[PostResult]:
        return [p for p in self.posts if p.status != "published"]

    @property
    def posts_per_second(self) -> float:
        return len(self.published) / self.wall_seconds if self.wall_seconds else math.nan

    def latency(self, q: float) -> float:
        return percentile((p.seconds for p in self.published if p.seconds is not None), q)

    def approve_visible(self, q: float) -> float:
        return percentile((s for p in self.posts for s in p.approve_to_visible), q)


class Team:
    """The demo users, each signed in once (again when a token is refused), sharing one client."""

    def __init__(self, gateway: str, *, timeout: float = 60.0) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        self.http = httpx.AsyncClient(base_url=gateway, timeout=timeout, limits=limits)
        self._tokens: dict[str, str] = {}
        self._signing_in: dict[str, asyncio.Lock] = {}
        self.server_errors: Counter[str] = Counter()
        self.transport_errors: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()

    async def close(self) -> None:
        await self.http.aclose()

    async def _token(self, username: str, *, fresh: bool = False) -> str:
        lock = self._signing_in.setdefault(username, asyncio.Lock())
        async with lock:
            if fresh or username not in self._tokens:
                response = await self.request(
                    None, "POST", "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
                )
                if response is None or response.status_code != 200:
                    raise SignInFailed(f"{username} could not sign in")
                self._tokens[username] = response.json()["access_token"]
            return self._tokens[username]

    async def request(
        self, username: str | None, method: str, path: str, *, route: str | None = None, **kwargs: Any
    ) -> httpx.Response | None:
        """One request as `username`; None when no answer came (the process is down)."""
        for attempt in range(2):
            headers = {}
            if username is not None:
                headers["Authorization"] = f"Bearer {await self._token(username, fresh=attempt > 0)}"
            self.requests[f"{method} {route or path}"] += 1
            try:
                response = await self.http.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                self.transport_errors[f"{method} {route or path}: {type(exc).__name__}"] += 1
                return None
            if response.status_code >= 500:
                answer = f"{response.status_code} {_error(response)}"
                self.server_errors[f"{method} {route or path}: {answer}"] += 1
            if response.status_code == 401 and username is not None and attempt == 0:
                continue
            return response
        return response

    async def sign_in_everyone(self) -> None:
        users = {*AUTHORS, *(u for names in REVIEWERS.values() for u in names)}
        await asyncio.gather(*(self._token(u) for u in sorted(users)))


def _error(response: httpx.Response) -> str:
    """The `error` code of a service's answer, and the start of its detail (for the report)."""
    try:
        body = response.json()
        return f"{body.get('error', '')}: {str(body.get('detail', ''))[:80]}"
    except ValueError:
        return response.text[:80]


class SignInFailed(RuntimeError):
    pass


async def drive_post(
    team: Team, index: int, *, run_id: str, deadline_seconds: float, stop_at: float = math.inf
) -> PostResult:
    """One post from creation to publication, or to its deadline (then `status` says where it stuck)."""
    result = PostResult(index=index, started=time.monotonic())
    author = AUTHORS[index % len(AUTHORS)]
    deadline = min(result.started + deadline_seconds, stop_at)
    decided_by: dict[str, str] = {}  # stage -> reviewer who approved it here
    approved_at: dict[str, float] = {}  # stage -> when the approval was sent
    while time.monotonic() < deadline:
        if result.draft_id is None:
            created = await team.request(
                author,
                "POST",
                "/api/v1/drafts",
                route="/drafts",
                json={
                    "title": f"Load {run_id} #{index}",
                    "body": BODY,
                    "channels": ["sandbox"],
                    "patient_content": False,
                },
            )
            if created is not None and created.status_code == 201:
                result.draft_id = created.json()["id"]
                result.status = "draft"
            else:
                await asyncio.sleep(POLL_SECONDS)
            continue
        seen = await team.request(author, "GET", f"/api/v1/drafts/{result.draft_id}", route="/drafts/{id}")
        if seen is None or seen.status_code != 200:
            await asyncio.sleep(POLL_SECONDS)
            continue
        draft = seen.json()
        result.status = draft["status"]
        now = time.monotonic()
        for stage in draft.get("stages", []):
            if stage["status"] == "approved" and stage["stage"] in approved_at:
                result.approve_to_visible.append(now - approved_at.pop(stage["stage"]))
        if result.status == "published":
            result.finished = now
            return result
        if result.status in DEAD_ENDS:
            return result
        if result.status == "draft":
            await team.request(author, "POST", f"/api/v1/drafts/{result.draft_id}/submit", route="/submit")
            continue
        if result.status == "in_review":
            stage = next((s for s in draft["stages"] if s["status"] != "approved"), None)
            if stage is not None and stage["status"] == "pending" and stage["stage"] not in approved_at:
                await _approve(team, draft, stage, decided_by, approved_at)
                continue
        await asyncio.sleep(POLL_SECONDS)
    return result


async def _approve(
    team: Team,
    draft: dict[str, Any],
    stage: dict[str, Any],
    decided_by: dict[str, str],
    approved_at: dict[str, float],
) -> None:
    name = stage["stage"]
    others = {who for s, who in decided_by.items() if s != name}
    candidates = [u for u in REVIEWERS.get(name, ()) if u not in others]
    if not candidates:
        raise RuntimeError(f"no demo reviewer left for stage {name!r} of draft {draft['id']}")
    reviewer = decided_by.setdefault(name, candidates[0])
    sent = time.monotonic()
    response = await team.request(
        reviewer,
        "POST",
        f"/api/v1/reviews/{draft['id']}/decisions",
        route="/reviews/{id}/decisions",
        json={
            "stage": name,
            "decision": "approve",
            "reason": "",
            "password": DEMO_PASSWORD,
            "content_hash": draft["content_hash"],
        },
    )
    # A taken decision is timed until the stage shows approved; a lost or refused one is tried
    # again at the next look (a refusal of a decision already taken changes nothing).
    if response is not None and response.status_code == 200:
        approved_at[name] = sent
    else:
        await asyncio.sleep(RETRY_SECONDS)  # as a person would, not at once


async def run_posts(
    gateway: str,
    *,
    posts: int,
    in_flight: int,
    deadline_seconds: float = 300.0,
    total_seconds: float = math.inf,
    team: Team | None = None,
) -> RunResult:
    """`posts` posts, at most `in_flight` at a time; returns once every one is published or stuck
    (a post is stuck once `deadline_seconds` pass without it being published, or `total_seconds`
    since the run started)."""
    own = team is None
    team = team or Team(gateway)
    run_id = uuid.uuid4().hex[:8]
    errors_before, transport_before = Counter(team.server_errors), Counter(team.transport_errors)
    requests_before = Counter(team.requests)
    try:
        await team.sign_in_everyone()
        gate = asyncio.Semaphore(in_flight)
        started = time.monotonic()
        stop_at = started + total_seconds

        async def one(index: int) -> PostResult:
            async with gate:
                return await drive_post(
                    team, index, run_id=run_id, deadline_seconds=deadline_seconds, stop_at=stop_at
                )

        results = await asyncio.gather(*(one(i) for i in range(posts)))
        wall = time.monotonic() - started
    finally:
        if own:
            await team.close()
    return RunResult(
        posts=list(results),
        wall_seconds=wall,
        server_errors=team.server_errors - errors_before,
        transport_errors=team.transport_errors - transport_before,
        requests=team.requests - requests_before,
    )


def channel_counts(ledger: Path) -> Counter[str]:
    """How many times the channel received each draft (the sandbox ledger, one line per post)."""
    counts: Counter[str] = Counter()
    if not ledger.exists():
        return counts
    for line in ledger.read_text().splitlines():
        if line.strip():
            counts[json.loads(line)["draft_id"]] += 1
    return counts

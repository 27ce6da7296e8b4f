"""Many drafts in flight at once, through the public API, on SQLite and on PostgreSQL (issue #13).

Small enough for CI: 30 posts, 15 in flight, each created, submitted, screened, approved stage by
stage by distinct reviewers and published. It fails when a post is stuck (not published within
its deadline), when any request answers 5xx or goes unanswered, or when the channel receives a
post other than once. Nothing here asserts how fast: `make bench` measures that.
"""

from __future__ import annotations

import pytest

from services.load.driver import channel_counts, run_posts
from tests.system import RunningSystem

pytestmark = pytest.mark.e2e

POSTS = 30
IN_FLIGHT = 15


async def test_drafts_in_flight_all_publish_once_without_server_errors(system: RunningSystem) -> None:
    result = await run_posts(system.gateway, posts=POSTS, in_flight=IN_FLIGHT, deadline_seconds=240)

    stuck = {p.draft_id: p.status for p in result.stuck}
    assert not stuck, f"{len(stuck)} of {POSTS} posts never published: {stuck}; logs in {system.logs}"
    assert not result.server_errors, f"5xx answers: {dict(result.server_errors)}; logs in {system.logs}"
    assert not result.transport_errors, f"unanswered requests: {dict(result.transport_errors)}"
    received = channel_counts(system.var_dir / "outbox" / "sandbox.jsonl")
    assert {p.draft_id: received[p.draft_id or ""] for p in result.posts} == {
        p.draft_id: 1 for p in result.posts
    }, "every post reaches the channel exactly once"

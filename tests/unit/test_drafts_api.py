"""The drafts HTTP API: who may create, change, read, submit and withdraw a draft, and what it records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.kit.auth import INTERNAL_HEADER
from services.kit.canonical import content_hash
from tests.unit.drafts_fixtures import AUTHOR, DRAFT, INTERNAL_TOKEN, DraftsApi, api
from workflows.contracts import DecisionSnapshot, StageSnapshot

__all__ = ["api"]  # the fixture the tests below take

OTHER_AUTHOR = "author-2"


def instant(value: str) -> datetime:
    """A timestamp from the API, parsed (every one carries its UTC offset)."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no UTC offset"
    return parsed


def without_timestamps(draft: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in draft.items() if k not in ("created_at", "updated_at")}


async def test_an_author_creates_version_one_with_its_content_hash(api: DraftsApi) -> None:
    headers = api.as_user("author")

    response = await api.http.post("/api/v1/drafts", json=DRAFT, headers=headers)

    assert response.status_code == 201, response.text
    draft = response.json()
    expected_hash = content_hash(
        title=DRAFT["title"], body=DRAFT["body"], channels=DRAFT["channels"], media_digests=[]
    )
    assert draft["content_hash"] == expected_hash
    assert (draft["version"], draft["status"], draft["author_id"]) == (1, "draft", AUTHOR)
    assert (draft["title"], draft["body"], draft["channels"]) == (DRAFT["title"], DRAFT["body"], ["sandbox"])
    assert draft["stages"] == [] and draft["note"] == ""
    assert api.channels.tokens == [headers["Authorization"].removeprefix("Bearer ")]
    assert api.audit.events == [
        {
            "actor": AUTHOR,
            "action": "draft.created",
            "subject": f"draft:{draft['id']}",
            "details": {
                "version": 1,
                "content_hash": expected_hash,
                "channels": ["sandbox"],
                "patient_content": False,
            },
            # who, as a reviewer of the trail needs it: the printed name and roles at that moment
            "actor_name": f"Name of {AUTHOR}",
            "actor_roles": ["author"],
        }
    ]


async def test_an_unknown_channel_is_refused(api: DraftsApi) -> None:
    response = await api.http.post(
        "/api/v1/drafts", json={**DRAFT, "channels": ["sandbox", "myspace"]}, headers=api.as_user("author")
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unknown_channel"
    assert "myspace" in response.json()["detail"]
    assert api.audit.events == []


@pytest.mark.parametrize("missing", ["title", "body", "channels"])
async def test_a_draft_without_a_required_field_is_invalid(api: DraftsApi, missing: str) -> None:
    body = {k: v for k, v in DRAFT.items() if k != missing}

    response = await api.http.post("/api/v1/drafts", json=body, headers=api.as_user("author"))

    assert response.status_code == 422
    assert response.json()["error"] == "invalid"
    assert [problem["loc"][-1] for problem in response.json()["detail"]] == [missing]


@pytest.mark.parametrize("roles", [("legal",), ("compliance", "medical"), ("publisher",), ("admin",)])
async def test_only_authors_create_drafts(api: DraftsApi, roles: tuple[str, ...]) -> None:
    response = await api.http.post("/api/v1/drafts", json=DRAFT, headers=api.as_user(*roles))

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert api.audit.events == []


async def test_anonymous_callers_are_turned_away(api: DraftsApi) -> None:
    response = await api.http.post("/api/v1/drafts", json=DRAFT)

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


async def test_the_author_revises_into_a_new_version(api: DraftsApi) -> None:
    draft = await api.create()
    changed = {**DRAFT, "body": "Walk-in flu vaccinations 9-1 at the Main St clinic."}

    response = await api.http.put(
        f"/api/v1/drafts/{draft['id']}", json=changed, headers=api.as_user("author")
    )

    assert response.status_code == 200, response.text
    revised = response.json()
    assert revised["version"] == 2
    assert revised["content_hash"] == content_hash(
        title=changed["title"], body=changed["body"], channels=changed["channels"], media_digests=[]
    )
    assert revised["content_hash"] != draft["content_hash"]
    assert api.audit.actions() == ["draft.created", "draft.version_created"]
    assert api.audit.events[-1]["details"]["version"] == 2


async def test_another_author_cannot_revise(api: DraftsApi) -> None:
    draft = await api.create()

    response = await api.http.put(
        f"/api/v1/drafts/{draft['id']}",
        json={**DRAFT, "title": "Hijacked"},
        headers=api.as_user("author", user_id=OTHER_AUTHOR),
    )

    assert response.status_code == 403
    unchanged = await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.as_user("author"))
    assert (unchanged.json()["version"], unchanged.json()["title"]) == (1, DRAFT["title"])
    assert api.audit.actions() == ["draft.created", "draft.read"]


async def test_a_draft_in_review_cannot_be_revised(api: DraftsApi) -> None:
    draft = await api.create()
    assert await api.project(draft["id"], 1, "in_review", content_hash=draft["content_hash"])

    response = await api.http.put(
        f"/api/v1/drafts/{draft['id']}", json={**DRAFT, "title": "Too late"}, headers=api.as_user("author")
    )

    assert response.status_code == 409
    assert response.json()["error"] == "not_editable"
    current = await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.as_user("author"))
    assert (current.json()["status"], current.json()["version"]) == ("in_review", 1)


async def test_an_older_projection_after_a_newer_one_is_ignored(api: DraftsApi) -> None:
    draft = await api.create()
    decision = DecisionSnapshot(
        decider="reviewer-1",
        decider_name="Casey Compliance",
        decision="approve",
        reason="ok",
        at="2026-11-23T10:00:00+00:00",
        content_hash=draft["content_hash"],
    )
    stages = [
        StageSnapshot("compliance", "approved", ["compliance"], [decision]),
        StageSnapshot("legal", "pending", ["legal"]),
    ]

    newer = await api.project(draft["id"], 3, "in_review", stages=stages, note="waiting on legal")
    older = await api.project(draft["id"], 2, "screening", note="screening")
    same = await api.project(draft["id"], 3, "rejected")

    assert (newer, older, same) == (True, False, False)
    response = await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.as_user("author"))
    current = response.json()
    assert (current["status"], current["note"]) == ("in_review", "waiting on legal")
    # Quorum progress and the SLA are the workflow's to fill in; these snapshots carry the defaults.
    progress = {"approvals": 0, "quorum": 1, "due_at": None, "escalated": False}
    assert current["stages"] == [
        {
            "stage": "compliance",
            "status": "approved",
            "roles": ["compliance"],
            "decisions": [
                {
                    "decider": "reviewer-1",
                    "decider_name": "Casey Compliance",
                    "decision": "approve",
                    "reason": "ok",
                    "at": "2026-11-23T10:00:00+00:00",
                    "content_hash": draft["content_hash"],
                }
            ],
            **progress,
        },
        {"stage": "legal", "status": "pending", "roles": ["legal"], "decisions": [], **progress},
    ]


async def test_who_may_read_a_draft(api: DraftsApi) -> None:
    draft = await api.create()
    path = f"/api/v1/drafts/{draft['id']}"

    author = await api.http.get(path, headers=api.as_user("author"))
    unrelated = await api.http.get(path, headers=api.as_user("author", user_id=OTHER_AUTHOR))
    reviewer = await api.http.get(path, headers=api.as_user("legal", user_id="reviewer-1"))
    missing = await api.http.get("/api/v1/drafts/does-not-exist", headers=api.as_user("legal"))

    assert author.status_code == 200
    assert without_timestamps(author.json()) == without_timestamps(draft)
    assert instant(author.json()["created_at"]) == instant(draft["created_at"])
    assert unrelated.status_code == 403 and unrelated.json()["error"] == "forbidden"
    assert reviewer.status_code == 200 and reviewer.json()["content_hash"] == draft["content_hash"]
    assert missing.status_code == 404


async def test_reads_of_a_draft_its_versions_and_its_images_are_audited_by_the_reader(
    api: DraftsApi,
) -> None:
    draft = await api.create()
    path = f"/api/v1/drafts/{draft['id']}"
    reviewer = api.as_user("legal", user_id="reviewer-1")

    one = await api.http.get(path, headers=reviewer)
    versions = await api.http.get(f"{path}/versions", headers=reviewer)
    refused = await api.http.get(path, headers=api.as_user("author", user_id=OTHER_AUTHOR))

    assert (one.status_code, versions.status_code, refused.status_code) == (200, 200, 403)
    reads = [e for e in api.audit.events if e["action"] in ("draft.read", "version.read")]
    assert [(e["action"], e["actor"], e["actor_roles"], e["subject"]) for e in reads] == [
        ("draft.read", "reviewer-1", ["legal"], f"draft:{draft['id']}"),
        ("version.read", "reviewer-1", ["legal"], f"draft:{draft['id']}"),
    ]
    assert reads[0]["details"] == {"version": 1, "content_hash": draft["content_hash"]}
    assert reads[1]["details"] == {"versions": [1]}
    assert all(draft["body"] not in str(e) for e in reads)  # who read what, never the text itself


async def test_a_reader_is_recorded_once_an_hour_however_often_they_look(
    api: DraftsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A screen that polls a draft's status records its reader once per hour, not once per poll;
    another reader, or the next hour, is another event."""
    draft = await api.create()
    path = f"/api/v1/drafts/{draft['id']}"
    reviewer = api.as_user("legal", user_id="reviewer-1")
    clock = [datetime(2026, 12, 2, 9, 5, tzinfo=UTC)]
    monkeypatch.setattr("services.drafts.service.utcnow", lambda: clock[0])

    for _ in range(5):
        assert (await api.http.get(path, headers=reviewer)).status_code == 200
    await api.http.get(path, headers=api.as_user("compliance", user_id="reviewer-2"))
    clock[0] += timedelta(hours=1)
    await api.http.get(path, headers=reviewer)

    reads = [e for e in api.audit.events if e["action"] == "draft.read"]
    assert [e["actor"] for e in reads] == ["reviewer-1", "reviewer-2", "reviewer-1"]
    assert len({e["idempotency_key"] for e in reads}) == 3


async def test_authors_list_their_own_drafts_and_reviewers_all(api: DraftsApi) -> None:
    mine = await api.create()
    theirs = await api.create(user_id=OTHER_AUTHOR, title="Their post")

    async def listed(headers: dict[str, str]) -> set[str]:
        response = await api.http.get("/api/v1/drafts", headers=headers)
        assert response.status_code == 200
        return {d["id"] for d in response.json()["drafts"]}

    assert await listed(api.as_user("author")) == {mine["id"]}
    assert await listed(api.as_user("author", user_id=OTHER_AUTHOR)) == {theirs["id"]}
    assert await listed(api.as_user("compliance", user_id="reviewer-1")) == {mine["id"], theirs["id"]}


async def test_the_list_says_when_each_draft_is_to_be_published(api: DraftsApi) -> None:
    when = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    later = await api.create(scheduled_at=when.isoformat())
    now = await api.create(title="At once")

    listed = (await api.http.get("/api/v1/drafts", headers=api.as_user("author"))).json()["drafts"]

    times = {d["id"]: d["scheduled_at"] for d in listed}
    assert datetime.fromisoformat(times[later["id"]]) == when and times[now["id"]] is None


async def test_withdrawing_a_never_submitted_draft_ends_it_here(api: DraftsApi) -> None:
    draft = await api.create()

    response = await api.http.post(
        f"/api/v1/drafts/{draft['id']}/withdraw", json={"reason": "duplicate"}, headers=api.as_user("author")
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "withdrawn"
    assert api.audit.events[-1] == {
        "actor": AUTHOR,
        "action": "draft.withdrawn",
        "subject": f"draft:{draft['id']}",
        "details": {"version": 1, "reason": "duplicate"},
        "actor_name": f"Name of {AUTHOR}",
        "actor_roles": ["author"],
    }
    stored = await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.as_user("author"))
    assert stored.json()["status"] == "withdrawn"
    again = await api.http.post(f"/api/v1/drafts/{draft['id']}/withdraw", headers=api.as_user("author"))
    assert again.status_code == 409 and again.json()["error"] == "final"


async def test_submitting_without_the_workflow_engine_changes_nothing(api: DraftsApi) -> None:
    draft = await api.create()

    response = await api.http.post(f"/api/v1/drafts/{draft['id']}/submit", headers=api.as_user("author"))

    assert response.status_code == 503
    assert response.json()["error"] == "upstream_unavailable"
    # The status was set to `screening` and flushed before the engine was asked; it rolled back.
    current = await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.as_user("author"))
    assert current.json()["status"] == "draft"
    assert instant(current.json()["updated_at"]) == instant(draft["updated_at"])
    assert api.audit.actions() == ["draft.created", "draft.read"]


async def test_the_versions_route_is_for_services_only(api: DraftsApi) -> None:
    draft = await api.create()
    path = f"/internal/v1/drafts/{draft['id']}/versions/1"

    anonymous = await api.http.get(path)
    with_user_token = await api.http.get(path, headers=api.as_user("admin"))
    wrong = await api.http.get(path, headers={INTERNAL_HEADER: "not-the-token"})
    service = await api.http.get(path, headers={INTERNAL_HEADER: INTERNAL_TOKEN})
    no_such_version = await api.http.get(
        f"/internal/v1/drafts/{draft['id']}/versions/2", headers={INTERNAL_HEADER: INTERNAL_TOKEN}
    )
    beyond_int32 = await api.http.get(  # was a 500 on PostgreSQL (integer out of range)
        f"/internal/v1/drafts/{draft['id']}/versions/{2**31}", headers={INTERNAL_HEADER: INTERNAL_TOKEN}
    )
    assert beyond_int32.status_code == 422 and beyond_int32.json()["error"] == "invalid"

    assert [r.status_code for r in (anonymous, with_user_token, wrong)] == [401, 401, 401]
    assert anonymous.json()["error"] == "unauthorized"
    assert service.status_code == 200, service.text
    content = service.json()
    assert (content["draft_id"], content["version"], content["author_id"]) == (draft["id"], 1, AUTHOR)
    assert (content["title"], content["body"], content["channels"]) == (
        DRAFT["title"],
        DRAFT["body"],
        DRAFT["channels"],
    )
    recomputed = content_hash(
        title=content["title"],
        body=content["body"],
        channels=content["channels"],
        media_digests=content["media_digests"],
    )
    assert content["content_hash"] == draft["content_hash"] == recomputed
    assert no_such_version.status_code == 404


async def test_timestamps_keep_their_utc_offset_when_read_back(
    api: DraftsApi, request: pytest.FixtureRequest
) -> None:
    draft = await api.create()

    stored = await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.as_user("author"))

    assert stored.json()["created_at"] == draft["created_at"]
    assert datetime.fromisoformat(stored.json()["updated_at"]).utcoffset() == timedelta(0)


async def test_a_scheduled_draft_reaches_the_workflow_engine_on_submit(
    api: DraftsApi, request: pytest.FixtureRequest
) -> None:
    # SQLite once gave the stored scheduled_at back naive: comparing it with an aware "now" was a 500.
    draft = await api.create(scheduled_at=(datetime.now(UTC) + timedelta(days=30)).isoformat())

    response = await api.http.post(f"/api/v1/drafts/{draft['id']}/submit", headers=api.as_user("author"))

    assert response.status_code == 503  # it got as far as asking the (disabled) engine
    assert response.json()["error"] == "upstream_unavailable"


async def test_scheduling_for_a_channel_that_cannot_take_the_post_is_refused_with_why(api: DraftsApi) -> None:
    api.channels.problems["sandbox"] = "expired (the token ran out)"
    when = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    body = {"title": "Flu clinic", "body": "Walk-ins welcome.", "channels": ["sandbox"], "scheduled_at": when}

    refused = await api.http.post("/api/v1/drafts", json=body, headers=api.as_user("author"))

    assert refused.status_code == 409 and refused.json()["error"] == "channel_unusable"
    assert "sandbox: expired" in refused.json()["detail"]
    unscheduled = await api.http.post(
        "/api/v1/drafts", json={**body, "scheduled_at": None}, headers=api.as_user("author")
    )
    assert unscheduled.status_code == 201  # a draft may be written; approval is refused until it is fixed


@dataclass
class RecordingTemporal:
    """Takes the workflow start a submit makes (no engine in this suite)."""

    started: list[Any] = field(default_factory=list)

    async def start_workflow(self, workflow: str, arg: Any, **options: Any) -> None:
        self.started.append(arg)


async def test_a_submitted_draft_starts_its_workflow_with_the_configured_publish_deadline(
    api: DraftsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = RecordingTemporal()
    monkeypatch.setattr(api.app.state, "temporal", engine)
    monkeypatch.setattr(api.app.state.settings, "publish_deadline_seconds", 3600)
    draft = await api.create()

    response = await api.http.post(f"/api/v1/drafts/{draft['id']}/submit", headers=api.as_user("author"))

    assert response.status_code == 200, response.text
    [started] = engine.started
    assert (started.draft_id, started.publish_deadline_seconds) == (draft["id"], 3600)


async def test_the_readers_route_gives_the_drafts_read_rule_to_services(api: DraftsApi) -> None:
    draft = await api.create()
    path = f"/internal/v1/drafts/{draft['id']}/readers"

    with_user_token = await api.http.get(path, headers=api.as_user("admin"))
    service = await api.http.get(path, headers={INTERNAL_HEADER: INTERNAL_TOKEN})
    unknown = await api.http.get(
        "/internal/v1/drafts/no-such/readers", headers={INTERNAL_HEADER: INTERNAL_TOKEN}
    )

    assert with_user_token.status_code == 401
    assert service.status_code == 200, service.text
    assert service.json() == {
        "draft_id": draft["id"],
        "author_id": AUTHOR,
        "reader_roles": ["legal", "compliance", "medical", "publisher", "auditor", "admin"],
    }
    assert unknown.status_code == 404


async def test_a_text_that_does_not_fit_a_channel_is_an_error_for_the_author(api: DraftsApi) -> None:
    api.channels.too_long = {"sandbox"}
    body = {"title": "Flu clinic", "body": "Walk-ins welcome.", "channels": ["sandbox"]}

    refused = await api.http.post("/api/v1/drafts", json=body, headers=api.as_user("author"))

    assert refused.status_code == 422 and refused.json()["error"] == "rendition_does_not_fit"
    assert "sandbox: 999 characters of 280 allowed" in refused.json()["detail"]
    assert "nothing is cut" in refused.json()["detail"]


async def test_a_network_that_needs_an_image_is_checked_at_submit(api: DraftsApi) -> None:
    api.channels.image_required = {"sandbox"}
    draft = await api.create()  # writing it without the image yet is fine

    refused = await api.http.post(f"/api/v1/drafts/{draft['id']}/submit", headers=api.as_user("author"))

    assert refused.status_code == 422 and "needs at least one image" in refused.json()["detail"]


class Callers:
    """The internal callers this drafts service knows, by token (the publisher among them)."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self._tokens = tokens

    def identify(self, token: str) -> str | None:
        return self._tokens.get(token)


async def published_draft(api: DraftsApi, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from sqlalchemy import update

    from services.drafts.models import Draft

    draft = await api.create()
    async with api.app.state.sessionmaker() as session, session.begin():
        await session.execute(update(Draft).where(Draft.id == draft["id"]).values(status="published"))
    monkeypatch.setattr(
        api.app.state, "internal_callers", Callers({"publisher-token": "publisher", INTERNAL_TOKEN: "drafts"})
    )
    return draft


async def test_the_publisher_reports_a_takedown_and_the_draft_shows_it(
    api: DraftsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft = await published_draft(api, monkeypatch)
    path = f"/internal/v1/drafts/{draft['id']}/live-state"
    body = {"status": "taken_down", "reason": "Wrong dosage", "cause": "takedown"}

    refused = await api.http.post(path, json=body, headers={INTERNAL_HEADER: INTERNAL_TOKEN})
    done = await api.http.post(path, json=body, headers={INTERNAL_HEADER: "publisher-token"})

    assert refused.status_code == 403  # only the publisher says what became of a live post
    assert done.status_code == 200, done.text
    assert done.json()["status_before"] == "published"
    shown = await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.as_user("author"))
    assert shown.json()["status"] == "taken_down"
    assert "draft.taken_down" in api.audit.actions()
    withdrawn = await api.http.post(
        f"/api/v1/drafts/{draft['id']}/withdraw", json={"reason": "x"}, headers=api.as_user("author")
    )
    assert withdrawn.status_code == 409  # final


async def test_an_expired_post_goes_back_to_review_as_a_new_version(
    api: DraftsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = RecordingTemporal()
    monkeypatch.setattr(api.app.state, "temporal", engine)
    draft = await published_draft(api, monkeypatch)
    body = {"status": "re_review", "reason": "the approved lifetime ended", "cause": "expired"}

    answer = await api.http.post(
        f"/internal/v1/drafts/{draft['id']}/live-state",
        json=body,
        headers={INTERNAL_HEADER: "publisher-token"},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == 2
    shown = (await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.as_user("author"))).json()
    assert shown["status"] == "screening" and shown["version"] == 2
    assert shown["content_hash"] == draft["content_hash"]  # the same content, approved afresh
    [started] = engine.started
    assert started.draft_id == draft["id"]
    actions = api.audit.actions()
    assert actions.index("draft.taken_down") < actions.index("draft.sent_to_re_review")


# --- crisis templates (docs/crisis-lane.md) -------------------------------------------------------

TEMPLATE = {
    "title": "Boil-water notice",
    "body": "Boil water at {place} from {time}.",
    "purpose": "crisis_template",
}


async def test_a_template_is_checked_and_filled_only_for_the_review_service(
    api: DraftsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = await api.http.post(
        "/api/v1/drafts",
        json={**DRAFT, **TEMPLATE, "body": "Go to {venue}.", "scheduled_at": "2099-01-01T00:00:00Z"},
        headers=api.as_user("author"),
    )
    assert bad.status_code == 422 and "{venue}" in bad.text and "scheduled" in bad.text
    template = await api.create(**TEMPLATE)
    assert template["purpose"] == "crisis_template"
    monkeypatch.setattr(
        api.app.state, "internal_callers", Callers({"review-token": "review", INTERNAL_TOKEN: "drafts"})
    )
    use_id = "0b5a4f2e-8c1d-4b7a-9a3e-1f2d3c4b5a69"
    body = {
        "draft_id": use_id,
        "template_id": template["id"],
        "template_version": 1,
        "values": {"place": "North Clinic", "time": "07:15"},
        "author_id": "cris",
        "author_name": "Cris",
    }
    path = "/internal/v1/drafts/from-template"
    refused = await api.http.post(path, json=body, headers={INTERNAL_HEADER: INTERNAL_TOKEN})
    missing = await api.http.post(
        path, json={**body, "values": {"place": "North Clinic"}}, headers={INTERNAL_HEADER: "review-token"}
    )
    filled = await api.http.post(path, json=body, headers={INTERNAL_HEADER: "review-token"})
    again = await api.http.post(path, json=body, headers={INTERNAL_HEADER: "review-token"})

    assert refused.status_code == 403  # only the review service fills a template
    assert missing.status_code == 422 and missing.json()["error"] == "invalid_values"
    assert filled.status_code == 201, filled.text
    content = filled.json()
    assert content["body"] == "Boil water at North Clinic from 07:15."
    assert (content["purpose"], content["template_id"], content["author_id"]) == (
        "crisis_from_template",
        template["id"],
        "cris",
    )
    assert again.json()["content_hash"] == content["content_hash"]  # a retry makes nothing twice
    assert api.audit.actions().count("draft.created") == 2
    not_a_template = await api.create()
    other = await api.http.post(
        path,
        json={
            **body,
            "draft_id": use_id.replace("0b", "1b"),
            "template_id": not_a_template["id"],
            "values": {},
        },
        headers={INTERNAL_HEADER: "review-token"},
    )
    assert other.status_code == 409 and other.json()["error"] == "not_a_template"

"""Notifications, the pure parts: the event schema, webhook signatures (and the recipe the docs give
receivers), channel choices, digest periods, retry backoff, and the input the API refuses."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.review.models import ReviewNotice
from services.review.notifications.deliverer import backoff
from services.review.notifications.events import EVENT_KINDS, KIND_OF_NOTICE, NotificationEvent, event_of
from services.review.notifications.mailer import event_lines
from services.review.notifications.preferences import channels_for, digest_due
from services.review.notifications.schemas import Preferences, WebhookIn
from services.review.notifications.signing import signature, signed_headers, verify

T0 = datetime(2026, 12, 2, 9, 20, tzinfo=UTC)
TITLE = "Mrs. Quenby's recovery"


def _notice(kind: str = "reminder", stage: str = "compliance") -> ReviewNotice:
    return ReviewNotice(
        id="n-1", key=f"d-1:1:{stage}:{kind}:2", draft_id="d-1", version=1, content_hash="a" * 64,
        stage=stage, kind=kind, n=2, recipients=["role:compliance"], reason="a reason stays here",
        due_at=T0, created_at=T0,
    )  # fmt: skip


def test_every_outbox_kind_is_an_event_of_the_schema() -> None:
    assert sorted(KIND_OF_NOTICE.values()) == sorted(EVENT_KINDS)
    for kind, event_kind in KIND_OF_NOTICE.items():
        assert event_of(_notice(kind), "https://clear.example/").kind == event_kind


def test_an_event_carries_ids_times_and_a_link_and_nothing_else() -> None:
    event = event_of(_notice(), "https://clear.example/")
    document = event.model_dump(mode="json")
    assert document == {
        "schema_version": 1,
        "id": "n-1",
        "kind": "review.reminder",
        "draft_id": "d-1",
        "version": 1,
        "stage": "compliance",
        "n": 2,
        "due_at": "2026-12-02T09:20:00Z",
        "created_at": "2026-12-02T09:20:00Z",
        "link": "https://clear.example/review/drafts/d-1",
    }
    assert NotificationEvent.model_validate(document) == event
    with pytest.raises(ValidationError):
        NotificationEvent.model_validate({**document, "title": TITLE})
    with pytest.raises(ValidationError):
        NotificationEvent.model_validate({**document, "kind": "draft.deleted"})
    assert event_of(_notice("expired", stage=""), "https://x").stage is None


def test_a_case_clock_event_names_the_case_and_its_clock_and_links_to_the_case_page() -> None:
    notice = ReviewNotice(
        id="n-2", key="ae_case:case-1:clock:handoff:escalation", draft_id="d-1", version=0, content_hash="",
        stage="handoff", kind="case_escalation", n=1, recipients=["role:pharmacovigilance"],
        reason="case-1", due_at=T0, created_at=T0,
    )  # fmt: skip
    event = event_of(notice, "https://clear.example/")
    document = event.model_dump(mode="json")
    assert document == {
        "schema_version": 1,
        "id": "n-2",
        "kind": "ae_case.escalated",
        "draft_id": "d-1",
        "version": 0,
        "stage": None,
        "n": 1,
        "due_at": "2026-12-02T09:20:00Z",
        "created_at": "2026-12-02T09:20:00Z",
        "link": "https://clear.example/review/ae-cases/case-1",
        "case_id": "case-1",
        "clock": "handoff",
    }
    assert NotificationEvent.model_validate(document) == event
    lines = event_lines(event)
    assert "Adverse-event case: case-1" in lines and "Clock: handoff" in lines
    assert not any("Draft" in line for line in lines)


def test_an_unknown_outbox_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        event_of(_notice("gossip"), "https://x")


def test_signatures_are_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"id":"n-1"}'
    headers = {
        k.lower(): v for k, v in signed_headers("s3", 1_800_000_000, body, kind="k", event_id="n-1").items()
    }
    assert headers["x-clearpost-signature"] == signature("s3", 1_800_000_000, body)
    assert headers["x-clearpost-signature"].startswith("sha256=") and headers["idempotency-key"] == "n-1"
    assert verify("s3", headers, body, now=1_800_000_100)
    assert not verify("s3", headers, body + b" ", now=1_800_000_100)  # the body was changed
    assert not verify("other", headers, body, now=1_800_000_100)  # another secret
    assert not verify("s3", headers, body, now=1_800_000_000 + 301)  # too old: a replay
    assert not verify("s3", {**headers, "x-clearpost-timestamp": "soon"}, body, now=1_800_000_000)


def test_the_verification_recipe_in_the_docs_accepts_our_signatures_and_nothing_else() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "review-policy.md").read_text()
    recipe = re.search(r"```python\n(.*?)```", doc[doc.index("### Webhooks for chat tools") :], re.S)
    assert recipe is not None
    scope: dict[str, object] = {}
    exec(recipe.group(1), scope)  # our own documentation, run as a receiver would copy it
    verify_doc = scope["verify"]
    assert callable(verify_doc)
    body = json.dumps(event_of(_notice(), "https://x").model_dump(mode="json")).encode()
    headers = signed_headers("whsec_x", int(time.time()), body, kind="review.reminder", event_id="n-1")
    assert verify_doc("whsec_x", headers, body)
    assert not verify_doc("whsec_x", headers, body.replace(b"n-1", b"n-2"))
    assert not verify_doc("whsec_y", headers, body)


def test_channels_default_to_both_and_follow_the_users_choice() -> None:
    assert channels_for({}, "review.reminder") == {"email", "inbox"}
    assert channels_for({"review.reminder": ["inbox"]}, "review.reminder") == {"inbox"}
    assert channels_for({"review.reminder": []}, "review.reminder") == set()
    assert channels_for({"review.reminder": []}, "review.requested") == {"email", "inbox"}


def test_a_digest_goes_out_at_the_end_of_its_hour_or_day() -> None:
    assert digest_due("off", T0) is None
    assert digest_due("hourly", T0) == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert digest_due("daily", T0) == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, 30).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(40, 30) == timedelta(hours=6)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://chat.example/hook", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https:///nohost", "names a host"),
        ("https://user:pw@chat.example/hook", "no user name or password"),
        ("https://chat.example:port/hook", "the HTTP client can use"),
        ("https://chat example/hook", "no spaces"),
    ],
)
def test_a_webhook_url_is_http_or_https_to_a_host(url: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        WebhookIn(url=url, kinds=["review.reminder"])


def test_an_email_address_cannot_smuggle_a_header() -> None:
    assert Preferences(email="casey@clinic.example").email == "casey@clinic.example"
    for bad in ("casey@clinic.example\nBcc: all@x.org", "Casey <casey@clinic.example>", "casey"):
        with pytest.raises(ValidationError):
            Preferences(email=bad)

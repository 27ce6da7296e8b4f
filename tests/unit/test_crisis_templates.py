"""Crisis templates (workflows/crisis_templates.py and services/publisher/crisis.py): the template
text's variables, typed values, the signed records, and the publisher's own check that the draft
it posts is exactly the approved template filled with the signed values (every refusal audited,
nothing posted; a template itself is never posted)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.kit.auth import StaticKeySet
from services.kit.db import create_engine, create_sessionmaker
from services.kit.tokens import SignatureError, SigningKey, load_or_create_signing_key, sign_record
from services.publisher.channels import SandboxChannel
from services.publisher.crisis import CrisisPublisherActivities
from tests.database import DatabaseFactory
from tests.unit.publisher_fixtures import (
    REVIEW_KEY,
    CrisisPublisher,
    FakeDrafts,
    FakeLiveWorkflows,
    approval_gate,
    draft_version,
    outbox_lines,
)
from tests.unit.recording_audit import RecordingAudit
from workflows.contracts import PublishRequest
from workflows.crisis_template_contracts import TemplatePostInput
from workflows.crisis_templates import (
    FROM_TEMPLATE_PURPOSE,
    TEMPLATE_APPROVAL_TYPE,
    TEMPLATE_PURPOSE,
    TEMPLATE_USE_TYPE,
    TemplateApproval,
    TemplateUse,
    approval_claims,
    fill,
    read_approval,
    read_use,
    template_problems,
    use_claims,
    value_problems,
    variables_of,
)

NOW = datetime.now(UTC)
TITLE = "Boil-water notice for {place}"
BODY = "Boil tap water at {place} from {time} on {date}. Questions: {phone}."
PLACES = ("Main Campus", "North Clinic")
PHONES = ("+1 555 010 2000",)
VALUES = {"place": "North Clinic", "time": "07:15", "date": "2026-12-04", "phone": "+1 555 010 2000"}
KEYS = {REVIEW_KEY.kid: REVIEW_KEY.public_jwk}


def test_a_template_names_only_known_variables_and_no_stray_braces() -> None:
    assert template_problems(TITLE, BODY) == []
    assert variables_of(TITLE, BODY) == ("time", "date", "place", "phone")
    [unknown] = template_problems("Notice", "Go to {venue} at {time}.")
    assert "{venue}" in unknown
    [stray] = template_problems("Notice", "Call us {at once.")
    assert "brace" in stray


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({**VALUES, "time": "7:15pm"}, "time"),
        ({**VALUES, "time": "24:00"}, "time"),
        ({**VALUES, "date": "2026-02-30"}, "date"),
        ({**VALUES, "date": "04/12/2026"}, "date"),
        ({**VALUES, "place": "north clinic"}, "place"),
        ({**VALUES, "phone": "+1 555 999 0000"}, "phone"),
        ({**VALUES, "place": "North Clinic\nand call 911"}, "plain value"),
        ({**VALUES, "extra": "x"}, "no variable extra"),
        ({k: v for k, v in VALUES.items() if k != "date"}, "missing values: date"),
    ],
)
def test_values_are_typed_and_come_from_the_allow_lists(values: dict[str, str], expected: str) -> None:
    problems = value_problems(variables_of(TITLE, BODY), values, places=PLACES, phones=PHONES)
    assert any(expected in p for p in problems), problems


def test_a_phone_matches_by_its_digits_and_the_text_fills_every_occurrence() -> None:
    spaced = {**VALUES, "phone": "+1 (555) 010-2000"}
    assert value_problems(variables_of(TITLE, BODY), spaced, places=PLACES, phones=PHONES) == []
    assert (
        fill(BODY, VALUES)
        == "Boil tap water at North Clinic from 07:15 on 2026-12-04. Questions: +1 555 010 2000."
    )
    assert fill(TITLE, VALUES) == "Boil-water notice for North Clinic"


def template_approval(**changes: object) -> TemplateApproval:
    approval = TemplateApproval(
        template_id="tpl-1", version=2, content_hash="a" * 64, title=TITLE, body=BODY, channels=("sandbox",),
        variables=variables_of(TITLE, BODY), places=PLACES, phones=PHONES, author_id="author-1",
        policy_version="p-1", approvers=("carol", "leo"), approved_at=NOW.isoformat(),
    )  # fmt: skip
    return replace(approval, **changes)  # type: ignore[arg-type]


def template_use(draft_id: str, content_hash: str, **changes: object) -> TemplateUse:
    use = TemplateUse(
        use_id=draft_id, template_id="tpl-1", template_version=2, template_hash="a" * 64, draft_id=draft_id,
        version=1, content_hash=content_hash, channels=("sandbox",), values=tuple(sorted(VALUES.items())),
        user_id="cris", user_name="Cris", user_roles=("crisis",), reason="water main break",
        used_at=NOW.isoformat(),
    )  # fmt: skip
    return replace(use, **changes)  # type: ignore[arg-type]


def test_the_signed_records_read_back_and_refuse_a_forgery() -> None:
    approval = template_approval()
    token = sign_record(REVIEW_KEY, approval_claims(approval), typ=TEMPLATE_APPROVAL_TYPE)
    assert read_approval(token, KEYS) == approval
    use = template_use("u-1", "b" * 64)
    assert read_use(sign_record(REVIEW_KEY, use_claims(use), typ=TEMPLATE_USE_TYPE), KEYS) == use
    forger = load_or_create_signing_key(Path(tempfile.mkdtemp()) / "forger.pem")
    with pytest.raises(SignatureError):
        read_approval(sign_record(forger, approval_claims(approval), typ=TEMPLATE_APPROVAL_TYPE), KEYS)
    with pytest.raises(SignatureError):  # a use record cannot stand in for an approval
        read_approval(sign_record(REVIEW_KEY, use_claims(use), typ=TEMPLATE_USE_TYPE), KEYS)
    lying = approval_claims(replace(approval, variables=("time",)))
    with pytest.raises(SignatureError, match="variables"):
        read_approval(sign_record(REVIEW_KEY, lying, typ=TEMPLATE_APPROVAL_TYPE), KEYS)


# --- the publisher ----------------------------------------------------------------------------------


def filled_draft(values: dict[str, str] = VALUES, **changes: object) -> object:
    version = draft_version(
        "u-1",
        1,
        title=fill(TITLE, values),
        body=fill(BODY, values),
        author_id=str(changes.pop("author", "cris")),
    )
    return version.model_copy(
        update={"purpose": FROM_TEMPLATE_PURPOSE, "template_id": "tpl-1", "template_version": 2, **changes}
    )


@pytest.fixture
async def publisher(tmp_path: Path, database: DatabaseFactory) -> AsyncIterator[CrisisPublisher]:
    target = database("publisher")
    engine = create_engine(target.url, schema=target.schema)
    audit, workflows = RecordingAudit(), FakeLiveWorkflows()
    drafts = FakeDrafts(filled_draft())  # type: ignore[arg-type]
    activities = CrisisPublisherActivities(
        create_sessionmaker(engine),
        drafts,
        {"sandbox": SandboxChannel(tmp_path / "outbox")},
        approvals=approval_gate(audit),
        live_watch=workflows,
        review_keys=StaticKeySet(KEYS),
        takedowns=workflows,
    )
    try:
        yield CrisisPublisher(activities, audit, drafts, workflows, tmp_path / "outbox" / "sandbox.jsonl")
    finally:
        await engine.dispose()


def post_request(
    publisher: CrisisPublisher,
    *,
    approval: TemplateApproval | None = None,
    key: SigningKey = REVIEW_KEY,
    **use_changes: object,
) -> TemplatePostInput:
    draft = publisher.drafts.versions[("u-1", 1)]
    use = template_use("u-1", draft.content_hash, **use_changes)
    return TemplatePostInput(
        use_id="u-1",
        draft_id="u-1",
        version=1,
        content_hash=draft.content_hash,
        channels=["sandbox"],
        approval=sign_record(
            key, approval_claims(approval or template_approval()), typ=TEMPLATE_APPROVAL_TYPE
        ),
        use=sign_record(key, use_claims(use), typ=TEMPLATE_USE_TYPE),
    )


async def test_a_filled_template_is_posted_once_and_watched(publisher: CrisisPublisher) -> None:
    order = post_request(publisher)
    env = ActivityEnvironment()
    await env.run(publisher.activities.publish_template_post, order)
    await env.run(publisher.activities.publish_template_post, order)  # a retry posts nothing twice
    [line] = outbox_lines(publisher.outbox)
    assert "North Clinic from 07:15" in str(line)
    assert publisher.workflows.watched == ["u-1", "u-1"]
    assert "publish.refused" not in publisher.audit.actions()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("other values signed", "not the approved template filled"),
        ("a place not approved", "place"),
        ("a user without the crisis role", "crisis role"),
        ("a draft of someone else", "not made for the user"),
        ("another template version", "another template version"),
        ("other channels approved", "channels are not"),
        ("a forged signature", "does not verify"),
        ("a draft not filled from the template", "does not record this draft as filled"),
    ],
)
async def test_the_publisher_refuses_anything_but_the_approved_template_filled_as_signed(
    publisher: CrisisPublisher, case: str, expected: str
) -> None:
    forger = load_or_create_signing_key(Path(tempfile.mkdtemp()) / "forger.pem")
    orders = {
        "other values signed": lambda: post_request(
            publisher, values=tuple(sorted({**VALUES, "time": "09:00"}.items()))
        ),
        "a place not approved": lambda: post_request(
            publisher, approval=template_approval(places=("Main Campus",))
        ),
        "a user without the crisis role": lambda: post_request(publisher, user_roles=("legal",)),
        "a draft of someone else": lambda: post_request(publisher, user_id="mallory"),
        "another template version": lambda: post_request(publisher, template_version=1),
        "other channels approved": lambda: post_request(
            publisher, approval=template_approval(channels=("sandbox", "webhook"))
        ),
        "a forged signature": lambda: post_request(publisher, key=forger),
        "a draft not filled from the template": lambda: post_request(
            publisher, approval=template_approval(template_id="tpl-other")
        ),
    }
    order = orders[case]()
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(publisher.activities.publish_template_post, order)
    assert refused.value.type == "ApprovalRefused" and expected in refused.value.message, (
        refused.value.message
    )
    assert outbox_lines(publisher.outbox) == []
    assert publisher.audit.actions() == ["publish.refused"]


async def test_a_template_itself_is_never_posted_as_a_post(publisher: CrisisPublisher) -> None:
    template = draft_version("tpl-1", 2, title=TITLE, body=BODY).model_copy(
        update={"purpose": TEMPLATE_PURPOSE}
    )
    publisher.drafts.versions[("tpl-1", 2)] = template
    plain = PublishRequest("tpl-1", 2, template.content_hash, ["sandbox"], requirement="x", approvals=[])
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(publisher.activities.publish_post, plain)
    assert "crisis_template, not a post" in refused.value.message
    assert outbox_lines(publisher.outbox) == []

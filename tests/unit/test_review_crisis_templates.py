"""The review service's crisis templates (services/review/crisis_templates.py): a template approval
is signed only for a template draft whose signed review holds, once however often retried; a use
is refused for bad values, a struck phone, a wrong password or a non-crisis user with nothing
signed, kept or started; a good one is signed, kept, started and audited. Both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.kit.canonical import content_hash
from services.kit.db import create_engine, create_sessionmaker, session_scope
from services.kit.errors import ClearpostError
from services.kit.tokens import Principal
from services.review.config import DEFAULT_POLICY_FILE
from services.review.crisis_template_models import CrisisTemplateUse
from services.review.crisis_template_schemas import TemplateUseIn
from services.review.crisis_templates import CrisisTemplateActivities, CrisisTemplateService
from services.review.policy import LoadedPolicy, load_policy_file, parse_policy
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit
from tests.unit.review_fixtures import SIGNER, FakeVersions
from workflows.contracts import StageRequirement
from workflows.crisis_template_contracts import TemplateApprovalInput, TemplatePostInput, TemplatePostStep
from workflows.crisis_templates import fill, read_approval, read_use

POLICY = load_policy_file(DEFAULT_POLICY_FILE)
NOW = datetime.now(UTC)
TITLE, BODY = "Boil-water notice", "Boil tap water at {place} from {time}. Questions: {phone}."
VALUES = {"place": "North Clinic", "time": "07:15", "phone": "+1 555 010 2000"}
STAGES = [StageRequirement("compliance", ["compliance"])]


def person(user_id: str, *roles: str) -> Principal:
    return Principal(
        user_id=user_id, username=f"{user_id}@demo", name=user_id.title(), roles=frozenset(roles)
    )


CRIS, CAROL = person("cris", "crisis"), person("carol", "compliance")


def template_version(purpose: str = "crisis_template") -> dict[str, Any]:
    channels = ["sandbox"]
    return {
        "draft_id": "tpl-1", "version": 1, "title": TITLE, "body": BODY, "channels": channels,
        "media_digests": [], "author_id": "avery", "patient_content": False, "purpose": purpose,
        "content_hash": content_hash(title=TITLE, body=BODY, channels=channels, media_digests=[]),
    }  # fmt: skip


def approval_input(
    content: dict[str, Any], *, author: str = "avery", decider: Principal = CAROL
) -> TemplateApprovalInput:
    common = {"draft_id": content["draft_id"], "version": 1, "content_hash": content["content_hash"]}
    requirement = SIGNER.requirement(
        **common, author_id=author, policy_version=POLICY.version, stages=STAGES,
        blocking_unresolved=0, signed_at=NOW, categories=[],
    )  # fmt: skip
    decision = SIGNER.decision(
        **common, stage="compliance", decision="approve", reason="", signer=decider, signed_at=NOW
    )
    return TemplateApprovalInput(requirement=requirement, approvals=[decision], **common)


class Passwords:
    async def confirms(self, username: str, password: str) -> bool:
        return password == "right"


@dataclass
class FakeFiller:
    """The drafts service's from-template route: fills the template it holds."""

    filled: list[dict[str, Any]] = field(default_factory=list)

    async def fill_template(self, request: dict[str, Any]) -> dict[str, Any]:
        self.filled.append(request)
        title, body = fill(TITLE, request["values"]), fill(BODY, request["values"])
        return {
            "draft_id": request["draft_id"], "version": 1, "title": title, "body": body,
            "channels": ["sandbox"], "media_digests": [],
            "content_hash": content_hash(title=title, body=body, channels=["sandbox"], media_digests=[]),
        }  # fmt: skip


@dataclass
class FakeWorkflows:
    started: list[TemplatePostInput] = field(default_factory=list)
    connected: bool = True

    async def start_template_post(self, request: TemplatePostInput) -> None:
        self.started.append(request)


@dataclass
class Templates:
    sessionmaker: Any
    audit: RecordingAudit
    activities: CrisisTemplateActivities
    filler: FakeFiller
    workflows: FakeWorkflows

    def service(self, session: Any, policy: LoadedPolicy = POLICY) -> CrisisTemplateService:
        return CrisisTemplateService(
            session, policy=policy, audit=self.audit, credentials=Passwords(), signer=SIGNER,
            drafts=self.filler, screener=None, workflows=self.workflows,  # type: ignore[arg-type]
        )  # fmt: skip


@pytest.fixture
async def templates(database: DatabaseFactory) -> AsyncIterator[Templates]:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    sessionmaker = create_sessionmaker(engine)
    audit = RecordingAudit()
    activities = CrisisTemplateActivities(
        sessionmaker, POLICY, audit, FakeVersions(template_version()), SIGNER
    )
    try:
        yield Templates(sessionmaker, audit, activities, FakeFiller(), FakeWorkflows())
    finally:
        await engine.dispose()


async def approved(templates: Templates) -> str:
    env = ActivityEnvironment()
    request = approval_input(template_version())
    first = await env.run(templates.activities.record_template_approval, request)
    again = await env.run(templates.activities.record_template_approval, request)  # a retry
    assert (first.template_id, first.version) == (again.template_id, again.version) == ("tpl-1", 1)
    async with session_scope(templates.sessionmaker) as session:
        [row] = await templates.service(session).list()
    return row.id


async def test_an_approved_template_is_signed_once_with_the_policy_lists(templates: Templates) -> None:
    row_id = await approved(templates)
    async with session_scope(templates.sessionmaker) as session:
        template = await templates.service(session).get(row_id)
    assert template.variables == ["time", "place", "phone"] and template.body == BODY
    assert template.places == POLICY.policy.crisis.templates.places and template.approvers == ["carol"]
    assert templates.audit.actions() == ["template.approved"]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("a post, not a template", "not a crisis template"),
        ("another author in the requirement", "another author"),
        ("the author approving", "author of a draft may not sign"),
    ],
)
async def test_a_template_approval_is_refused_unless_its_review_holds(
    templates: Templates, case: str, expected: str
) -> None:
    if case == "a post, not a template":
        templates.activities._versions = FakeVersions(template_version("post"))
        request = approval_input(template_version("post"))
    elif case == "another author in the requirement":
        request = approval_input(template_version(), author="mallory")
    else:
        request = approval_input(template_version(), decider=person("avery", "compliance"))
    with pytest.raises(ApplicationError, match=expected):
        await ActivityEnvironment().run(templates.activities.record_template_approval, request)
    async with session_scope(templates.sessionmaker) as session:
        assert await templates.service(session).list() == []
    assert "template.approved" not in templates.audit.actions()


async def test_a_use_is_signed_kept_started_and_audited(templates: Templates) -> None:
    row_id = await approved(templates)
    async with session_scope(templates.sessionmaker) as session:
        use = await templates.service(session).use(
            row_id, TemplateUseIn(values=VALUES, reason="water main break", password="right"), CRIS
        )
    assert use.body == "Boil tap water at North Clinic from 07:15. Questions: +1 555 010 2000."
    [started] = templates.workflows.started
    signed = read_use(started.use, SIGNER.public_keys)
    assert signed.value_map == VALUES and signed.user_id == "cris" and signed.draft_id == use.draft_id
    assert read_approval(started.approval, SIGNER.public_keys).template_id == "tpl-1"
    assert templates.filler.filled[0]["author_id"] == "cris"
    assert templates.audit.actions()[-1] == "template.used"
    await ActivityEnvironment().run(
        templates.activities.record_template_post_step, TemplatePostStep(use.id, "published")
    )
    async with session_scope(templates.sessionmaker) as session:
        [kept] = (await templates.service(session).get(row_id)).uses
    assert kept.status == "published" and kept.finished_at is not None
    assert templates.audit.actions()[-1] == "template.published"


@pytest.mark.parametrize(
    ("who", "values", "password", "expected"),
    [
        (CAROL, VALUES, "right", 403),
        (CRIS, {**VALUES, "place": "Elsewhere"}, "right", 422),
        (CRIS, {**VALUES, "time": "7pm"}, "right", 422),
        (CRIS, {"place": "North Clinic", "time": "07:15"}, "right", 422),
        (CRIS, VALUES, "wrong", 403),
    ],
)
async def test_a_use_is_refused_with_nothing_signed_or_started(
    templates: Templates, who: Principal, values: dict[str, str], password: str, expected: int
) -> None:
    row_id = await approved(templates)
    with pytest.raises(ClearpostError) as refused:
        async with session_scope(templates.sessionmaker) as session:
            await templates.service(session).use(
                row_id, TemplateUseIn(values=values, reason="water main break", password=password), who
            )
    assert refused.value.status_code == expected
    assert templates.workflows.started == [] and templates.filler.filled == []
    async with session_scope(templates.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(CrisisTemplateUse)) == 0


async def test_a_phone_struck_from_the_policy_is_refused_at_once(templates: Templates) -> None:
    row_id = await approved(templates)
    raw = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    raw["crisis"]["templates"]["phones"] = ["+1 555 010 2911"]
    document = parse_policy(raw)
    with pytest.raises(ClearpostError, match="phone") as refused:
        async with session_scope(templates.sessionmaker) as session:
            await templates.service(session, document).use(
                row_id, TemplateUseIn(values=VALUES, reason="water main break", password="right"), CRIS
            )
    assert refused.value.status_code == 422 and templates.workflows.started == []

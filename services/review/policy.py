"""The approval policy: which stages a version needs, who decides them, and the product catalog."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from services.kit.canonical import canonical_sha256
from services.review.business_hours import BusinessHours
from workflows.contracts import ReviewSchedule, StageRequirement, StageTiming

ROLES = frozenset(
    {
        "author",
        "legal",
        "compliance",
        "medical",
        "publisher",
        "auditor",
        "admin",
        "crisis",
        "pharmacovigilance",
    }
)
REVIEW_ROLES = frozenset({"legal", "compliance", "medical"})


class PolicyError(ValueError):
    """The policy file is not valid; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: Any) -> timedelta:
    """`90m`, `24h`, `30d`, `2w`: wall-clock time, or working time on a stage with `clock: business`."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"a duration is a positive number and a unit m, h, d or w (24h, 30d); got {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Quorum(_Strict):
    """Who must approve a stage: `k` distinct deciders (or `all`) of the named people in `of`, or,
    without `of`, `k` distinct holders of the stage's roles."""

    k: int | Literal["all"] = Field(default=1)
    of: list[str] | None = None  # user ids or usernames

    @model_validator(mode="after")
    def _reachable(self) -> Quorum:
        if isinstance(self.k, int) and self.k < 1:
            raise ValueError("quorum k must be at least 1")
        if self.of is not None:
            if not self.of or any(not name.strip() for name in self.of):
                raise ValueError("quorum `of` must name at least one person, none blank")
            if len(set(self.of)) != len(self.of):
                raise ValueError("quorum `of` names someone twice")
            if isinstance(self.k, int) and self.k > len(self.of):
                raise ValueError(f"quorum k={self.k} of {len(self.of)} named people can never be reached")
        elif self.k == "all":
            raise ValueError("quorum k `all` needs the named people in `of`")
        return self

    @property
    def needed(self) -> int:
        return len(self.of or []) if self.k == "all" else int(self.k)


class Escalation(_Strict):
    """Who hears about a stage whose SLA passed: holders of these roles, and/or these people."""

    roles: list[str] = []
    users: list[str] = []  # user ids or usernames

    @model_validator(mode="after")
    def _someone(self) -> Escalation:
        if not self.roles and not self.users:
            raise ValueError("escalate_to names no roles and no users")
        unknown = set(self.roles) - ROLES
        if unknown:
            raise ValueError(f"escalate_to names unknown roles: {', '.join(sorted(unknown))}")
        return self


class StagePolicy(_Strict):
    roles: list[str] = Field(min_length=1)
    parallel: bool = True
    # How long the stage may wait for its decision once the review round opens (none: no limit).
    sla: Duration | None = None
    # Reminders to the stage's deciders, this long after the round opened (each once).
    reminders: list[Duration] = []
    # Who is told once the SLA has passed with the stage still undecided.
    escalate_to: Escalation | None = None
    # `any` (one holder of the roles, the default) or a quorum.
    quorum: Literal["any"] | Quorum = "any"
    # `business`: the sla and the reminders count the policy's business_hours only.
    clock: Literal["wall", "business"] = "wall"

    @model_validator(mode="after")
    def _known_roles(self) -> StagePolicy:
        unknown = set(self.roles) - REVIEW_ROLES
        if unknown:
            raise ValueError(
                f"stage roles must be review roles ({', '.join(sorted(REVIEW_ROLES))}); got {unknown}"
            )
        if list(self.reminders) != sorted(set(self.reminders)):
            raise ValueError("reminders must be distinct and in increasing order")
        if self.sla is not None and any(r >= self.sla for r in self.reminders):
            raise ValueError("every reminder must come before the sla (escalation follows the sla)")
        if self.escalate_to is not None and self.sla is None:
            raise ValueError("escalate_to needs an sla: escalation happens when the sla has passed")
        return self

    @property
    def needed(self) -> int:
        return 1 if self.quorum == "any" else self.quorum.needed

    @property
    def deciders(self) -> list[str]:
        return [] if self.quorum == "any" else list(self.quorum.of or [])


class Condition(_Strict):
    product_mentioned: bool | None = None
    patient_content: bool | None = None
    categories_any: list[str] | None = None
    # Catalog product names (any of them mentioned) and channel account names (any targeted).
    products_any: list[str] | None = None
    channels_any: list[str] | None = None


class Lifetime(_Strict):
    """How long approved content matching `when` may stay live, and what happens then: `pull`
    takes it down; `re_review` takes it down and sends the draft back to review."""

    when: Condition | None = None
    days: int = Field(ge=1, le=3650)
    on_expiry: Literal["pull", "re_review"] = "pull"
    why: str = ""


class Rule(_Strict):
    when: Condition | None = None
    require: list[str] = Field(min_length=1)
    why: str = ""


class Product(_Strict):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    generic: str | None = None
    kind: str = Field(min_length=1)
    aliases: list[str] = []
    safety_statement: str | None = None

    @property
    def names(self) -> list[str]:
        return [n for n in (self.name, self.generic, *self.aliases) if n]


class AllowList(_Strict):
    """The organization's own public details and people: never patient data."""

    phones: list[str] = []
    emails: list[str] = []
    domains: list[str] = []  # e-mail and web domains the organization owns
    handles: list[str] = []  # its social media handles, with or without "@"
    addresses: list[str] = []  # its street addresses (matched on the street part)
    staff: list[str] = []  # staff names, as written in posts ("Dr. Priya Natarajan")
    organizations: list[str] = []  # names of the organization, its sites and programs


Severity = Literal["block", "warn"]
SCREENING_CATEGORIES = ("phi", "consent_missing", "fda_fair_balance", "fda_unapproved_claim", "adverse_event")


class ScreeningPolicy(_Strict):
    """How the screener weighs what it finds."""

    # A blocking finding stops approval until a compliance reviewer overrides it or the text changes.
    severities: dict[str, Severity] = {
        "phi": "block",
        "consent_missing": "block",
        "fda_fair_balance": "warn",
        "fda_unapproved_claim": "warn",
        "adverse_event": "warn",
    }
    # Catalog kinds that need fair balance (risk information) when promoted.
    fair_balance_kinds: list[str] = ["rx_drug", "device", "biologic", "drug_device"]

    @model_validator(mode="after")
    def _known_categories(self) -> ScreeningPolicy:
        unknown = set(self.severities) - set(SCREENING_CATEGORIES)
        if unknown:
            raise ValueError(f"unknown screening categories: {', '.join(sorted(unknown))}")
        return self

    def severity(self, category: str) -> str:
        return self.severities.get(category, "warn")


class TemplatePolicy(_Strict):
    """What a pre-approved crisis template's `{place}` and `{phone}` may be filled with. Signed into
    each template's approval when its review approves it; a phone struck from this list later is
    refused at once, a place or phone added later needs the template approved again."""

    places: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        default_factory=list, max_length=200
    )
    phones: list[Annotated[str, Field(min_length=3, max_length=40)]] = Field(
        default_factory=list, max_length=50
    )

    @field_validator("places", "phones")
    @classmethod
    def _plain(cls, values: list[str]) -> list[str]:
        for value in values:
            if any(c in value for c in "{}\n\r"):
                raise ValueError(f"{value!r}: a template value cannot hold braces or line breaks")
        return list(dict.fromkeys(v.strip() for v in values))


class CrisisPolicy(_Strict):
    """The crisis lane (docs/crisis-lane.md): how long an emergency post waits for its co-signers,
    how many distinct crisis holders other than the starter must sign, how long the full
    review that opens once it is published may take before the post is taken down, and what
    pre-approved templates may be filled with."""

    window: Duration = timedelta(minutes=30)
    approvers: int = Field(default=2, ge=2, le=10)
    after_review_within: Duration = timedelta(hours=24)
    templates: TemplatePolicy = Field(default_factory=TemplatePolicy)

    @model_validator(mode="after")
    def _short_window(self) -> CrisisPolicy:
        if self.window > timedelta(hours=24):
            raise ValueError("crisis window may be at most 24h: it is an emergency lane")
        return self


class PharmacovigilancePolicy(_Strict):
    """An adverse-event case's clocks, from the moment its comment was read (docs/comments.md):
    hand-off to the safety team (`handoff`, calendar time) and the regulatory deadline; a reminder
    this long before each, and an escalation when one passes unmet."""

    handoff: Duration = timedelta(hours=24)
    handoff_reminder_before: Duration = timedelta(hours=4)
    regulatory_deadline: Duration = timedelta(days=15)
    regulatory_reminder_before: Duration = timedelta(days=3)

    @model_validator(mode="after")
    def _reminders_come_first(self) -> PharmacovigilancePolicy:
        if self.handoff_reminder_before >= self.handoff:
            raise ValueError("pharmacovigilance: the hand-off reminder must come after day 0")
        if self.regulatory_reminder_before >= self.regulatory_deadline:
            raise ValueError("pharmacovigilance: the regulatory reminder must come after day 0")
        if self.handoff > self.regulatory_deadline:
            raise ValueError("pharmacovigilance: the hand-off must come before the regulatory deadline")
        return self


class Policy(_Strict):
    name: str
    stages: dict[str, StagePolicy] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)
    catalog: list[Product] = []
    allow_list: AllowList = AllowList()
    screening: ScreeningPolicy = ScreeningPolicy()
    lifetimes: list[Lifetime] = []
    # A review round not approved this long after it opened goes back to the author, and, when
    # this is set, so does one still in review when the version's scheduled time comes.
    approval_expiry: Duration | None = None
    # When the organization works (services/review/business_hours.py), for `clock: business`.
    business_hours: BusinessHours | None = None
    crisis: CrisisPolicy = CrisisPolicy()
    # Adverse events reported in comments: the case's clocks (default 24 h hand-off, 15 days).
    pharmacovigilance: PharmacovigilancePolicy = PharmacovigilancePolicy()

    @model_validator(mode="after")
    def _rules_name_stages(self) -> Policy:
        counting = [name for name, stage in self.stages.items() if stage.clock == "business"]
        if counting and self.business_hours is None:
            raise ValueError(
                f"stage(s) {', '.join(counting)} count business time: the policy needs business_hours"
            )
        for index, rule in enumerate(self.rules):
            unknown = [s for s in rule.require if s not in self.stages]
            if unknown:
                raise ValueError(f"rule {index + 1} requires undefined stage(s): {', '.join(unknown)}")
        if all(rule.when is not None for rule in self.rules):
            # Otherwise some version could need no stage, and be published with no approval at all.
            raise ValueError("at least one rule must apply to every version (a rule without `when`)")
        return self


class LoadedPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    document: dict[str, Any]
    policy: Policy

    def lifetime(
        self, *, products: list[str], patient_content: bool, categories: list[str], channels: list[str]
    ) -> tuple[int, str] | None:
        """The shortest lifetime of every matching `lifetimes` entry (days, on_expiry); None if none.
        On a tie, `pull` wins over `re_review`."""
        matching = [
            (entry.days, 0 if entry.on_expiry == "pull" else 1, entry.on_expiry)
            for entry in self.policy.lifetimes
            if _matches(entry.when, bool(products), patient_content, categories, products, channels)
        ]
        if not matching:
            return None
        days, _, on_expiry = min(matching)
        return days, on_expiry

    def required_stages(
        self,
        *,
        product_mentioned: bool,
        patient_content: bool,
        categories: list[str],
        products: list[str] | None = None,
        channels: list[str] | None = None,
    ) -> list[StageRequirement]:
        wanted: set[str] = set()
        for rule in self.policy.rules:
            if _matches(
                rule.when, product_mentioned, patient_content, categories, products or [], channels or []
            ):
                wanted.update(rule.require)
        stages = [
            StageRequirement(
                name=name,
                roles=list(stage.roles),
                parallel=stage.parallel,
                quorum=stage.needed,
                deciders=stage.deciders,
            )
            for name, stage in self.policy.stages.items()
            if name in wanted
        ]
        if not stages:  # the policy's validator makes this unreachable; never sign an empty plan
            raise PolicyError("the policy requires no stage for this version")
        return stages

    def after(self, stage: str, opened_at: datetime, duration: timedelta) -> int:
        """Wall-clock seconds from `opened_at` until `duration` has passed on the stage's clock."""
        calendar = self.policy.business_hours
        if self.policy.stages[stage].clock == "business" and calendar is not None:
            return calendar.offset_seconds(opened_at, duration)
        return int(duration.total_seconds())

    def due_at(self, stage: str, opened_at: datetime) -> datetime | None:
        """When the stage's SLA passes for a round opened at `opened_at` (None without an SLA)."""
        sla = self.policy.stages[stage].sla
        return opened_at + timedelta(seconds=self.after(stage, opened_at, sla)) if sla else None

    def schedule(self, stages: list[StageRequirement], opened_at: datetime) -> ReviewSchedule:
        """The timers of a review round of these stages opening at `opened_at`: reminders, SLA and
        expiry, in seconds after it opened (working time counted where a stage says so)."""
        timings = []
        for requirement in stages:
            name = requirement.name
            stage = self.policy.stages[name]
            timings.append(
                StageTiming(
                    stage=name,
                    sla_seconds=self.after(name, opened_at, stage.sla) if stage.sla else 0,
                    reminder_seconds=[self.after(name, opened_at, r) for r in stage.reminders],
                    escalates=stage.escalate_to is not None,
                )
            )
        expiry = self.policy.approval_expiry
        return ReviewSchedule(
            stages=timings, approval_expiry_seconds=int(expiry.total_seconds()) if expiry else 0
        )


def _matches(
    when: Condition | None,
    product: bool,
    patient: bool,
    categories: list[str],
    products: list[str] = [],  # noqa: B006 - read only
    channels: list[str] = [],  # noqa: B006 - read only
) -> bool:
    if when is None:
        return True
    if when.product_mentioned is not None and when.product_mentioned != product:
        return False
    if when.patient_content is not None and when.patient_content != patient:
        return False
    if when.products_any is not None:
        wanted = {name.casefold() for name in when.products_any}
        if not wanted & {name.casefold() for name in products}:
            return False
    if when.channels_any is not None and not set(when.channels_any) & set(channels):
        return False
    return not (when.categories_any is not None and not set(when.categories_any) & set(categories))


def parse_policy(document: Any, *, source: str = "policy") -> LoadedPolicy:
    if not isinstance(document, dict):
        raise PolicyError(f"{source}: the policy must be a mapping at the top level")
    try:
        policy = Policy.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"{source}: {problems}") from exc
    return LoadedPolicy(version=canonical_sha256(document)[:16], document=document, policy=policy)


def load_policy_file(path: Path) -> LoadedPolicy:
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    return parse_policy(document, source=str(path))

"""Pre-approved crisis templates (docs/crisis-lane.md): the variables a template may hold, how its
text is filled, and the two signed records the review service and the publisher match a filled
post against.

A template is a draft whose purpose is `crisis_template`: fixed text with typed variables
(`{time}`, `{date}`, `{place}`, `{phone}`). It passes the full normal review once; the review
service then signs a **template approval** (its exact text, channels, and the places and phones it
may be filled with, from the policy at that moment). Publishing from it takes one crisis holder:
the review service fills the text with typed values, the drafts service stores the filled text as
a new draft, and the review service signs a **template use** naming the values and that draft. The
publisher posts only after checking that the draft it reads from the drafts service is exactly the
approved text filled with those values. Pure and clock-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.kit.tokens import SignatureError, verify_record

TEMPLATE_PURPOSE = "crisis_template"
# A draft the drafts service made from a template's filled text.
FROM_TEMPLATE_PURPOSE = "crisis_from_template"
POST_PURPOSE = "post"
PURPOSES = (POST_PURPOSE, TEMPLATE_PURPOSE, FROM_TEMPLATE_PURPOSE)

TEMPLATE_APPROVAL_TYPE = "clearpost-crisis-template+jws"
TEMPLATE_USE_TYPE = "clearpost-crisis-template-use+jws"
CRISIS_ROLE = "crisis"
VARIABLES = ("time", "date", "place", "phone")
MAX_VALUE_CHARS = 120

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_PHONE_CHARS = re.compile(r"\+?[0-9][0-9 ().-]{2,30}")


class TemplateError(ValueError):
    """The template text or the values do not fit; the message says why (safe to show)."""


def placeholders(text: str) -> list[str]:
    """The variables `text` names, in first-seen order (unknown names included)."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(text)))


def template_problems(title: str, body: str) -> list[str]:
    """Why this text cannot be a template (empty when it can)."""
    names = placeholders(title) + placeholders(body)
    unknown = sorted({n for n in names if n not in VARIABLES})
    problems = []
    if unknown:
        problems.append(
            "unknown template variables: "
            + ", ".join("{" + n + "}" for n in unknown)
            + f"; a template may use {', '.join('{' + v + '}' for v in VARIABLES)}"
        )
    stray = _PLACEHOLDER.sub("", title + "\n" + body)
    if "{" in stray or "}" in stray:
        problems.append("a brace that is not part of a {variable}: write variables as {time}, {date}, ...")
    return problems


def variables_of(title: str, body: str) -> tuple[str, ...]:
    """The variables a template needs filled, in the canonical order of VARIABLES."""
    named = set(placeholders(title) + placeholders(body))
    return tuple(v for v in VARIABLES if v in named)


def normalized_phone(value: str) -> str:
    """A phone number compared by its digits (and a leading +): "(555) 010-2000" == "555.010.2000"."""
    value = value.strip()
    return ("+" if value.startswith("+") else "") + re.sub(r"\D", "", value)


def value_problems(
    needed: tuple[str, ...], values: dict[str, str], *, places: tuple[str, ...], phones: tuple[str, ...]
) -> list[str]:
    """Why `values` cannot fill a template needing `needed` (empty when they can). Every value is
    typed: a 24-hour time HH:MM, an ISO date, a place and a phone number from the allow-lists."""
    problems = []
    missing = [v for v in needed if not values.get(v, "").strip()]
    if missing:
        problems.append("missing values: " + ", ".join(missing))
    extra = sorted(set(values) - set(needed))
    if extra:
        problems.append("the template has no variable " + ", ".join(extra))
    for name in needed:
        value = values.get(name, "").strip()
        if not value:
            continue
        if len(value) > MAX_VALUE_CHARS or any(c in value for c in "{}\n\r"):
            problems.append(f"{name}: not a plain value of at most {MAX_VALUE_CHARS} characters")
            continue
        if name == "time" and not _TIME.fullmatch(value):
            problems.append(f"time: {value!r} is not a 24-hour time HH:MM")
        elif name == "date":
            try:
                date.fromisoformat(value)
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    raise ValueError(value)
            except ValueError:
                problems.append(f"date: {value!r} is not a date YYYY-MM-DD")
        elif name == "place" and value not in places:
            problems.append(f"place: {value!r} is not one of the template's approved places")
        elif name == "phone":
            allowed = {normalized_phone(p) for p in phones}
            if not _PHONE_CHARS.fullmatch(value) or normalized_phone(value) not in allowed:
                problems.append(f"phone: {value!r} is not on the approved phone list")
    return problems


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with each {variable} replaced by its value (stripped); an unknown one stays as is."""
    return _PLACEHOLDER.sub(
        lambda m: values[m.group(1)].strip() if m.group(1) in values else m.group(0), text
    )


# --- the signed records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateApproval:
    """Signed by the review service once the template's full review approved this exact version."""

    template_id: str  # the template draft's id
    version: int
    content_hash: str
    title: str
    body: str
    channels: tuple[str, ...]
    variables: tuple[str, ...]
    places: tuple[str, ...]
    phones: tuple[str, ...]
    author_id: str
    policy_version: str
    approvers: tuple[str, ...]  # who signed the approvals the review counted
    approved_at: str


@dataclass(frozen=True)
class TemplateUse:
    """Signed by the review service when one crisis holder published from a template."""

    use_id: str
    template_id: str
    template_version: int
    template_hash: str
    draft_id: str  # the draft holding the filled text
    version: int
    content_hash: str
    channels: tuple[str, ...]
    values: tuple[tuple[str, str], ...]
    user_id: str
    user_name: str
    user_roles: tuple[str, ...]
    reason: str
    used_at: str

    @property
    def value_map(self) -> dict[str, str]:
        return dict(self.values)


def approval_claims(approval: TemplateApproval) -> dict[str, Any]:
    return {
        "type": "crisis-template-approval",
        "template_id": approval.template_id,
        "version": approval.version,
        "content_hash": approval.content_hash,
        "title": approval.title,
        "body": approval.body,
        "channels": list(approval.channels),
        "variables": list(approval.variables),
        "places": list(approval.places),
        "phones": list(approval.phones),
        "author_id": approval.author_id,
        "policy_version": approval.policy_version,
        "approvers": list(approval.approvers),
        "signed_at": approval.approved_at,
    }


def use_claims(use: TemplateUse) -> dict[str, Any]:
    return {
        "type": "crisis-template-use",
        "use_id": use.use_id,
        "template_id": use.template_id,
        "template_version": use.template_version,
        "template_hash": use.template_hash,
        "draft_id": use.draft_id,
        "version": use.version,
        "content_hash": use.content_hash,
        "channels": list(use.channels),
        "values": dict(use.values),
        "user_id": use.user_id,
        "user_name": use.user_name,
        "user_roles": list(use.user_roles),
        "reason": use.reason,
        "signed_at": use.used_at,
    }


def _field(claims: dict[str, Any], name: str, kind: type) -> Any:
    value = claims.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise SignatureError(f"signed template record lacks a valid {name!r}")
    return value


def _strings(claims: dict[str, Any], name: str) -> tuple[str, ...]:
    values = _field(claims, name, list)
    if not all(isinstance(v, str) for v in values):
        raise SignatureError(f"signed template record lacks valid {name}")
    return tuple(values)


def _time(value: str) -> None:
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SignatureError("signed template record's time is not a timestamp") from exc
    if when.tzinfo is None:
        raise SignatureError("signed template record's time has no offset")


def read_approval(token: str, keys: dict[str, dict[str, Any]]) -> TemplateApproval:
    claims = verify_record(token, keys, typ=TEMPLATE_APPROVAL_TYPE)
    if claims.get("type") != "crisis-template-approval":
        raise SignatureError("not a crisis template approval")
    approval = TemplateApproval(
        template_id=_field(claims, "template_id", str),
        version=_field(claims, "version", int),
        content_hash=_field(claims, "content_hash", str),
        title=_field(claims, "title", str),
        body=_field(claims, "body", str),
        channels=_strings(claims, "channels"),
        variables=_strings(claims, "variables"),
        places=_strings(claims, "places"),
        phones=_strings(claims, "phones"),
        author_id=_field(claims, "author_id", str),
        policy_version=_field(claims, "policy_version", str),
        approvers=_strings(claims, "approvers"),
        approved_at=_field(claims, "signed_at", str),
    )
    _time(approval.approved_at)
    if not approval.channels:
        raise SignatureError("signed template approval names no channel")
    if approval.variables != variables_of(approval.title, approval.body):
        raise SignatureError("signed template approval's variables are not its text's")
    return approval


def read_use(token: str, keys: dict[str, dict[str, Any]]) -> TemplateUse:
    claims = verify_record(token, keys, typ=TEMPLATE_USE_TYPE)
    if claims.get("type") != "crisis-template-use":
        raise SignatureError("not a crisis template use")
    values = _field(claims, "values", dict)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise SignatureError("signed template use lacks valid values")
    use = TemplateUse(
        use_id=_field(claims, "use_id", str),
        template_id=_field(claims, "template_id", str),
        template_version=_field(claims, "template_version", int),
        template_hash=_field(claims, "template_hash", str),
        draft_id=_field(claims, "draft_id", str),
        version=_field(claims, "version", int),
        content_hash=_field(claims, "content_hash", str),
        channels=_strings(claims, "channels"),
        values=tuple(sorted(values.items())),
        user_id=_field(claims, "user_id", str),
        user_name=_field(claims, "user_name", str),
        user_roles=_strings(claims, "user_roles"),
        reason=_field(claims, "reason", str),
        used_at=_field(claims, "signed_at", str),
    )
    _time(use.used_at)
    return use


def use_problems(
    approval: TemplateApproval,
    use: TemplateUse,
    *,
    title: str,
    body: str,
    channels: list[str],
    author_id: str,
    phones_now: tuple[str, ...] | None = None,
) -> list[str]:
    """Why the draft (`title`, `body`, `channels`, as its owner holds it, written by `author_id`)
    may not go out as this use of this approved template (empty when it may). `phones_now`, when
    given, is the policy's phone list now: a number struck from it since the approval is refused."""
    problems = []
    if (use.template_id, use.template_version, use.template_hash) != (
        approval.template_id,
        approval.version,
        approval.content_hash,
    ):
        problems.append("the use names another template version than the approval")
    if CRISIS_ROLE not in use.user_roles:
        problems.append("the user did not hold the crisis role when publishing from the template")
    if not use.reason.strip():
        problems.append("the use names no reason")
    if use.user_id != author_id:
        problems.append("the filled draft was not made for the user who signed the use")
    phones = approval.phones
    if phones_now is not None:
        allowed_now = {normalized_phone(p) for p in phones_now}
        phones = tuple(p for p in phones if normalized_phone(p) in allowed_now)
    values = use.value_map
    problems += value_problems(approval.variables, values, places=approval.places, phones=phones)
    if (fill(approval.title, values), fill(approval.body, values)) != (title, body):
        problems.append("the draft's text is not the approved template filled with the signed values")
    if sorted(channels) != sorted(approval.channels) or sorted(use.channels) != sorted(approval.channels):
        problems.append("the channels are not the approved template's")
    return problems

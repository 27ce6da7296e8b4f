"""The consent gate: does a valid written consent cover everything patient-related in a version?

Pure and deterministic: given the version, its media items, the consent records it relies on (with
their identities opened) and the moment of the check, the answer is always the same. The drafts
activity `check_consent` feeds it from the database; the workflow calls that activity after
screening and again immediately before publishing.

Reasons name consents by id and photos by digest, never a patient's name: they travel through
Temporal and show on the draft.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

NAME_USES = ("none", "first_name", "full_name")
ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"


@dataclass(frozen=True)
class ConsentFacts:
    """One consent record as the gate sees it (identity opened)."""

    id: str
    name_use: str
    first_name: str
    last_name: str
    story_use: bool
    channels: Sequence[str]
    media_digests: Sequence[str]
    expires_on: date
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class MediaFacts:
    digest: str
    faces: int
    staff_stock: bool = False
    staff_stock_confirmed: bool = False
    consent_id: str | None = None

    @property
    def shows_a_patient(self) -> bool:
        """A face counts as a patient unless the author says staff/stock and compliance agrees."""
        return self.faces > 0 and not (self.staff_stock and self.staff_stock_confirmed)


@dataclass(frozen=True)
class VersionFacts:
    text: str  # title + "\n" + body, as screened
    channels: Sequence[str]
    consent_ids: Sequence[str]
    patient_content: bool
    media: Sequence[MediaFacts] = ()


@dataclass
class GateOutcome:
    ok: bool
    required: bool
    reasons: list[str] = field(default_factory=list)
    consent_ids: list[str] = field(default_factory=list)


def consent_state(expires_on: date, revoked_at: datetime | None, at: datetime) -> str:
    """Revoked from the moment it is revoked; valid through its expiry date (UTC), expired after."""
    if revoked_at is not None:
        return REVOKED
    if at.date() > expires_on:
        return EXPIRED
    return ACTIVE


def relied_consent_ids(version: VersionFacts) -> list[str]:
    """The version's consents, then those its media items name, each once, in order."""
    ids = list(version.consent_ids) + [m.consent_id for m in version.media if m.consent_id]
    return list(dict.fromkeys(ids))


def _name_pattern(name: str) -> re.Pattern[str] | None:
    words = name.split()
    if not words:
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)


def _mentions(text: str, name: str) -> bool:
    pattern = _name_pattern(name)
    return bool(pattern and pattern.search(text))


def _name_problem(consent: ConsentFacts, text: str) -> str | None:
    uses_first = _mentions(text, consent.first_name)
    uses_last = bool(consent.last_name) and _mentions(text, consent.last_name)
    if consent.name_use == "full_name":
        return None
    if consent.name_use == "first_name" and uses_last:
        return (
            f"the text names the patient of consent {consent.id} by full name or surname; "
            "the consent allows the first name only"
        )
    if consent.name_use == "none" and (uses_first or uses_last):
        return f"the text names the patient of consent {consent.id}; the consent does not allow their name"
    return None


def check_consent(
    version: VersionFacts,
    consents: Mapping[str, ConsentFacts],
    *,
    at: datetime,
    screening_categories: Sequence[str] = (),
    patient_content: bool = False,
) -> GateOutcome:
    relied = relied_consent_ids(version)
    story = patient_content or version.patient_content or "consent_missing" in screening_categories
    photos = [m for m in version.media if m.shows_a_patient]
    # A draft that names a consent relies on it: revoking or letting it expire stops the post.
    required = story or bool(photos) or bool(relied)
    if not required:
        return GateOutcome(ok=True, required=False, consent_ids=relied)
    reasons: list[str] = []
    if not relied:
        what = "patient content" if story else "a photo that shows a face"
        reasons.append(f"{what} needs a written patient consent; the draft names none")
    valid: list[ConsentFacts] = []
    for consent_id in relied:
        consent = consents.get(consent_id)
        if consent is None:
            reasons.append(f"consent {consent_id} does not exist")
            continue
        state = consent_state(consent.expires_on, consent.revoked_at, at)
        if state == REVOKED:
            assert consent.revoked_at is not None
            reasons.append(f"consent {consent_id} was revoked on {consent.revoked_at.date().isoformat()}")
        elif state == EXPIRED:
            reasons.append(f"consent {consent_id} expired on {consent.expires_on.isoformat()}")
        else:
            valid.append(consent)
    if story and relied and valid and not any(c.story_use for c in valid):
        reasons.append("no valid consent allows the patient's story to be used")
    for consent in valid:
        for channel in version.channels:
            if channel not in consent.channels:
                reasons.append(f"consent {consent.id} does not cover channel {channel}")
        problem = _name_problem(consent, version.text)
        if problem:
            reasons.append(problem)
    for photo in photos if relied else ():
        covering = [c for c in valid if photo.digest in c.media_digests]
        if covering:
            continue
        label = f"photo {photo.digest[:12]}"
        if photo.consent_id and photo.consent_id in {c.id for c in valid}:
            reasons.append(f"{label} shows a face and consent {photo.consent_id} does not name it")
        elif not photo.consent_id or photo.consent_id in consents:
            reasons.append(f"{label} shows a face and no valid consent covers it")
    return GateOutcome(ok=not reasons, required=True, reasons=reasons, consent_ids=relied)

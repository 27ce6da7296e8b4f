"""The consent gate: does a valid written consent cover everything patient-related in a version?

Pure and deterministic: given the version, its media items, the consent records it relies on (with
their identities opened) and the moment of the check, the answer is always the same. The drafts
activity `check_consent` feeds it from the database; the workflow calls that activity after
screening and again immediately before publishing.

Reasons name consents by id and photos by digest, never a patient's name: they travel through
Temporal and show on the draft. Besides the sentences, the outcome says for every image that shows a
patient whether a valid consent covers it and, if not, why (`MediaCoverage`): the review service
turns each uncovered image into a `consent_missing` screening finding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

NAME_USES = ("none", "first_name", "full_name")
ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"

# Why an image that shows a patient is not covered (`MediaCoverage.why`).
MEDIA_NO_CONSENT = "no_consent"  # the draft names no consent at all
MEDIA_NOT_NAMED = "not_named"  # no valid consent the draft relies on lists the image
MEDIA_CHANNEL_NOT_COVERED = "channel_not_covered"  # a valid consent lists it, not every target channel
MEDIA_CONSENT_EXPIRED = "consent_expired"  # the consent that lists it (or is named for it) expired
MEDIA_CONSENT_REVOKED = "consent_revoked"  # ... or was revoked
MEDIA_CONSENT_NOT_FOUND = "consent_not_found"  # the consent named for the image does not exist
MEDIA_STAFF_STOCK_UNCONFIRMED = "staff_stock_unconfirmed"  # marked staff/stock, compliance has not agreed
MEDIA_WHY = (
    MEDIA_NO_CONSENT,
    MEDIA_NOT_NAMED,
    MEDIA_CHANNEL_NOT_COVERED,
    MEDIA_CONSENT_EXPIRED,
    MEDIA_CONSENT_REVOKED,
    MEDIA_CONSENT_NOT_FOUND,
    MEDIA_STAFF_STOCK_UNCONFIRMED,
)


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


class ConsentScopeFacts(Protocol):
    """What image coverage needs of a consent: no identity (a `ConsentFacts` or a stored record)."""

    @property
    def id(self) -> str: ...

    @property
    def channels(self) -> Sequence[str]: ...

    @property
    def media_digests(self) -> Sequence[str]: ...

    @property
    def expires_on(self) -> date: ...

    @property
    def revoked_at(self) -> datetime | None: ...


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


@dataclass(frozen=True)
class MediaCoverage:
    """One image that shows a patient: covered by a valid consent on every target channel, or why not."""

    digest: str
    covered: bool
    why: str = ""  # one of MEDIA_WHY; "" when covered
    consent_id: str | None = None  # the consent that covers it, or the one the problem is about
    detail: str = ""  # one sentence naming ids and the digest, never the patient; "" when covered


@dataclass
class GateOutcome:
    ok: bool
    required: bool
    reasons: list[str] = field(default_factory=list)
    consent_ids: list[str] = field(default_factory=list)
    media: list[MediaCoverage] = field(default_factory=list)


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
    media = media_coverage(version, consents, at=at)
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
    return GateOutcome(ok=not reasons, required=True, reasons=reasons, consent_ids=relied, media=media)


def media_coverage(
    version: VersionFacts, consents: Mapping[str, ConsentScopeFacts], *, at: datetime
) -> list[MediaCoverage]:
    """For every image that shows a patient: does a consent the version relies on, active at `at`,
    list its digest and cover every target channel? If not, the first applicable reason why."""
    relied = relied_consent_ids(version)
    known = {cid: consents[cid] for cid in relied if cid in consents}
    states = {cid: consent_state(c.expires_on, c.revoked_at, at) for cid, c in known.items()}
    return [
        _coverage(photo, version.channels, relied, known, states)
        for photo in version.media
        if photo.shows_a_patient
    ]


def _coverage(
    photo: MediaFacts,
    channels: Sequence[str],
    relied: Sequence[str],
    consents: Mapping[str, ConsentScopeFacts],
    states: Mapping[str, str],
) -> MediaCoverage:
    label = f"photo {photo.digest[:12]} shows a face"

    def uncovered(why: str, consent_id: str | None, detail: str) -> MediaCoverage:
        return MediaCoverage(photo.digest, covered=False, why=why, consent_id=consent_id, detail=detail)

    listing = [c for c in consents.values() if photo.digest in c.media_digests]
    valid = [c for c in listing if states[c.id] == ACTIVE]
    for consent in valid:
        if all(channel in consent.channels for channel in channels):
            return MediaCoverage(photo.digest, covered=True, consent_id=consent.id)
    if valid:
        consent = valid[0]
        missing = ", ".join(ch for ch in channels if ch not in consent.channels)
        return uncovered(
            MEDIA_CHANNEL_NOT_COVERED,
            consent.id,
            f"{label}; consent {consent.id} names it but does not cover channel {missing}",
        )
    if photo.staff_stock and not photo.staff_stock_confirmed:
        return uncovered(
            MEDIA_STAFF_STOCK_UNCONFIRMED,
            photo.consent_id,
            f"{label}; the author marked it staff/stock but compliance has not confirmed that, "
            "so it counts as a patient and no valid consent covers it",
        )
    named = [photo.consent_id] if photo.consent_id else []
    for consent_id in [*(c.id for c in listing), *named]:
        state = states.get(consent_id)
        if state == REVOKED:
            return uncovered(MEDIA_CONSENT_REVOKED, consent_id, f"{label}; consent {consent_id} was revoked")
        if state == EXPIRED:
            return uncovered(MEDIA_CONSENT_EXPIRED, consent_id, f"{label}; consent {consent_id} has expired")
    if photo.consent_id and photo.consent_id not in consents:
        return uncovered(
            MEDIA_CONSENT_NOT_FOUND,
            photo.consent_id,
            f"{label}; consent {photo.consent_id} named for it does not exist",
        )
    if photo.consent_id:
        return uncovered(
            MEDIA_NOT_NAMED, photo.consent_id, f"{label} and consent {photo.consent_id} does not name it"
        )
    if not relied:
        return uncovered(MEDIA_NO_CONSENT, None, f"{label} and the draft names no patient consent")
    return uncovered(MEDIA_NOT_NAMED, None, f"{label} and no valid consent the draft relies on names it")

"""The consent gate as a pure function: what a valid consent must cover, and the reasons it gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.drafts.consent_check import (
    ConsentFacts,
    MediaFacts,
    VersionFacts,
    check_consent,
    consent_state,
)

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PHOTO = "a1" * 32
STORY = "Maria's story\nAfter her knee surgery Maria walked the 5K with our rehab team."
CONSENT = ConsentFacts(
    id="c-1",
    name_use="first_name",
    first_name="Maria",
    last_name="Lopez",
    story_use=True,
    channels=("sandbox", "facebook"),
    media_digests=(PHOTO,),
    expires_on=date(2026, 12, 31),
)


def story(**changes: object) -> VersionFacts:
    version = VersionFacts(text=STORY, channels=("sandbox",), consent_ids=("c-1",), patient_content=True)
    return replace(version, **changes)  # type: ignore[arg-type]


def test_a_valid_consent_covering_story_name_channel_and_photo_passes() -> None:
    version = story(media=(MediaFacts(PHOTO, faces=1),))

    outcome = check_consent(version, {"c-1": CONSENT}, at=AT)

    assert (outcome.ok, outcome.required, outcome.reasons, outcome.consent_ids) == (True, True, [], ["c-1"])


def test_content_that_is_not_about_a_patient_needs_no_consent() -> None:
    version = VersionFacts(
        text="Flu shots\nWalk-ins 9-12.", channels=("sandbox",), consent_ids=(), patient_content=False
    )

    outcome = check_consent(version, {}, at=AT)

    assert (outcome.ok, outcome.required) == (True, False)


@pytest.mark.parametrize(
    ("flag", "categories"), [(True, ()), (False, ("consent_missing",))], ids=["author flag", "screening"]
)
def test_patient_content_without_any_consent_is_refused(flag: bool, categories: tuple[str, ...]) -> None:
    version = story(consent_ids=(), patient_content=False)

    outcome = check_consent(version, {}, at=AT, patient_content=flag, screening_categories=categories)

    assert (outcome.ok, outcome.required) == (False, True)
    assert outcome.reasons == ["patient content needs a written patient consent; the draft names none"]


def test_an_expired_consent_does_not_count() -> None:
    expired = replace(CONSENT, expires_on=date(2026, 5, 31))

    outcome = check_consent(story(), {"c-1": expired}, at=AT)

    assert not outcome.ok
    assert outcome.reasons == ["consent c-1 expired on 2026-05-31"]


def test_a_consent_is_valid_through_its_expiry_day() -> None:
    assert consent_state(date(2026, 6, 1), None, AT) == "active"
    assert consent_state(date(2026, 5, 31), None, AT) == "expired"
    assert consent_state(date(2027, 1, 1), AT, AT) == "revoked"


def test_a_revoked_consent_does_not_count() -> None:
    revoked = replace(CONSENT, revoked_at=datetime(2026, 5, 20, tzinfo=UTC))

    outcome = check_consent(story(), {"c-1": revoked}, at=AT)

    assert outcome.reasons == ["consent c-1 was revoked on 2026-05-20"]


def test_a_channel_the_consent_does_not_cover_is_refused() -> None:
    outcome = check_consent(story(channels=("sandbox", "instagram")), {"c-1": CONSENT}, at=AT)

    assert not outcome.ok
    assert outcome.reasons == ["consent c-1 does not cover channel instagram"]


def test_a_photo_with_a_face_the_consent_does_not_name_is_refused() -> None:
    other = "b2" * 32
    version = story(media=(MediaFacts(PHOTO, faces=1), MediaFacts(other, faces=2, consent_id="c-1")))

    outcome = check_consent(version, {"c-1": CONSENT}, at=AT)

    assert not outcome.ok
    assert outcome.reasons == [f"photo {other[:12]} shows a face and consent c-1 does not name it"]


def test_a_photo_with_a_face_alone_makes_consent_required() -> None:
    version = VersionFacts(
        text="Team day\nOur day at the park.", channels=("sandbox",), consent_ids=(), patient_content=False,
        media=(MediaFacts(PHOTO, faces=1),),
    )  # fmt: skip

    outcome = check_consent(version, {}, at=AT)

    assert (outcome.ok, outcome.required) == (False, True)
    assert outcome.reasons == [
        "a photo that shows a face needs a written patient consent; the draft names none"
    ]


def test_staff_or_stock_counts_only_once_compliance_confirms() -> None:
    team = "Team day\nOur day at the park."
    unconfirmed = VersionFacts(team, ("sandbox",), (), False, (MediaFacts(PHOTO, 1, staff_stock=True),))
    confirmed = replace(
        unconfirmed, media=(MediaFacts(PHOTO, 1, staff_stock=True, staff_stock_confirmed=True),)
    )

    assert check_consent(unconfirmed, {}, at=AT).required is True
    assert check_consent(confirmed, {}, at=AT).required is False


@pytest.mark.parametrize(
    "text",
    [
        "Maria's story\nMaria Lopez walked the 5K.",
        "Maria's story\nmaria   lopez walked the 5K.",
        "A story\nMrs. Lopez walked the 5K.",
    ],
)
def test_a_full_name_or_surname_where_only_the_first_name_is_allowed_is_refused(text: str) -> None:
    outcome = check_consent(story(text=text), {"c-1": CONSENT}, at=AT)

    assert not outcome.ok
    assert outcome.reasons == [
        "the text names the patient of consent c-1 by full name or surname; "
        "the consent allows the first name only"
    ]


def test_the_full_name_is_fine_when_the_consent_allows_it() -> None:
    full = replace(CONSENT, name_use="full_name")

    assert check_consent(story(text="Story\nMaria Lopez walked."), {"c-1": full}, at=AT).ok


def test_no_name_at_all_when_the_consent_allows_none() -> None:
    anonymous = replace(CONSENT, name_use="none")

    assert check_consent(story(text="Story\nA patient walked the 5K."), {"c-1": anonymous}, at=AT).ok
    refused = check_consent(story(), {"c-1": anonymous}, at=AT)
    assert refused.reasons == [
        "the text names the patient of consent c-1; the consent does not allow their name"
    ]


def test_a_story_needs_a_consent_that_allows_story_use() -> None:
    photo_only = replace(CONSENT, story_use=False)

    outcome = check_consent(story(), {"c-1": photo_only}, at=AT)

    assert outcome.reasons == ["no valid consent allows the patient's story to be used"]


def test_an_unknown_consent_and_the_media_items_own_consent_are_both_relied_on() -> None:
    version = story(consent_ids=("c-missing",), media=(MediaFacts(PHOTO, faces=1, consent_id="c-1"),))

    outcome = check_consent(version, {"c-1": CONSENT}, at=AT)

    assert outcome.consent_ids == ["c-missing", "c-1"]
    assert outcome.reasons == ["consent c-missing does not exist"]


def test_the_answer_depends_only_on_its_inputs() -> None:
    version = story(media=(MediaFacts(PHOTO, faces=1),))
    later = datetime(2027, 1, 1, tzinfo=UTC)

    assert check_consent(version, {"c-1": CONSENT}, at=AT) == check_consent(version, {"c-1": CONSENT}, at=AT)
    assert check_consent(version, {"c-1": CONSENT}, at=later).reasons == [
        "consent c-1 expired on 2026-12-31",
        f"photo {PHOTO[:12]} shows a face and no valid consent covers it",
    ]

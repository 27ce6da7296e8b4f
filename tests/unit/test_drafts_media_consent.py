"""Consent coverage per image: which images showing a patient a valid consent covers, and why not.

The gate's sentences (`reasons`) are unchanged; `media` adds one structured entry per image that
shows a patient, which the review service turns into `consent_missing` findings.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.drafts.consent_check import (
    MEDIA_CHANNEL_NOT_COVERED,
    MEDIA_CONSENT_EXPIRED,
    MEDIA_CONSENT_NOT_FOUND,
    MEDIA_CONSENT_REVOKED,
    MEDIA_NO_CONSENT,
    MEDIA_NOT_NAMED,
    MEDIA_STAFF_STOCK_UNCONFIRMED,
    MEDIA_WHY,
    ConsentFacts,
    MediaCoverage,
    MediaFacts,
    VersionFacts,
    check_consent,
    media_coverage,
)
from services.kit.auth import INTERNAL_HEADER
from tests.unit import test_drafts_consents
from tests.unit.consent_fixtures import INTERNAL_TOKEN, STORY, Api
from tests.unit.media_fixtures import FACE
from workflows.contracts import ConsentCheckInput, MediaConsent

api = test_drafts_consents.api  # the drafts API fixture: one fixture per resource

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PHOTO, OTHER = "a1" * 32, "b2" * 32
CONSENT = ConsentFacts(
    id="c-1",
    name_use="first_name",
    first_name="Maria",
    last_name="Lopez",
    story_use=True,
    channels=("sandbox", "webhook"),
    media_digests=(PHOTO,),
    expires_on=date(2026, 12, 31),
)


def version(
    *media: MediaFacts, consent_ids: tuple[str, ...] = ("c-1",), channels: tuple[str, ...] = ("sandbox",)
) -> VersionFacts:
    return VersionFacts(
        text="Team day\nOur day at the park.",
        channels=channels,
        consent_ids=consent_ids,
        patient_content=False,
        media=media,
    )


def only(version_facts: VersionFacts, consents: dict[str, ConsentFacts]) -> MediaCoverage:
    [coverage] = media_coverage(version_facts, consents, at=AT)
    return coverage


def test_an_image_a_valid_consent_lists_for_every_channel_is_covered() -> None:
    coverage = only(version(MediaFacts(PHOTO, faces=1), channels=("sandbox", "webhook")), {"c-1": CONSENT})

    assert coverage == MediaCoverage(PHOTO, covered=True, consent_id="c-1")


def test_only_images_that_show_a_patient_are_listed() -> None:
    media = (
        MediaFacts(PHOTO, faces=0),
        MediaFacts(OTHER, faces=2, staff_stock=True, staff_stock_confirmed=True),
    )

    assert media_coverage(version(*media), {"c-1": CONSENT}, at=AT) == []


EXPIRED, REVOKED = replace(CONSENT, expires_on=date(2026, 5, 1)), replace(CONSENT, revoked_at=AT)
WHY_CASES = [
    pytest.param(
        MediaFacts(OTHER, 1), (), {}, ("sandbox",), MEDIA_NO_CONSENT, None,
        "the draft names no patient consent", id="no consent",
    ),
    pytest.param(
        MediaFacts(OTHER, 1), ("c-1",), {"c-1": CONSENT}, ("sandbox",), MEDIA_NOT_NAMED, None,
        "no valid consent the draft relies on names it", id="not named",
    ),
    pytest.param(
        MediaFacts(OTHER, 1, consent_id="c-1"), (), {"c-1": CONSENT}, ("sandbox",), MEDIA_NOT_NAMED, "c-1",
        "consent c-1 does not name it", id="own consent does not name it",
    ),
    pytest.param(
        MediaFacts(PHOTO, 1), ("c-1",), {"c-1": CONSENT}, ("sandbox", "facebook"), MEDIA_CHANNEL_NOT_COVERED,
        "c-1", "does not cover channel facebook", id="channel",
    ),
    pytest.param(
        MediaFacts(PHOTO, 1), ("c-1",), {"c-1": EXPIRED}, ("sandbox",), MEDIA_CONSENT_EXPIRED, "c-1",
        "consent c-1 has expired", id="expired",
    ),
    pytest.param(
        MediaFacts(PHOTO, 1), ("c-1",), {"c-1": REVOKED}, ("sandbox",), MEDIA_CONSENT_REVOKED, "c-1",
        "consent c-1 was revoked", id="revoked",
    ),
    pytest.param(
        MediaFacts(OTHER, 1, consent_id="c-9"), (), {}, ("sandbox",), MEDIA_CONSENT_NOT_FOUND, "c-9",
        "consent c-9 named for it does not exist", id="no such consent",
    ),
    pytest.param(
        MediaFacts(OTHER, 1, staff_stock=True), ("c-1",), {"c-1": CONSENT}, ("sandbox",),
        MEDIA_STAFF_STOCK_UNCONFIRMED, None, "compliance has not confirmed", id="staff/stock",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("media", "consent_ids", "consents", "channels", "why", "consent_id", "detail"), WHY_CASES
)
def test_why_an_image_is_not_covered(
    media: MediaFacts,
    consent_ids: tuple[str, ...],
    consents: dict[str, ConsentFacts],
    channels: tuple[str, ...],
    why: str,
    consent_id: str | None,
    detail: str,
) -> None:
    facts = version(media, consent_ids=consent_ids, channels=channels)

    coverage = only(facts, consents)
    outcome = check_consent(facts, consents, at=AT)

    assert (coverage.digest, coverage.covered, coverage.why, coverage.consent_id) == (
        media.digest,
        False,
        why,
        consent_id,
    )
    assert detail in coverage.detail and coverage.detail.startswith(f"photo {media.digest[:12]} shows a face")
    assert "Maria" not in coverage.detail and "Lopez" not in coverage.detail
    assert not outcome.ok and outcome.media == [coverage]


def test_every_reason_is_exercised() -> None:
    assert {case.values[4] for case in WHY_CASES} == set(MEDIA_WHY)


CASES = list(
    itertools.product(
        (None, "c-1", "c-missing"),  # the image's own consent
        ((), ("c-1",)),  # the draft's consents
        (CONSENT, replace(CONSENT, media_digests=()), replace(CONSENT, revoked_at=AT)),
        (("sandbox",), ("sandbox", "facebook")),
        (False, True),  # marked staff/stock (never confirmed here)
    )
)


@pytest.mark.parametrize(("own", "consent_ids", "consent", "channels", "staff"), CASES)
def test_an_uncovered_image_always_stops_the_gate(
    own: str | None,
    consent_ids: tuple[str, ...],
    consent: ConsentFacts,
    channels: tuple[str, ...],
    staff: bool,
) -> None:
    facts = version(
        MediaFacts(PHOTO, 1, staff_stock=staff, consent_id=own), consent_ids=consent_ids, channels=channels
    )

    outcome = check_consent(facts, {"c-1": consent}, at=AT)

    [image] = outcome.media
    assert outcome.required
    # An uncovered image always stops the post (the gate may also stop it for other reasons).
    assert image.covered or not outcome.ok
    assert bool(image.why) != image.covered and bool(image.detail) != image.covered


# --- through the drafts service ----------------------------------------------------------------


async def test_the_gate_activity_and_the_version_answer_report_each_image(api: Api) -> None:
    draft = await api.draft()
    uploaded = (await api.upload(draft["id"], FACE.read_bytes())).json()
    digest = uploaded["media"][0]["digest"]
    story = await api.consent_id()  # covers the story, names no image
    photo = await api.consent_id(media_digests=[digest], channels=["sandbox"])
    revised = await api.http.put(
        f"/api/v1/drafts/{draft['id']}", json={**STORY, "consent_ids": [story]}, headers=api.headers("author")
    )
    version_no, hash_ = revised.json()["version"], revised.json()["content_hash"]
    internal = {INTERNAL_HEADER: INTERNAL_TOKEN}

    async def answer() -> dict[str, object]:
        response = await api.http.get(
            f"/internal/v1/drafts/{draft['id']}/versions/{version_no}", headers=internal
        )
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    before = await answer()
    at = datetime.now(UTC).isoformat()
    refused = await api.gate().check_consent(
        ConsentCheckInput(draft["id"], version_no, hash_, ["sandbox"], at)
    )
    await api.http.patch(
        f"/api/v1/drafts/{draft['id']}/media/{digest}",
        json={"consent_id": photo},
        headers=api.headers("author"),
    )
    after = await answer()
    covered = await api.gate().check_consent(
        ConsentCheckInput(draft["id"], version_no, hash_, ["sandbox"], at)
    )
    other_channel = await api.gate().check_consent(
        ConsentCheckInput(draft["id"], version_no, hash_, ["sandbox", "facebook"], at)
    )

    [gap] = refused.media
    assert isinstance(gap, MediaConsent)
    assert (gap.digest, gap.covered, gap.why, gap.consent_id) == (digest, False, "not_named", None)
    assert before["media_consent"] == [
        {"digest": digest, "covered": False, "why": "not_named", "consent_id": None, "detail": gap.detail}
    ]
    assert covered.ok and covered.media == [MediaConsent(digest, True, "", photo, "")]
    assert after["media_consent"] == [
        {"digest": digest, "covered": True, "why": "", "consent_id": photo, "detail": ""}
    ]
    assert [(m.why, m.consent_id) for m in other_channel.media] == [("channel_not_covered", photo)]

"""Screening every rendition: a safety statement the whole text carries but a network's feed cuts
off behind "more" fails fair balance for that network."""

from __future__ import annotations

from functools import cache

from services.review.channels_client import Rendition
from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import load_policy_file
from services.review.renditions import RULE, rendition_findings
from services.review.screening.engine import Screener

SAFETY = (
    "Cardiozen may cause dizziness, low blood pressure and, rarely, serious allergic reactions. "
    "Do not take Cardiozen if you are pregnant. See full Prescribing Information."
)
CLAIM = "Cardiozen helps people with high blood pressure get back to the mornings they love."
FILLER = " Ask your doctor at your next visit whether it is right for you, and bring your questions."


@cache
def screener() -> Screener:
    return Screener(load_policy_file(DEFAULT_POLICY_FILE))


def findings(body: str, *renditions: Rendition) -> list[str]:
    whole = screener().screen(f"Title\n{body}", patient_content=False, consent_on_file=False, kind="post")
    assert not [f for f in whole.findings if f.category == "fda_fair_balance"], "the whole text is balanced"
    found = rendition_findings(
        screener(),
        title="Title",
        body=body,
        renditions=renditions,
        whole=whole.findings,
        patient_content=False,
        consent_on_file=False,
    )
    assert all(f.rule == RULE and f.category == "fda_fair_balance" for f in found)
    return [f.explanation.split(" ")[1] for f in found]  # "On <network> ..."


def test_a_safety_statement_after_the_fold_fails_for_that_network_only() -> None:
    body = f"{CLAIM}{FILLER} {SAFETY}"
    assert len(CLAIM + FILLER) > 125

    networks = findings(
        body,
        Rendition("clinic-ig", "instagram", 125),
        Rendition("clinic-fb", "facebook", 480),
        Rendition("clinic-x", "x", None),
    )

    assert networks == ["instagram"]


def test_a_safety_statement_before_the_fold_passes_everywhere() -> None:
    body = f"{CLAIM} {SAFETY}{FILLER * 3}"

    assert (
        findings(body, Rendition("clinic-li", "linkedin", 210), Rendition("clinic-fb", "facebook", 480)) == []
    )


def test_a_short_post_is_shown_whole_and_needs_nothing_more() -> None:
    assert findings(f"{CLAIM} {SAFETY}", Rendition("clinic-ig", "instagram", 1000)) == []

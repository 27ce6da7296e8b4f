from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import PolicyError, load_policy_file, parse_policy
from services.review.screening.engine import Screener


@pytest.fixture(scope="module")
def default_document() -> dict[str, object]:
    document: dict[str, object] = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    return document


def stage_names(document: dict[str, object], **facts: object) -> list[str]:
    policy = parse_policy(document)
    return [s.name for s in policy.required_stages(**facts)]  # type: ignore[arg-type]


def test_default_policy_stages(default_document: dict[str, object]) -> None:
    plain = {"product_mentioned": False, "patient_content": False, "categories": []}
    assert stage_names(default_document, **plain) == ["compliance"]
    assert stage_names(default_document, **{**plain, "product_mentioned": True}) == ["compliance", "legal"]
    assert stage_names(default_document, **{**plain, "patient_content": True}) == ["compliance", "legal"]
    assert stage_names(default_document, **{**plain, "categories": ["fda_fair_balance"]}) == [
        "compliance",
        "legal",
        "medical",
    ]


def test_policy_version_follows_content(default_document: dict[str, object]) -> None:
    first = parse_policy(default_document)
    assert parse_policy(dict(default_document)).version == first.version
    changed = {**default_document, "name": "stricter"}
    assert parse_policy(changed).version != first.version


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ({"stages": {}}, "stages"),
        ({"rules": [{"require": ["nonexistent"]}]}, "undefined stage"),
        ({"stages": {"x": {"roles": ["author"]}}, "rules": [{"require": ["x"]}]}, "review roles"),
        ({"surprise": 1}, "surprise"),
        # Every rule conditional: a version matching none would need no approval at all.
        ({"rules": [{"when": {"product_mentioned": True}, "require": ["legal"]}]}, "apply to every version"),
    ],
)
def test_invalid_policy_is_refused_with_a_reason(
    default_document: dict[str, object], mutation: dict[str, object], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy({**default_document, **mutation})


def test_unreadable_policy_file(tmp_path: Path) -> None:
    broken = tmp_path / "policy.yaml"
    broken.write_text("stages: [unclosed")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy_file(broken)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy_file(tmp_path / "missing.yaml")


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener(load_policy_file(DEFAULT_POLICY_FILE), without=frozenset({"text_model"}))


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        ("Cardiozen lowers blood pressure in two weeks!", ["fda_fair_balance"]),
        (
            "Cardiozen lowers blood pressure. Cardiozen may cause dizziness, low blood pressure and, rarely, "
            "serious allergic reactions. Do not take Cardiozen if you are pregnant. See full Prescribing "
            "Information.",
            [],
        ),
        ("Our new therapy is a miracle for your heart.", ["fda_unapproved_claim"]),
        ("There is no cure for hypertension yet, but it can be managed.", []),
        ("Patient Jane Roe, DOB: March 3, 1950, MRN 483920 is recovering well.", ["consent_missing", "phi"]),
        ("Questions? Call us at (555) 010-2000.", []),
        ("Text me at 555-123-9876 about my results", ["phi"]),
        ("After taking Cardiozen I got a rash all over my arms", ["adverse_event"]),
        ("Join our heart-healthy cooking class on May 4!", []),
    ],
)
def test_screener_with_the_default_policy(screener: Screener, text: str, categories: list[str]) -> None:
    outcome = screener.screen(text)
    assert outcome.categories == categories
    for finding in outcome.findings:
        assert text[finding.start : finding.end] == finding.text


def test_consent_on_file_clears_consent_finding(screener: Screener) -> None:
    story = "Huge congrats to our patient Tariq on six months smoke-free!"
    assert screener.screen(story).categories == ["consent_missing"]
    assert screener.screen(story, consent_on_file=True).categories == []

"""The policy's crisis lane settings: defaults, the file's values, and refusals with a reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import PolicyError, load_policy_file, parse_policy


def _document(**crisis: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    if crisis:
        document["crisis"] = crisis
    else:
        document.pop("crisis", None)
    return document


def test_the_default_policy_names_the_crisis_lane() -> None:
    crisis = load_policy_file(DEFAULT_POLICY_FILE).policy.crisis
    assert (crisis.window, crisis.approvers, crisis.after_review_within) == (
        timedelta(minutes=30),
        2,
        timedelta(hours=24),
    )


def test_a_policy_without_crisis_settings_gets_the_defaults() -> None:
    crisis = parse_policy(_document()).policy.crisis
    assert crisis.window == timedelta(minutes=30) and crisis.approvers == 2


def test_crisis_settings_are_read() -> None:
    crisis = parse_policy(_document(window="15m", approvers=3, after_review_within="12h")).policy.crisis
    assert (crisis.window, crisis.approvers, crisis.after_review_within) == (
        timedelta(minutes=15),
        3,
        timedelta(hours=12),
    )


@pytest.mark.parametrize(
    ("crisis", "reason"),
    [
        ({"window": "0m"}, "positive number"),
        ({"window": "2d"}, "at most 24h"),
        ({"approvers": 1}, "greater than or equal to 2"),
        ({"after_review_within": "soon"}, "duration"),
        ({"quorum": 2}, "quorum"),
    ],
)
def test_bad_crisis_settings_are_refused_with_a_reason(crisis: dict[str, Any], reason: str) -> None:
    with pytest.raises(PolicyError, match=reason):
        parse_policy(_document(**crisis))

"""The engine meets the issue's targets on the labeled dev corpus, and beats presidio's defaults on PHI."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.review.screening.eval import MAX_CLEAN_FALSE_FLAG_RATE, TARGETS, evaluate, render

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"


@pytest.mark.skipif(
    not (CORPUS / "screening-dev.jsonl").exists(), reason=f"the labeled corpus is not at {CORPUS}"
)
def test_engine_meets_the_targets_on_the_dev_corpus() -> None:
    report = evaluate(CORPUS)
    table = render(report)
    for category, target in TARGETS.items():
        assert report.scores[category].recall >= target, table
    assert report.clean_false_flag_rate <= MAX_CLEAN_FALSE_FLAG_RATE, table
    assert report.scores["phi"].recall > report.presidio_phi.recall, table
    assert "phi (presidio default)" in table

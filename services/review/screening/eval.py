"""`make eval-screening`: per-category precision/recall and clean-text false flags on a labeled corpus.

    python -m services.review.screening.eval [--corpus DIR] [--policy POLICY.yaml] [--show-errors]

Reads DIR/screening-dev.jsonl and DIR/products-dev.json (default: ../shared/corpus beside the
repository). PHI is also scored for presidio-analyzer's default recognizers in the same offline
setup, side by side: a text counts as PHI for presidio when any recognizer fires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import load_policy_file
from services.review.screening.catalog import load_catalog_file
from services.review.screening.engine import Screener
from services.review.screening.findings import CATEGORIES
from services.review.screening.offline import presidio_defaults

DEFAULT_CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
TARGETS = {
    "phi": 0.95,
    "consent_missing": 0.95,
    "adverse_event": 0.95,
    "fda_fair_balance": 0.90,
    "fda_unapproved_claim": 0.90,
}
MAX_CLEAN_FALSE_FLAG_RATE = 0.10


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, expected: bool, predicted: bool) -> None:
        self.tp += expected and predicted
        self.fp += predicted and not expected
        self.fn += expected and not predicted


@dataclass
class Report:
    texts: int = 0
    scores: dict[str, Score] = field(default_factory=lambda: {c: Score() for c in CATEGORIES})
    presidio_phi: Score = field(default_factory=Score)
    clean: int = 0
    clean_flagged: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def clean_false_flag_rate(self) -> float:
        return self.clean_flagged / self.clean if self.clean else 0.0

    def meets_targets(self) -> bool:
        return all(self.scores[c].recall >= t for c, t in TARGETS.items()) and (
            self.clean_false_flag_rate <= MAX_CLEAN_FALSE_FLAG_RATE
        )


def load_corpus(corpus: Path) -> list[dict[str, Any]]:
    with (corpus / "screening-dev.jsonl").open() as lines:
        return [json.loads(line) for line in lines if line.strip()]


def evaluate(corpus: Path, policy_file: Path = DEFAULT_POLICY_FILE, *, baseline: bool = True) -> Report:
    screener = Screener(
        load_policy_file(policy_file), catalog=load_catalog_file(corpus / "products-dev.json")
    )
    presidio = presidio_defaults() if baseline else None
    report = Report()
    for item in load_corpus(corpus):
        context = item.get("context") or {}
        outcome = screener.screen(
            item["text"], consent_on_file=bool(context.get("consent_on_file")), kind=item.get("kind", "post")
        )
        expected, predicted = set(item["expect"]["categories"]), set(outcome.categories)
        report.texts += 1
        for category in CATEGORIES:
            report.scores[category].add(category in expected, category in predicted)
        if not expected:
            report.clean += 1
            report.clean_flagged += bool(predicted)
        if presidio is not None:
            report.presidio_phi.add(
                "phi" in expected, bool(presidio.analyze(text=item["text"], language="en"))
            )
        if expected != predicted:
            details = "; ".join(f"{f.category}:{f.rule}:{f.text!r}" for f in outcome.findings)
            report.errors.append(
                f"{item['id']} expected {sorted(expected)} got {sorted(predicted)} [{details}] {item['text']}"
            )
    return report


def render(report: Report) -> str:
    lines = [
        f"Screening eval on {report.texts} labeled texts ({report.clean} clean)",
        "",
        f"{'category':<22}{'precision':>10}{'recall':>8}{'target':>8}{'tp':>5}{'fp':>4}{'fn':>4}",
    ]
    for category in CATEGORIES:
        s = report.scores[category]
        target = f">={TARGETS[category]:.2f}"
        lines.append(
            f"{category:<22}{s.precision:>10.2f}{s.recall:>8.2f}{target:>8}{s.tp:>5}{s.fp:>4}{s.fn:>4}"
        )
    p = report.presidio_phi
    name = "phi (presidio default)"
    lines.append(f"{name:<22}{p.precision:>10.2f}{p.recall:>8.2f}{'':>8}{p.tp:>5}{p.fp:>4}{p.fn:>4}")
    lines += [
        "",
        f"clean texts flagged: {report.clean_flagged}/{report.clean} = {report.clean_false_flag_rate:.1%} "
        f"(target <= {MAX_CLEAN_FALSE_FLAG_RATE:.0%})",
        f"targets met: {'yes' if report.meets_targets() else 'NO'}",
    ]
    return "\n".join(lines)


def main(
    corpus: Path = typer.Option(
        DEFAULT_CORPUS, help="Directory with screening-dev.jsonl and products-dev.json"
    ),
    policy: Path = typer.Option(DEFAULT_POLICY_FILE, help="Policy file (severities, allow-list)"),
    show_errors: bool = typer.Option(False, "--show-errors", help="List every text the engine got wrong"),
) -> None:
    if not (corpus / "screening-dev.jsonl").exists():
        typer.echo(f"no corpus at {corpus} (expected screening-dev.jsonl there)", err=True)
        raise typer.Exit(2)
    report = evaluate(corpus, policy)
    typer.echo(render(report))
    if show_errors:
        typer.echo("\n" + "\n".join(report.errors))


if __name__ == "__main__":
    typer.run(main)

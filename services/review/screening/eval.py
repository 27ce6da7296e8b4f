"""`make eval-screening`: per-category precision/recall and clean-text false flags on labeled corpora.

    python -m services.review.screening.eval [--corpus FILE.jsonl|DIR ...] [--products FILE.json]
        [--policy POLICY.yaml] [--without PART ...] [--ablation] [--show-errors] [--feedback]

Each `--corpus` is a labeled JSONL file (or a directory holding screening-dev.jsonl); its catalog
is `--products`, else the `products-*.json` named like it (screening-dev-2.jsonl ->
products-dev-2.json). Without `--corpus`, every `screening-*.jsonl` in ../shared/corpus beside the
repository is scored, one table each. PHI is also scored for presidio-analyzer's default
recognizers in the same offline setup, side by side: a text counts as PHI for presidio when any
recognizer fires. `--without PART` switches one part of the engine off; `--ablation` prints one
row per part switched off (the ablation table in docs/screening.md). `--feedback` also scores the
examples reviewers' marks make (services/review/feedback_export.py, read from the review database the
service's settings name), with the policy's catalog and the allow-list entries compliance approved:
does the screener now get right what its reviewers corrected?
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import AllowList, load_policy_file
from services.review.screening.catalog import catalog_beside, load_catalog_file
from services.review.screening.engine import PARTS, Screener
from services.review.screening.findings import CATEGORIES
from services.review.screening.offline import presidio_defaults
from services.review.screening.train_model import held_out_model

DEFAULT_CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
CORPUS_FILE = "screening-dev.jsonl"
# (recall, precision) the issue asks for on texts the screener was not tuned on
TARGETS = {
    "phi": 0.95,
    "consent_missing": 0.95,
    "adverse_event": 0.95,
    "fda_fair_balance": 0.90,
    "fda_unapproved_claim": 0.90,
}
PRECISION_TARGET = 0.85
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
    corpus: str = ""
    texts: int = 0
    scores: dict[str, Score] = field(default_factory=lambda: {c: Score() for c in CATEGORIES})
    presidio_phi: Score = field(default_factory=Score)
    clean: int = 0
    clean_flagged: int = 0
    problem: int = 0
    problem_flagged: int = 0
    errors: list[str] = field(default_factory=list)
    model: str = ""  # which text model read the corpus (train_model.held_out_model)

    @property
    def clean_false_flag_rate(self) -> float:
        return self.clean_flagged / self.clean if self.clean else 0.0

    @property
    def problem_flag_rate(self) -> float:
        return self.problem_flagged / self.problem if self.problem else 1.0

    def meets_targets(self) -> bool:
        return (
            all(
                self.scores[c].recall >= t and self.scores[c].precision >= PRECISION_TARGET
                for c, t in TARGETS.items()
            )
            and self.clean_false_flag_rate <= MAX_CLEAN_FALSE_FLAG_RATE
        )


def corpus_file(corpus: Path) -> Path:
    return corpus / CORPUS_FILE if corpus.is_dir() else corpus


def products_file(corpus: Path) -> Path:
    """The catalog named like the corpus (or like the screening-dev.jsonl of a directory)."""
    return catalog_beside(corpus_file(corpus))


def load_corpus(corpus: Path) -> list[dict[str, Any]]:
    with corpus_file(corpus).open() as lines:
        return [json.loads(line) for line in lines if line.strip()]


def evaluate(
    corpus: Path,
    policy_file: Path = DEFAULT_POLICY_FILE,
    *,
    products: Path | None = None,
    baseline: bool = True,
    without: frozenset[str] = frozenset(),
) -> Report:
    model, model_line = (
        (None, "text model: switched off")
        if "text_model" in without
        else held_out_model(corpus_file(corpus), policy_file)
    )
    screener = Screener(
        load_policy_file(policy_file),
        catalog=load_catalog_file(products or products_file(corpus)),
        without=without,
        model=model,
    )
    report = evaluate_items(load_corpus(corpus), screener, corpus_file(corpus).name, baseline=baseline)
    report.model = model_line
    return report


def evaluate_items(
    items: list[dict[str, Any]], screener: Screener, name: str, *, baseline: bool = True
) -> Report:
    """Score `screener` on labeled examples (the corpus schema)."""
    presidio = presidio_defaults() if baseline else None
    report = Report(corpus=name)
    for item in items:
        context = item.get("context") or {}
        outcome = screener.screen(
            item["text"], consent_on_file=bool(context.get("consent_on_file")), kind=item.get("kind", "post")
        )
        expected, predicted = set(item["expect"]["categories"]), set(outcome.categories)
        report.texts += 1
        for category in CATEGORIES:
            report.scores[category].add(category in expected, category in predicted)
        if expected:
            report.problem += 1
            report.problem_flagged += bool(predicted)
        else:
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
        f"Screening eval on {report.corpus}: {report.texts} labeled texts ({report.clean} clean)",
        *([report.model] if report.model else []),
        "",
        f"{'category':<24}{'precision':>10}{'recall':>8}{'target r/p':>12}{'tp':>5}{'fp':>4}{'fn':>4}",
    ]
    for category in CATEGORIES:
        s = report.scores[category]
        target = f"{TARGETS[category]:.2f}/{PRECISION_TARGET:.2f}"
        lines.append(
            f"{category:<24}{s.precision:>10.2f}{s.recall:>8.2f}{target:>12}{s.tp:>5}{s.fp:>4}{s.fn:>4}"
        )
    p = report.presidio_phi
    name = "phi (presidio default)"
    lines.append(f"{name:<24}{p.precision:>10.2f}{p.recall:>8.2f}{'':>12}{p.tp:>5}{p.fp:>4}{p.fn:>4}")
    lines += [
        "",
        f"clean texts flagged: {report.clean_flagged}/{report.clean} = {report.clean_false_flag_rate:.1%} "
        f"(target <= {MAX_CLEAN_FALSE_FLAG_RATE:.0%})",
        f"problem texts flagged at all: {report.problem_flagged}/{report.problem} = "
        f"{report.problem_flag_rate:.1%}",
        f"targets met: {'yes' if report.meets_targets() else 'NO'}",
    ]
    return "\n".join(lines)


def ablation(corpus: Path, policy_file: Path, products: Path | None = None) -> str:
    """One row per part switched off: each category's recall/precision and the clean false-flag rate."""
    short = {
        "phi": "phi",
        "consent_missing": "consent",
        "fda_fair_balance": "fair bal.",
        "fda_unapproved_claim": "unappr.",
        "adverse_event": "AE",
    }
    header = "| without | " + " | ".join(f"{short[c]} r/p" for c in CATEGORIES) + " | clean flagged |"
    lines = [f"Ablation on {corpus_file(corpus).name}", "", header, "|" + " --- |" * (len(CATEGORIES) + 2)]
    for part in ("", *PARTS):
        report = evaluate(
            corpus, policy_file, products=products, baseline=False, without=frozenset({part} - {""})
        )
        cells = [f"{report.scores[c].recall:.2f}/{report.scores[c].precision:.2f}" for c in CATEGORIES]
        lines.append(
            f"| {part or '(all parts)'} | " + " | ".join(cells) + f" | {report.clean_false_flag_rate:.1%} |"
        )
    return "\n".join(lines)


def evaluate_feedback(policy_file: Path, examples: list[dict[str, Any]], allow_list: AllowList) -> Report:
    """The reviewers' examples, screened as the service screens now: the policy's own catalog and its
    allow-list with the approved entries."""
    screener = Screener(load_policy_file(policy_file))
    screener.extend_allow_list(allow_list)
    return evaluate_items(examples, screener, f"reviewers' feedback ({len(examples)} marked versions)")


def _feedback_report(policy_file: Path) -> Report:
    import asyncio

    from services.review.config import get_settings
    from services.review.feedback_export import read_feedback

    settings = get_settings()
    feedback = asyncio.run(read_feedback(settings.database_url, settings.database_schema))
    return evaluate_feedback(policy_file, feedback.examples, feedback.allow_list)


def default_corpora(directory: Path = DEFAULT_CORPUS) -> list[Path]:
    return sorted(directory.glob("screening-*.jsonl"))


def main(
    corpus: list[Path] = typer.Option(
        [], help="A labeled JSONL file (or a directory with screening-dev.jsonl); repeatable"
    ),
    products: Path | None = typer.Option(
        None, help="The catalog; default: the products-*.json named like it"
    ),
    policy: Path = typer.Option(DEFAULT_POLICY_FILE, help="Policy file (severities, allow-list)"),
    without: list[str] = typer.Option([], help=f"Switch a part of the engine off: {', '.join(PARTS)}"),
    show_errors: bool = typer.Option(False, "--show-errors", help="List every text the engine got wrong"),
    ablate: bool = typer.Option(False, "--ablation", help="Score the engine once per part switched off"),
    feedback: bool = typer.Option(
        False, "--feedback", help="Also score the examples reviewers' marks make (the review database)"
    ),
) -> None:
    corpora = corpus or default_corpora()
    unknown = set(without) - set(PARTS)
    if unknown:
        typer.echo(f"unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}", err=True)
        raise typer.Exit(2)
    if not corpora or not all(corpus_file(c).exists() for c in corpora):
        typer.echo(f"no corpus at {', '.join(map(str, corpora)) or DEFAULT_CORPUS}", err=True)
        raise typer.Exit(2)
    for i, path in enumerate(corpora):
        if ablate:
            typer.echo(("\n" if i else "") + ablation(path, policy, products))
            continue
        report = evaluate(path, policy, products=products, without=frozenset(without))
        typer.echo(("\n" if i else "") + render(report))
        if show_errors:
            typer.echo("\n" + "\n".join(report.errors))
    if feedback and not ablate:
        report = _feedback_report(policy)
        typer.echo("\n" + render(report))
        if show_errors:
            typer.echo("\n" + "\n".join(report.errors))


if __name__ == "__main__":
    typer.run(main)

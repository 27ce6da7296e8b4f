"""`make screening-model`: train the text model (text_model.py) and write data/text_model.json.

    python -m services.review.screening.train_model [--corpus FILE.jsonl ...] [--out FILE]

Each labeled corpus is read through the engine's recognizers with its own catalog (the
products-*.json named like it), so the model sees placeholders where a product or an identifier
stood. One L2-regularised logistic regression per category (scikit-learn's liblinear, balanced
class weights: a missed category costs more than a second look), binary features normalised per
text. Each category's threshold comes from readings the model gave texts it was not trained on:
every corpus is held out in turn, the others trained on, and the threshold is the lowest at which
those held-out readings still reach `PRECISION` (so the model adds recall without drowning the
reviewer). The artifact records each corpus's SHA-256: `eval` retrains without a corpus it scores
that the artifact was trained on, so a figure is never a model reading its own training texts.

scikit-learn is needed here only (a dev dependency); the service scores with text_model.py alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import typer

from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import load_policy_file
from services.review.screening.catalog import catalog_beside, load_catalog_file
from services.review.screening.engine import Screener
from services.review.screening.findings import CATEGORIES
from services.review.screening.text_model import MODEL_FILE, TextModel, shipped_model

REPOSITORY = Path(__file__).resolve().parents[3]
# The labeled corpora the shipped model learns from: the two shared ones and the four written apart.
TRAINING_CORPORA = (
    REPOSITORY.parent / "shared" / "corpus" / "screening-dev.jsonl",
    REPOSITORY.parent / "shared" / "corpus" / "screening-dev-2.jsonl",
    REPOSITORY / "tests" / "fixtures" / "screening" / "screening-ours-1.jsonl",
    REPOSITORY / "tests" / "fixtures" / "screening" / "screening-ours-2.jsonl",
    REPOSITORY / "tests" / "fixtures" / "screening" / "screening-ours-3.jsonl",
    REPOSITORY / "tests" / "fixtures" / "screening" / "screening-ours-4.jsonl",
)
C = 64.0  # inverse regularisation strength (held out: 4 < 16 < 64, flat beyond)
MIN_DF = 2  # a feature seen in one training text only says nothing of the next
PRECISION = 0.90  # what the held-out readings must reach at the chosen threshold
LOWEST_THRESHOLD = 0.35


@dataclass(frozen=True)
class Example:
    corpus: str
    features: frozenset[str]
    labels: frozenset[str]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_examples(
    corpus: Path, products: Path | None = None, policy: Path = DEFAULT_POLICY_FILE
) -> list[Example]:
    screener = Screener(
        load_policy_file(policy),
        catalog=load_catalog_file(products or catalog_beside(corpus)),
        without=frozenset({"text_model"}),
    )
    found = []
    with corpus.open() as lines:
        for line in lines:
            if not line.strip():
                continue
            item = json.loads(line)
            context = item.get("context") or {}
            found.append(
                Example(
                    corpus.name,
                    frozenset(
                        screener.model_features(
                            item["text"],
                            kind=item.get("kind", "post"),
                            consent_on_file=bool(context.get("consent_on_file")),
                        )
                    ),
                    frozenset(item["expect"]["categories"]),
                )
            )
    return found


def fit(examples: Sequence[Example], thresholds: Sequence[float] | None = None) -> TextModel:
    from sklearn.feature_extraction.text import CountVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.preprocessing import normalize  # type: ignore[import-untyped]

    vectorizer = CountVectorizer(analyzer=sorted, min_df=MIN_DF, binary=True, lowercase=False)
    matrix = normalize(vectorizer.fit_transform([e.features for e in examples]))
    vocabulary: list[str] = list(vectorizer.get_feature_names_out())
    bias: list[float] = []
    columns: list[list[float]] = []
    for category in CATEGORIES:
        labels = [category in e.labels for e in examples]
        if not any(labels):
            bias.append(-10.0)
            columns.append([0.0] * len(vocabulary))
            continue
        model = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", random_state=0)
        model.fit(matrix, labels)
        bias.append(float(model.intercept_[0]))
        columns.append([float(w) for w in model.coef_[0]])
    weights = {
        feature: [column[j] for column in columns]
        for j, feature in enumerate(vocabulary)
        if any(abs(column[j]) >= 1e-4 for column in columns)
    }
    return TextModel(CATEGORIES, bias, thresholds or [0.5] * len(CATEGORIES), weights)


def held_out_readings(examples: Sequence[Example]) -> list[tuple[Example, list[float]]]:
    """Each corpus's texts read by a model trained on the other corpora."""
    readings: list[tuple[Example, list[float]]] = []
    for corpus in sorted({e.corpus for e in examples}):
        model = fit([e for e in examples if e.corpus != corpus])
        for example in (e for e in examples if e.corpus == corpus):
            read = model.read(example.features)
            readings.append((example, [read[c].probability for c in CATEGORIES]))
    return readings


def choose_thresholds(readings: Sequence[tuple[Example, list[float]]]) -> list[float]:
    chosen = []
    for i, category in enumerate(CATEGORIES):
        scored = sorted(((p[i], category in e.labels) for e, p in readings), reverse=True)
        best = 1.0
        tp = fp = 0
        for probability, positive in scored:
            tp += positive
            fp += not positive
            if probability < LOWEST_THRESHOLD:
                break
            if positive and tp / (tp + fp) >= PRECISION:
                best = probability
        chosen.append(best)
    return chosen


def train(corpora: Sequence[Path], policy: Path = DEFAULT_POLICY_FILE) -> TextModel:
    examples = [e for corpus in corpora for e in read_examples(corpus, policy=policy)]
    thresholds = choose_thresholds(held_out_readings(examples)) if len(corpora) > 1 else None
    model = fit(examples, thresholds)
    model.trained_on = {corpus.name: digest(corpus) for corpus in corpora}
    return model


def corpus_for(name: str, sha256: str, known: Sequence[Path] = TRAINING_CORPORA) -> Path:
    for path in known:
        if path.name == name and path.exists() and digest(path) == sha256:
            return path
    raise FileNotFoundError(
        f"the text model was trained on {name} ({sha256[:12]}), which is not here as it was"
    )


@lru_cache(maxsize=8)
def held_out_model(corpus: Path, policy: Path = DEFAULT_POLICY_FILE) -> tuple[TextModel | None, str]:
    """The model to score `corpus` with, and a line saying which: the shipped one, or, when the
    shipped one learned from `corpus`, one trained the same way on its other corpora only."""
    shipped = shipped_model()
    if shipped is None:
        return None, "text model: not built (make screening-model); rules only"
    if digest(corpus) not in shipped.trained_on.values():
        return shipped, f"text model: the shipped one (trained on {', '.join(shipped.trained_on)})"
    others = [corpus_for(n, d) for n, d in shipped.trained_on.items() if d != digest(corpus)]
    return train(others, policy), (
        f"text model: retrained without {corpus.name}, which the shipped one learned from "
        f"(trained on {', '.join(p.name for p in others)})"
    )


def main(
    corpus: list[Path] = typer.Option(
        [], help="A labeled JSONL corpus (catalog: products-*.json beside it); repeatable"
    ),
    out: Path = typer.Option(MODEL_FILE, help="Where to write the artifact"),
    policy: Path = typer.Option(DEFAULT_POLICY_FILE, help="Policy file (the recognizers' allow-list)"),
) -> None:
    corpora = corpus or list(TRAINING_CORPORA)
    missing = [str(c) for c in corpora if not c.exists() or not catalog_beside(c).exists()]
    if missing:
        typer.echo(f"no corpus or no catalog beside it: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    model = train(corpora, policy)
    model.save(out)
    typer.echo(
        f"wrote {out}: {len(model.weights)} features, thresholds "
        + ", ".join(f"{c} {t:.2f}" for c, t in zip(model.categories, model.thresholds, strict=True))
    )


if __name__ == "__main__":
    typer.run(main)

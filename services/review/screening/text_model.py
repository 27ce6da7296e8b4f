"""The trained text model: one logistic regression per category over the text with its identifiers masked.

The rules find what they were written for; the model reads the whole text the way the labeled
corpora taught it, so a symptom in words no rule lists, a claim in a frame no rule knows, or a story
about a person with nothing but a first name still reach a reviewer. Before it reads a text, every
product, drug and identifier the engine's recognizers found is replaced by a placeholder naming its
kind (``PRODUCT``, ``PERSON``, ``PHONE_NUMBER``): the model learns "a product, then a rash",
never the product names of one catalog, and carries over to an organization's own catalog.

Features are binary and L2-normalised per text: words and word pairs, the text's kind and whether
consent is on file. Two richer sets were tried and dropped (docs/screening.md, "The text model"):
3-5 character pieces of words lowered every category's held-out average precision, and the rules'
word classes as features made the model lean on rules tuned on its own training texts, so it
missed more on a corpus neither had seen. Scoring is a dot product over a dictionary of weights,
so the service needs no machine-learning library at run time; scikit-learn builds the artifact
(services/review/screening/train_model.py, `make screening-model`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from services.review.screening.findings import CATEGORIES

MODEL_FILE = Path(__file__).with_name("data") / "text_model.json"
FORMAT = 1

_TOKEN = re.compile(r"[A-Z_]+|[a-z]+(?:'[a-z]+)?|\d+")
_DIGIT = re.compile(r"\d")
# What each placeholder stands for, in an explanation.
_PLACEHOLDER_WORDS = {
    "PRODUCT": "a product name",
    "DRUG": "a drug name",
    "PERSON": "a person's name",
}


@dataclass(frozen=True)
class Mask:
    """A span the engine recognised, read by the model as its kind only."""

    start: int
    end: int
    kind: str  # product | drug | person | phone_number | url | ...

    @property
    def placeholder(self) -> str:
        return re.sub(r"[^A-Z]+", "_", self.kind.upper())


def tokens(text: str, masks: Iterable[Mask]) -> list[str]:
    """Lower-cased words of `text` with each masked span replaced by its upper-case placeholder and
    every digit by 0 (so "Room 412" and "Room 88" read alike)."""
    parts: list[str] = []
    at = 0
    for mask in sorted(masks, key=lambda m: (m.start, -m.end)):
        if mask.start < at:
            continue
        parts += [text[at : mask.start].lower(), f" {mask.placeholder} "]
        at = mask.end
    parts.append(text[at:].lower())
    return _TOKEN.findall(_DIGIT.sub("0", "".join(parts)))


def features(words: Sequence[str], *, kind: str, consent_on_file: bool) -> set[str]:
    found = {f"m:kind={kind}", f"m:consent={'yes' if consent_on_file else 'no'}"}
    found.update(f"w:{word}" for word in words)
    found.update(f"b:{a} {b}" for a, b in pairwise(words))
    return found


def describe(feature: str) -> str:
    """A feature in a reviewer's words: 'w:rash' -> "rash", 'b:PRODUCT gave' -> "a product name gave"."""
    body = feature.split(":", 1)[1]
    words = [
        _PLACEHOLDER_WORDS.get(w, "a " + w.lower().replace("_", " ")) if w.isupper() else w
        for w in body.split()
    ]
    return " ".join(words)


@dataclass(frozen=True)
class Reading:
    """The model's reading of one text for one category."""

    category: str
    probability: float
    threshold: float
    cues: tuple[str, ...]  # the word features that pushed it there most, in a reviewer's words

    @property
    def flagged(self) -> bool:
        return self.probability >= self.threshold


class TextModel:
    def __init__(
        self,
        categories: Sequence[str],
        bias: Sequence[float],
        thresholds: Sequence[float],
        weights: dict[str, list[float]],
        trained_on: dict[str, str] | None = None,
    ) -> None:
        self.categories = tuple(categories)
        self.bias = list(bias)
        self.thresholds = list(thresholds)
        self.weights = weights
        self.trained_on = dict(trained_on or {})

    # --- artifact ---------------------------------------------------------------------------------

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "categories": list(self.categories),
            "bias": [round(b, 6) for b in self.bias],
            "thresholds": [round(t, 4) for t in self.thresholds],
            "trained_on": self.trained_on,
            "weights": {f: [round(w, 5) for w in ws] for f, ws in sorted(self.weights.items())},
        }

    def save(self, path: Path = MODEL_FILE) -> None:
        path.write_text(json.dumps(self.as_json(), separators=(",", ":"), sort_keys=False) + "\n")

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> TextModel:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: text model format {data.get('format')!r}, expected {FORMAT}")
        if tuple(data["categories"]) != CATEGORIES:
            raise ValueError(f"{path}: categories {data['categories']} do not match {list(CATEGORIES)}")
        return cls(data["categories"], data["bias"], data["thresholds"], data["weights"], data["trained_on"])

    # --- scoring ----------------------------------------------------------------------------------

    def logits(self, found: Iterable[str]) -> tuple[list[float], list[str]]:
        known = [f for f in found if f in self.weights]
        scale = 1 / math.sqrt(len(known)) if known else 0.0
        totals = list(self.bias)
        for feature in known:
            for i, w in enumerate(self.weights[feature]):
                totals[i] += w * scale
        return totals, known

    def read(self, found: Iterable[str], *, cues: int = 3) -> dict[str, Reading]:
        totals, known = self.logits(found)
        readings: dict[str, Reading] = {}
        for i, category in enumerate(self.categories):
            words = sorted(
                (f for f in known if f[0] in "wb" and self.weights[f][i] > 0),
                key=lambda f: -self.weights[f][i],
            )[:cues]
            readings[category] = Reading(
                category, _sigmoid(totals[i]), self.thresholds[i], tuple(describe(f) for f in words)
            )
        return readings


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


@lru_cache(maxsize=1)
def shipped_model() -> TextModel | None:
    """The artifact built by `make screening-model`, or None when it has not been built."""
    return TextModel.load() if MODEL_FILE.exists() else None

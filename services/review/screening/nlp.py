"""The offline language stack: a blank spaCy tokenizer, medspaCy ConText, presidio, drug names.

Nothing here downloads anything. presidio gets an explicit NLP engine over a blank English
spaCy pipeline (a plain `AnalyzerEngine()` would try to fetch `en_core_web_lg`), tldextract uses
its bundled suffix list, and the drug lexicon ships inside `drug-named-entity-recognition`.
Everything is built once per process and shared by every Screener.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from drug_named_entity_recognition import find_drugs  # type: ignore[import-untyped]
from medspacy.context import ConTextRule  # type: ignore[import-untyped]
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    UrlRecognizer,
)
from spacy.language import Language
from spacy.tokens import Doc, Span

from services.review.screening import lexicon
from services.review.screening.offline import BlankSpacyNlpEngine, blank_pipeline
from services.review.screening.recognizers import custom_recognizers

logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

CONTEXT_COMPONENT = "medspacy_context"
TARGETS = "screening_targets"  # the span group ConText reads (targets may overlap)


def build_pipeline() -> Language:
    """Blank English tokenizer, rule sentencizer, and ConText with medspaCy's rules plus ours."""
    nlp = blank_pipeline()
    component: Any = nlp.add_pipe(
        CONTEXT_COMPONENT, config={"rules": "default", "input_span_type": "group", "span_group_name": TARGETS}
    )
    component.add(
        [
            ConTextRule(phrase, category, direction=direction)
            for phrase, category, direction in lexicon.CONTEXT_MODIFIERS
        ]
    )
    return nlp


@dataclass(frozen=True)
class DrugMention:
    name: str
    start: int
    end: int
    text: str


class DrugLexicon:
    """Generic (and common brand) drug names from drug-named-entity-recognition's bundled lexicon."""

    _TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*")

    def find(self, text: str) -> list[DrugMention]:
        tokens = list(self._TOKEN.finditer(text))
        if not tokens:
            return []
        found: list[DrugMention] = []
        for record, first, last in find_drugs([t.group(0) for t in tokens], is_ignore_case=True):
            if not record.get("drugbank_id"):
                continue  # drug classes ("eye drops", "antihistamines") name no product
            start, end = tokens[first].start(), tokens[last - 1].end()
            found.append(DrugMention(str(record["name"]), start, end, text[start:end]))
        return found


@dataclass
class LanguageStack:
    nlp: Language
    nlp_engine: BlankSpacyNlpEngine
    analyzer: AnalyzerEngine
    drugs: DrugLexicon

    def context(self, doc: Doc, spans: list[Span]) -> Doc:
        """Run ConText over `spans`; read span._.modifiers etc. from doc.spans[TARGETS] afterwards."""
        doc.spans[TARGETS] = spans
        component: Any = self.nlp.get_pipe(CONTEXT_COMPONENT)
        result: Doc = component(doc)
        return result


def _analyzer(nlp_engine: BlankSpacyNlpEngine, recognizers: list[Any]) -> AnalyzerEngine:
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in recognizers:
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


@lru_cache(maxsize=1)
def language_stack() -> LanguageStack:
    nlp = build_pipeline()
    engine = BlankSpacyNlpEngine(nlp)
    engine.load()
    recognizers = [
        EmailRecognizer(),
        UrlRecognizer(),
        IpRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        *custom_recognizers(),
    ]
    analyzer = _analyzer(engine, recognizers)
    drugs = DrugLexicon()
    drugs.find("warm up the lexicon with aspirin")
    return LanguageStack(nlp=nlp, nlp_engine=engine, analyzer=analyzer, drugs=drugs)

"""presidio without a model download: its spaCy engine over a blank English pipeline.

A plain `AnalyzerEngine()` tries to download `en_core_web_lg`; here presidio gets an explicit NLP
engine over `spacy.blank("en")` plus a rule sentencizer. This module imports only spaCy and
presidio, so the baseline in `bench` measures presidio alone.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from spacy.language import Language
from spacy.tokens import Doc

logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)


def blank_pipeline() -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


class BlankSpacyNlpEngine(SpacyNlpEngine):
    """presidio's spaCy engine over a pipeline we built, so it never looks for a model to download."""

    def __init__(self, pipeline: Language) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": "blank:en"}])
        self._pipeline = pipeline

    def load(self) -> None:
        self.nlp = {"en": self._pipeline}  # type: ignore[assignment]

    def artifacts(self, doc: Doc) -> NlpArtifacts:
        return self._doc_to_nlp_artifact(doc, "en")


@lru_cache(maxsize=1)
def presidio_defaults() -> AnalyzerEngine:
    """presidio's own default recognizers in the same offline setup (the baseline for eval and bench)."""
    engine = BlankSpacyNlpEngine(blank_pipeline())
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])

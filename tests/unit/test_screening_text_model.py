"""The screener's trained text model: what it reads, how it scores, how it is trained and shipped."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import AllowList, Product, load_policy_file
from services.review.screening import train_model
from services.review.screening.engine import Screener
from services.review.screening.findings import CATEGORIES
from services.review.screening.text_model import MODEL_FILE, Mask, TextModel, describe, features, tokens

CATALOG = [Product(name="Zelvora", generic="tamsopride", kind="rx_drug", indication="gout flares in adults")]
SYMPTOMS = ["rash", "hives", "dizzy spells", "nausea", "a pounding head", "itchy welts", "swollen lips"]
HAPPY = ["easy refill", "quick pickup", "friendly staff", "short wait", "clear labels", "good parking"]


def test_tokens_mask_recognised_spans_and_zero_digits() -> None:
    text = "Give Zelvora 10mg to Ana Ruiz, Room 412!"
    masks = [Mask(5, 12, "product"), Mask(21, 29, "PERSON")]
    assert tokens(text, masks) == ["give", "PRODUCT", "00", "mg", "to", "PERSON", "room", "000"]


def test_overlapping_masks_keep_the_first() -> None:
    assert tokens("call 555-0100 now", [Mask(5, 13, "PHONE_NUMBER"), Mask(9, 13, "ACCOUNT_NUMBER")]) == [
        "call",
        "PHONE_NUMBER",
        "now",
    ]


def test_features_are_words_pairs_and_the_context() -> None:
    found = features(["my", "PRODUCT", "rash"], kind="comment", consent_on_file=False)
    assert found == {
        "m:kind=comment",
        "m:consent=no",
        "w:my",
        "w:PRODUCT",
        "w:rash",
        "b:my PRODUCT",
        "b:PRODUCT rash",
    }
    assert describe("b:PRODUCT rash") == "a product name rash"
    assert describe("w:PHONE_NUMBER") == "a phone number"


def _tiny_model(tmp_path: Path) -> TextModel:
    weights = {"w:rash": [0.0, 0.0, 0.0, 0.0, 3.0], "w:my": [0.0, 0.0, 0.0, 0.0, 1.0]}
    model = TextModel(CATEGORIES, [-1.0] * 5, [0.5] * 5, weights, {"x.jsonl": "ab"})
    path = tmp_path / "model.json"
    model.save(path)
    return TextModel.load(path)


def test_scoring_is_a_normalised_dot_product(tmp_path: Path) -> None:
    model = _tiny_model(tmp_path)
    reading = model.read({"w:rash", "w:my", "w:unknown", "m:kind=post"})["adverse_event"]
    z = -1.0 + (3.0 + 1.0) / math.sqrt(2)  # unknown features neither count nor dilute
    assert reading.probability == pytest.approx(1 / (1 + math.exp(-z)))
    assert reading.flagged and reading.cues == ("rash", "my")
    assert not model.read({"w:my"})["phi"].flagged
    assert model.trained_on == {"x.jsonl": "ab"}


def test_an_artifact_of_another_format_or_categories_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    data = _tiny_model(tmp_path).as_json()
    path.write_text(json.dumps({**data, "format": 99}))
    with pytest.raises(ValueError, match="format"):
        TextModel.load(path)
    path.write_text(json.dumps({**data, "categories": ["phi"]}))
    with pytest.raises(ValueError, match="categories"):
        TextModel.load(path)


def _corpus(tmp_path: Path, name: str, offset: int) -> Path:
    """Adverse-event comments and happy comments about one product, with its catalog beside."""
    lines = []
    for i, symptom in enumerate(SYMPTOMS):
        text = f"started zelvora last week and now i have {symptom} every morning"
        lines.append(
            {
                "id": f"A{offset + i}",
                "kind": "comment",
                "text": text,
                "expect": {"categories": ["adverse_event"]},
            }
        )
    for i, nice in enumerate(HAPPY):
        text = f"zelvora refill today, {nice} at the counter, thanks team"
        lines.append({"id": f"C{offset + i}", "kind": "comment", "text": text, "expect": {"categories": []}})
    path = tmp_path / f"screening-{name}.jsonl"
    path.write_text(
        "\n".join(json.dumps({**line, "context": {"consent_on_file": False}}) for line in lines) + "\n"
    )
    catalog = [p.model_dump(exclude_none=True) for p in CATALOG]
    (tmp_path / f"products-{name}.json").write_text(json.dumps({"products": catalog}))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TextModel, list[Path]]:
    tmp_path = tmp_path_factory.mktemp("corpora")
    corpora = [_corpus(tmp_path, "one", 0), _corpus(tmp_path, "two", 100)]
    return train_model.train(corpora), corpora


def test_training_learns_the_category_and_records_what_it_read(trained: tuple[TextModel, list[Path]]) -> None:
    model, corpora = trained
    assert model.trained_on == {c.name: train_model.digest(c) for c in corpora}
    assert "w:PRODUCT" in model.weights  # the product's name was masked before the model read it
    assert not any("zelvora" in feature for feature in model.weights)
    ae = CATEGORIES.index("adverse_event")
    assert model.weights["w:every"][ae] > 0 > model.weights["w:thanks"][ae]


def test_a_model_finding_names_the_sentence_and_what_it_read(trained: tuple[TextModel, list[Path]]) -> None:
    model, _ = trained
    screener = Screener(
        load_policy_file(DEFAULT_POLICY_FILE),
        catalog=CATALOG,
        model=model,
        without=frozenset({"ae_report_frame", "consumer_words"}),
    )
    text = "Refill picked up. Started zelvora last week and now i have a weird feeling every morning."
    outcome = screener.screen(text, kind="comment")
    [finding] = [f for f in outcome.findings if f.rule == "model.adverse_event"]
    assert finding.text == "Started zelvora last week and now i have a weird feeling every morning."
    assert "trained text model" in finding.explanation and "mostly from '" in finding.explanation
    # An adverse event follows a named product: the same words without one are no report.
    assert (
        "adverse_event"
        not in screener.screen("i have a weird feeling every morning", kind="comment").categories
    )


def test_the_model_adds_nothing_the_rules_already_found(trained: tuple[TextModel, list[Path]]) -> None:
    model, _ = trained
    screener = Screener(load_policy_file(DEFAULT_POLICY_FILE), catalog=CATALOG, model=model)
    outcome = screener.screen("started zelvora and now i have hives every morning", kind="comment")
    assert [f.category for f in outcome.findings].count("adverse_event") == 1


def test_the_service_screens_with_the_rules_alone_unless_given_the_model() -> None:
    text = "Our offices close Monday, January 15."
    assert Screener(load_policy_file(DEFAULT_POLICY_FILE)).screen(text).findings == []


def test_an_allow_listed_name_reaches_the_model_as_ours() -> None:
    policy = load_policy_file(DEFAULT_POLICY_FILE)
    screener = Screener(policy, catalog=CATALOG, without=frozenset({"text_model"}))
    text = "Marisol Quenby led our cardiac rehab walk after surgery."
    assert "w:PERSON" in screener.model_features(text)
    screener.extend_allow_list(AllowList(staff=["Marisol Quenby"]))
    assert "w:OURS" in screener.model_features(text) and "w:PERSON" not in screener.model_features(text)
    assert "w:STAFF" not in screener.model_features("Our receptionist, Ilse Varga, retires.")
    assert "w:OURS" in screener.model_features("Our receptionist, Ilse Varga, retires.")


def test_the_shipped_model_was_trained_on_the_corpora_as_they_are() -> None:
    """Change a corpus and this fails until `make screening-model` rebuilds the artifact."""
    shipped = TextModel.load(MODEL_FILE)
    here = {c.name: c for c in train_model.TRAINING_CORPORA if c.exists()}
    assert here, "no training corpus here"
    for name, sha256 in shipped.trained_on.items():
        if name in here:
            assert train_model.digest(here[name]) == sha256, f"{name} changed: run make screening-model"
    assert set(here) <= set(shipped.trained_on)


def test_eval_never_scores_a_corpus_with_a_model_that_learned_it(
    trained: tuple[TextModel, list[Path]],
) -> None:
    _, corpora = trained
    model, line = train_model.held_out_model(corpora[0])
    assert model is not None and line.startswith("text model: the shipped one")
    fixture = next(c for c in train_model.TRAINING_CORPORA if c.name == "screening-ours-1.jsonl")
    model, line = train_model.held_out_model(fixture)
    assert line.startswith("text model: retrained without screening-ours-1.jsonl")
    assert model is not None and fixture.name not in model.trained_on


def test_train_command_refuses_a_corpus_without_its_catalog(tmp_path: Path) -> None:
    lonely = tmp_path / "screening-lonely.jsonl"
    lonely.write_text("")
    result = CliRunner().invoke(_train_app(), ["--corpus", str(lonely), "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 2
    assert "no corpus or no catalog" in result.output
    assert not (tmp_path / "m.json").exists()


def _train_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(train_model.main)
    return app

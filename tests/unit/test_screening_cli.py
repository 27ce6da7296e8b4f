"""`clearpost screen`: one output line per input line, bad lines reported, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.review.cli import app

PRODUCTS = {"products": [{"name": "Cardiozen", "generic": "examplamab", "kind": "rx_drug", "extra": 1}]}


def write(tmp_path: Path, lines: list[str]) -> tuple[Path, Path]:
    products = tmp_path / "products.json"
    products.write_text(json.dumps(PRODUCTS))
    source = tmp_path / "input.jsonl"
    source.write_text("\n".join(lines) + "\n")
    return products, source


def run(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(app, ["screen", *args])
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, out, result.stderr


def item(id: str, text: str, kind: str = "post", consent: bool = False) -> str:
    return json.dumps({"id": id, "kind": kind, "text": text, "context": {"consent_on_file": consent}})


def test_every_good_line_gets_a_result_and_exit_0(tmp_path: Path) -> None:
    products, source = write(
        tmp_path,
        [
            item("a", "Cardiozen helps your heart. Ask your doctor!"),
            item("b", "Our offices close Monday, January 15."),
            item("c", "two weeks on examplamab and I have hives everywhere", kind="comment"),
        ],
    )
    code, out, _ = run("--products", str(products), str(source))
    assert code == 0
    assert [(o["id"], o["flag"], o["categories"]) for o in out] == [
        ("a", True, ["fda_fair_balance"]),
        ("b", False, []),
        ("c", True, ["adverse_event"]),
    ]
    [finding] = out[2]["findings"]  # type: ignore[misc]
    assert finding["text"] == "hives" and finding["start"] < finding["end"]


def test_a_bad_line_is_reported_and_the_run_goes_on_with_exit_2(tmp_path: Path) -> None:
    products, source = write(
        tmp_path,
        [
            item("a", "Our offices close Monday."),
            "{not json",
            json.dumps({"id": "x", "kind": "tweet", "text": "hello"}),
            json.dumps({"id": "y", "text": ""}),
            item("b", "Results guaranteed!"),
        ],
    )
    code, out, stderr = run(
        "--products", str(products), "--policy", "services/review/policy/default.yaml", str(source)
    )
    assert code == 2
    assert [o.get("id", o.get("line")) for o in out] == ["a", 2, 3, 4, "b"]
    assert "not valid JSON" in str(out[1]["error"]) and "kind" in str(out[2]["error"])
    assert "text" in str(out[3]["error"])
    assert "3 bad line(s)" in stderr


def test_unusable_products_or_input_fail_with_a_message(tmp_path: Path) -> None:
    products, source = write(tmp_path, [item("a", "hello")])
    products.write_text('{"products": [{"name": "NoKind"}]}')
    code, _, stderr = run("--products", str(products), str(source))
    assert code == 1 and "kind" in stderr
    products.write_text(json.dumps(PRODUCTS))
    code, _, stderr = run("--products", str(products), str(tmp_path / "missing.jsonl"))
    assert code == 1 and "cannot read" in stderr

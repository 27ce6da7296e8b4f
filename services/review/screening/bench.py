"""Screening throughput for `make bench`: the engine against presidio's default recognizers.

    python -m services.review.screening.bench [--corpus DIR] [--texts N]

Each side runs in its own process (so peak RSS is its own): load, warm up, then screen N texts of
500 characters built from the corpus texts, timing each. Prints texts/s, p50/p95 ms per text and
peak RSS for both, and engine/presidio ratios.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer

DEFAULT_CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"

TEXT_CHARS = 500
P95_TARGET_MS = 50.0


def texts_of(corpus: Path, count: int) -> list[tuple[str, str]]:
    """`count` (kind, text) pairs of exactly TEXT_CHARS characters, cycling through the corpus."""
    with (corpus / "screening-dev.jsonl").open() as lines:
        items = [json.loads(line) for line in lines if line.strip()]
    texts: list[tuple[str, str]] = []
    i = 0
    while len(texts) < count:
        kind = str(items[i % len(items)].get("kind", "post"))
        parts: list[str] = []
        while len(" ".join(parts)) < TEXT_CHARS:
            parts.append(items[i % len(items)]["text"])
            i += 1
        texts.append((kind, " ".join(parts)[:TEXT_CHARS]))
    return texts


def measure(side: str, corpus: Path, count: int) -> dict[str, Any]:
    started = time.perf_counter()
    if side == "engine":
        from services.review.config import DEFAULT_POLICY_FILE
        from services.review.policy import load_policy_file
        from services.review.screening.catalog import load_catalog_file
        from services.review.screening.engine import Screener

        screener = Screener(
            load_policy_file(DEFAULT_POLICY_FILE), catalog=load_catalog_file(corpus / "products-dev.json")
        )

        def run(kind: str, text: str) -> None:
            screener.screen(text, kind=kind)
    else:
        from services.review.screening.offline import presidio_defaults

        analyzer = presidio_defaults()

        def run(kind: str, text: str) -> None:
            analyzer.analyze(text=text, language="en")

    load_seconds = time.perf_counter() - started
    texts = texts_of(corpus, count)
    for kind, text in texts[:20]:
        run(kind, text)
    timings: list[float] = []
    begin = time.perf_counter()
    for kind, text in texts:
        t0 = time.perf_counter()
        run(kind, text)
        timings.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - begin
    quantiles = statistics.quantiles(timings, n=100)
    return {
        "side": side,
        "texts": len(texts),
        "load_s": round(load_seconds, 2),
        "texts_per_s": round(len(texts) / elapsed, 1),
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(quantiles[94], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def render(engine: dict[str, Any], presidio: dict[str, Any]) -> str:
    rows = [
        ("texts/s", "texts_per_s"),
        ("p50 ms / 500 chars", "p50_ms"),
        ("p95 ms / 500 chars", "p95_ms"),
        ("peak RSS MB", "peak_rss_mb"),
        ("build s (after import)", "load_s"),
    ]
    lines = [
        f"Screening bench: {engine['texts']} texts of {TEXT_CHARS} characters",
        f"{'':<24}{'engine':>10}{'presidio':>10}{'ratio':>8}",
    ]
    for label, key in rows:
        ratio = engine[key] / presidio[key] if presidio[key] else float("nan")
        lines.append(f"{label:<24}{engine[key]:>10}{presidio[key]:>10}{ratio:>8.2f}")
    verdict = "met" if engine["p95_ms"] < P95_TARGET_MS else "NOT met"
    lines.append(f"p95 target < {P95_TARGET_MS:.0f} ms: {verdict}")
    return "\n".join(lines)


def main(
    corpus: Path = typer.Option(
        DEFAULT_CORPUS, help="Directory with screening-dev.jsonl and products-dev.json"
    ),
    texts: int = typer.Option(500, min=20, help="How many 500-character texts each side screens"),
    side: str = typer.Option("", hidden=True),
) -> None:
    if not (corpus / "screening-dev.jsonl").exists():
        typer.echo(f"no corpus at {corpus} (expected screening-dev.jsonl there)", err=True)
        raise typer.Exit(2)
    if side:
        typer.echo(json.dumps(measure(side, corpus, texts)))
        return
    results = {}
    for name in ("engine", "presidio"):
        command = [sys.executable, "-m", __spec__.name if __spec__ else "services.review.screening.bench"]
        command += ["--corpus", str(corpus), "--texts", str(texts), "--side", name]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    typer.echo(render(results["engine"], results["presidio"]))


if __name__ == "__main__":
    typer.run(main)

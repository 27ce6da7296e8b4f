"""`clearpost screen`: batch screening of a JSONL file with the same engine the review service uses;
`clearpost screen feedback export`: reviewers' marks as labeled examples (feedback_export.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from typer import _click  # typer 0.29 vendors click: its Context, not the click package's
from typer.core import TyperGroup

from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import PolicyError, load_policy_file
from services.review.screening.catalog import CatalogError, load_catalog_file

if TYPE_CHECKING:
    from services.review.screening.engine import Screener

app = typer.Typer(help="Review service commands.", no_args_is_help=True)

EXIT_BAD_LINES = 2


@app.callback()
def review() -> None:
    """Review service commands (screening)."""


class BadLine(ValueError):
    pass


def _item(raw: str) -> dict[str, Any]:
    try:
        item = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(item, dict):
        raise BadLine("expected a JSON object")
    if not isinstance(item.get("text"), str) or not item["text"].strip():
        raise BadLine('"text" must be a non-empty string')
    kind = item.get("kind", "post")
    from services.review.screening.engine import KINDS  # the engine loads its lexicons: only when screening

    if kind not in KINDS:
        raise BadLine(f'"kind" must be one of {", ".join(KINDS)}; got {kind!r}')
    context = item.get("context") or {}
    if not isinstance(context, dict):
        raise BadLine('"context" must be an object')
    consent = context.get("consent_on_file", False)
    if not isinstance(consent, bool):
        raise BadLine('"context.consent_on_file" must be true or false')
    return item


def screen_lines(
    screener: Screener, lines: TextIO, out: TextIO, advance: Callable[[], None] | None = None
) -> int:
    """Screen every line; write one output line per input line. Returns how many lines were bad.
    `advance` is called after each line (the progress bar)."""
    bad = 0
    for number, raw in enumerate(lines, start=1):
        if advance is not None:
            advance()
        if not raw.strip():
            continue
        try:
            item = _item(raw)
        except BadLine as exc:
            bad += 1
            out.write(json.dumps({"line": number, "error": str(exc)}) + "\n")
            continue
        context = item.get("context") or {}
        outcome = screener.screen(
            item["text"],
            consent_on_file=bool(context.get("consent_on_file", False)),
            patient_content=bool(context.get("patient_content", False)),
            kind=item.get("kind", "post"),
        )
        record = {
            "id": item.get("id"),
            "flag": bool(outcome.findings),
            "categories": outcome.categories,
            "findings": [f.as_dict() for f in outcome.findings],
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return bad


class ScreenCommands(TyperGroup):
    """`clearpost screen [OPTIONS] INPUT.jsonl` screens a file, as it always has (and `--help` is its
    help); a first argument that names a sub-command (`feedback`) runs that instead. A file named like
    one is given as `./feedback`."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = [SCREEN_FILE, *args]
        return super().parse_args(ctx, args)


SCREEN_FILE = "file"
screen_app = typer.Typer(
    cls=ScreenCommands,
    help="Screen a JSONL file (`clearpost screen [OPTIONS] INPUT.jsonl`), or work with reviewers' feedback.",
)
feedback_app = typer.Typer(help="Reviewers' marks on screenings (the review database).", no_args_is_help=True)
screen_app.add_typer(feedback_app, name="feedback")
app.add_typer(screen_app, name="screen")


@feedback_app.command("export")
def export_feedback(
    out: Path | None = typer.Option(None, "--out", metavar="FILE", help="Write here instead of stdout"),
) -> None:
    """Write every reviewer's marks as labeled examples in the corpus schema (id, kind, text, context,
    expect, why), one version a line, from the review database the review service's settings name."""
    from services.review.config import get_settings
    from services.review.feedback_export import read_feedback, write_examples

    settings = get_settings()
    try:
        feedback = asyncio.run(read_feedback(settings.database_url, settings.database_schema))
    except Exception as exc:  # any database problem ends the command with its message
        typer.echo(f"clearpost screen feedback export: cannot read the review database: {exc}", err=True)
        raise typer.Exit(1) from exc
    if out is None:
        count = write_examples(feedback.examples, sys.stdout)
    else:
        try:
            with out.open("w", encoding="utf-8") as target:
                count = write_examples(feedback.examples, target)
        except OSError as exc:
            typer.echo(f"clearpost screen feedback export: cannot write {out}: {exc.strerror}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"clearpost screen feedback export: {count} labeled example(s)", err=True)


@screen_app.command(SCREEN_FILE, hidden=True)
def screen(
    input_file: Path = typer.Argument(
        ..., metavar="INPUT.jsonl", help="One JSON object a line: id, kind, text, context"
    ),
    products: Path = typer.Option(..., "--products", metavar="CATALOG.json", help='{"products": [...]}'),
    policy: Path = typer.Option(
        DEFAULT_POLICY_FILE, "--policy", metavar="POLICY.yaml", help="Approval policy"
    ),
) -> None:
    """Screen each input line and write `{"id", "flag", "categories", "findings"}` lines to stdout.

    A bad line gets `{"line": N, "error": "..."}` and the run goes on; exit 0 when every line was
    read, 2 when any was bad, 1 when the products, policy or input file cannot be used.

    Reviewers' marks as labeled examples: `clearpost screen feedback export [--out FILE]`.
    """
    try:
        loaded = load_policy_file(policy)
        catalog = load_catalog_file(products)
    except (PolicyError, CatalogError) as exc:
        typer.echo(f"clearpost screen: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        lines = input_file.open(encoding="utf-8")
    except OSError as exc:
        typer.echo(f"clearpost screen: cannot read {input_file}: {exc.strerror}", err=True)
        raise typer.Exit(1) from exc
    with lines:
        from services.review.screening.engine import Screener

        screener = Screener(loaded, catalog=catalog)
        if sys.stderr.isatty():  # a person watching: how far the file is (never in a pipe's log)
            with input_file.open(encoding="utf-8") as counting:
                total = sum(1 for _ in counting)
            columns = (TextColumn("screening"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task("screening", total=total)
                bad = screen_lines(screener, lines, sys.stdout, lambda: progress.advance(task))
        else:
            bad = screen_lines(screener, lines, sys.stdout)
    if bad:
        typer.echo(f"clearpost screen: {bad} bad line(s); see the error lines in the output", err=True)
        raise typer.Exit(EXIT_BAD_LINES)

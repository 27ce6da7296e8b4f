"""`clearpost login`, `clearpost drafts ...`, `clearpost reviews queue`: the public API for staff who
script their work, against a running gateway (CLEARPOST_GATEWAY_URL or `--gateway`).

`login` keeps the access token in a file only its owner reads (mode 0600):
`$XDG_CONFIG_HOME/clearpost/token` (else `~/.config/clearpost/token`), or `--token-file`. Every
other command sends it. A refused request ends the command with the API's reason on stderr and exit
code 1 (401: sign in again); the command's answer alone goes to stdout, so it can be piped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from services.kit.settings import KitSettings

NOT_SIGNED_IN = "not signed in or token expired: run clearpost login"
TIMEOUT_SECONDS = 30.0

drafts_app = typer.Typer(help="Write, submit and follow drafts.", no_args_is_help=True)
reviews_app = typer.Typer(help="Review tasks.", no_args_is_help=True)

GatewayOption = Annotated[
    str | None,
    typer.Option("--gateway", metavar="URL", help="the gateway (default: CLEARPOST_GATEWAY_URL)"),
]
TokenFileOption = Annotated[
    Path | None,
    typer.Option("--token-file", metavar="FILE", help="where the token is kept (default: config dir)"),
]


def default_token_file() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "clearpost" / "token"


class Failed(Exception):
    """What to tell the user on stderr before exiting with 1."""


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # validation problems: where and what
        return "; ".join(
            f"{'.'.join(str(p) for p in problem.get('loc', [])[1:])}: {problem.get('msg', '')}"
            for problem in detail
            if isinstance(problem, dict)
        )
    return str(detail) if detail else response.reason_phrase


class GatewayApi:
    """The public API over one httpx client; every refusal becomes a `Failed` with the reason."""

    def __init__(self, base_url: str, token: str | None, transport: httpx.BaseTransport | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=TIMEOUT_SECONDS, transport=transport
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Failed(f"cannot reach the gateway at {self.base_url}: {exc}") from exc
        if response.status_code == 401:
            raise Failed(NOT_SIGNED_IN if "Authorization" in self._http.headers else _reason(response))
        if response.status_code >= 400:
            raise Failed(f"{response.status_code}: {_reason(response)}")
        return response.json()

    def close(self) -> None:
        self._http.close()


def _gateway(
    ctx: typer.Context, gateway: str | None, token_file: Path | None, *, signed_in: bool = True
) -> GatewayApi:
    """The API for this command; `ctx.obj` may hold an httpx transport (tests: the apps in process)."""
    token = None
    if signed_in:
        path = token_file or default_token_file()
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise Failed(NOT_SIGNED_IN) from exc
    transport = ctx.obj if isinstance(ctx.obj, httpx.BaseTransport) else None
    return GatewayApi(gateway or KitSettings().gateway_url, token, transport)


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except Failed as exc:
        typer.echo(f"clearpost: {exc}", err=True)
        raise typer.Exit(1) from exc


def write_token(path: Path, token: str) -> None:
    """Replace `path` with `token`, readable by its owner only, never for a moment by anyone else."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def login(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Option("--username", "-u", help="prompted when not given")] = None,
    gateway: GatewayOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """Sign in; the password is prompted (or read from stdin when it is not a terminal)."""

    def act() -> None:
        name = username or typer.prompt("username")
        password = typer.prompt("password", hide_input=True) if sys.stdin.isatty() else sys.stdin.readline()
        api = _gateway(ctx, gateway, token_file, signed_in=False)
        try:
            answer = api.call(
                "POST", "/api/v1/auth/token", data={"username": name, "password": password.rstrip("\n")}
            )
        finally:
            api.close()
        path = token_file or default_token_file()
        write_token(path, str(answer["access_token"]))
        minutes = int(answer.get("expires_in", 0)) // 60
        typer.echo(f"signed in as {name} (for {minutes} min); token in {path}", err=True)

    _run(act)


@drafts_app.command("create")
def create_draft(
    ctx: typer.Context,
    title: Annotated[str, typer.Option("--title", help="the draft's title")],
    channel: Annotated[list[str], typer.Option("--channel", "-c", help="a channel to post to (repeat)")],
    body: Annotated[str | None, typer.Option("--body", help="the text")] = None,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", exists=True, dir_okay=False, help="the text, from a file")
    ] = None,
    patient_content: Annotated[
        bool, typer.Option("--patient-content", help="the post is about a patient")
    ] = False,
    consent_id: Annotated[
        list[str] | None, typer.Option("--consent-id", help="a consent it relies on (repeat)")
    ] = None,
    gateway: GatewayOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """Create a draft; prints its id."""

    def act() -> None:
        if (body is None) == (body_file is None):
            raise Failed("give the text with exactly one of --body or --body-file")
        text = body if body is not None else body_file.read_text(encoding="utf-8") if body_file else ""
        payload = {
            "title": title,
            "body": text,
            "channels": channel,
            "patient_content": patient_content,
            "consent_ids": consent_id or [],
        }
        api = _gateway(ctx, gateway, token_file)
        try:
            draft = api.call("POST", "/api/v1/drafts", json=payload)
        finally:
            api.close()
        typer.echo(draft["id"])

    _run(act)


@drafts_app.command("submit")
def submit_draft(
    ctx: typer.Context,
    draft_id: Annotated[str, typer.Argument(metavar="ID")],
    gateway: GatewayOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """Submit the draft's current version for screening and review; prints its status."""

    def act() -> None:
        api = _gateway(ctx, gateway, token_file)
        try:
            answer = api.call("POST", f"/api/v1/drafts/{draft_id}/submit")
        finally:
            api.close()
        typer.echo(answer.get("status", "submitted"))

    _run(act)


@drafts_app.command("status")
def draft_status(
    ctx: typer.Context,
    draft_id: Annotated[str, typer.Argument(metavar="ID")],
    gateway: GatewayOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """The draft's status, its review stages and each decision."""

    def act() -> None:
        api = _gateway(ctx, gateway, token_file)
        try:
            draft = api.call("GET", f"/api/v1/drafts/{draft_id}")
        finally:
            api.close()
        lines = [f"{draft['id']}  version {draft['version']}  {draft['status']}  {draft['title']}"]
        for stage in draft.get("stages", []):
            lines.append(f"  {stage['stage']}: {stage['status']}")
            for decision in stage.get("decisions", []):
                who = decision.get("decider_name") or decision["decider"]
                reason = f" ({decision['reason']})" if decision.get("reason") else ""
                lines.append(f"    {decision['decision']} by {who} at {decision['at']}{reason}")
        if draft.get("note"):
            lines.append(f"  note: {draft['note']}")
        typer.echo("\n".join(lines))

    _run(act)


@reviews_app.command("queue")
def review_queue(
    ctx: typer.Context,
    gateway: GatewayOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """The review tasks waiting for a stage you may decide, oldest first, as a table."""

    def act() -> None:
        api = _gateway(ctx, gateway, token_file)
        try:
            tasks = api.call("GET", "/api/v1/reviews/queue")["tasks"]
        finally:
            api.close()
        table = Table("draft", "version", "stage", "opened", "findings", "categories", box=None)
        for task in tasks:
            table.add_row(
                task["draft_id"],
                str(task["version"]),
                task["stage"],
                str(task["opened_at"])[:19],
                str(task["finding_count"]),
                ", ".join(task["categories"]),
            )
        Console(file=sys.stdout, width=200, soft_wrap=True).print(table)

    _run(act)


def register(app: typer.Typer) -> None:
    """Add the staff commands to `clearpost`."""
    app.command("login")(login)
    app.add_typer(drafts_app, name="drafts")
    app.add_typer(reviews_app, name="reviews")

"""`clearpost audit ...`: take the trail away (export) and check it without trusting Clearpost.

`verify` and `consistency --proof` need no service at all: only the files and the public key
the auditor pinned (e.g. saved once with `clearpost audit public-key`), never one from the export.
`export`, `public-key`, `tree-head` and `consistency` without `--proof` talk to the gateway with
an access token: `--token` / CLEARPOST_TOKEN, or `--username` (the password is prompted).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from services.audit.offline import ExportReport, verify_export_file
from services.audit.signed_formats import ExportInvalid, TrustedKeys, check_consistency, load_public_keys
from services.audit.signing import KeyRotation, rotate_audit_key
from services.kit.audit_client import operator
from services.kit.clock import utcnow

app = typer.Typer(help="The audit trail: export it, verify an export offline, prove consistency.")
# soft_wrap: never break a path or a hash across lines (the output is read by people and scripts)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


UrlOption = Annotated[
    str | None, typer.Option("--url", help="gateway URL (default: CLEARPOST_GATEWAY_URL or settings)")
]
TokenOption = Annotated[
    str | None, typer.Option("--token", envvar="CLEARPOST_TOKEN", help="access token (auditor or admin)")
]
UserOption = Annotated[
    str | None, typer.Option("--username", "-u", help="sign in as this user; the password is prompted")
]
KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key", exists=True, dir_okay=False, help="the audit public key you trust (PEM, JWK or JWKS)"
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]clearpost audit: {message}[/red]", highlight=False)
    return typer.Exit(code=code)


def _gateway(url: str | None) -> str:
    if url:
        return url.rstrip("/")
    from services.kit.settings import KitSettings

    return KitSettings().gateway_url.rstrip("/")


def _token(base: str, token: str | None, username: str | None) -> str:
    if token:
        return token
    if not username:
        raise _fail("give --token (or CLEARPOST_TOKEN) or --username to sign in", code=2)
    password = typer.prompt(f"password for {username}", hide_input=True)
    try:
        response = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": username, "password": password}, timeout=30
        )
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {base}: {exc}") from exc
    if response.status_code != 200:
        raise _fail(f"sign-in refused ({response.status_code}): {_detail(response)}")
    issued: str = response.json()["access_token"]
    return issued


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]


def _keys(key: Path | None) -> TrustedKeys | None:
    if key is None:
        return None
    try:
        return load_public_keys(key)
    except ValueError as exc:
        raise _fail(str(exc), code=2) from exc


# --- export --------------------------------------------------------------------------------------


async def download_export(
    client: httpx.AsyncClient, params: dict[str, str], output: Path, progress: Progress | None = None
) -> int:
    """Stream GET /api/v1/audit/export into `output`; returns the number of lines written."""
    task = progress.add_task("exporting", total=None) if progress else None
    lines = 0
    partial = output.with_name(output.name + ".part")
    async with client.stream("GET", "/api/v1/audit/export", params=params) as response:
        if response.status_code != 200:
            await response.aread()
            raise _fail(f"export refused ({response.status_code}): {_detail(response)}")
        with partial.open("wb") as fh:
            async for chunk in response.aiter_bytes():
                fh.write(chunk)
                lines += chunk.count(b"\n")
                if progress is not None and task is not None:
                    progress.update(task, completed=lines)
    partial.replace(output)
    return lines


@app.command()
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write", dir_okay=False)],
    url: UrlOption = None,
    token: TokenOption = None,
    username: UserOption = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (verifiable) or csv")] = "jsonl",
    since: Annotated[str | None, typer.Option(help="ISO 8601 time, inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 time, exclusive")] = None,
    draft_id: Annotated[str | None, typer.Option("--draft-id")] = None,
    actor: Annotated[str | None, typer.Option()] = None,
    action: Annotated[str | None, typer.Option()] = None,
    reason: Annotated[str | None, typer.Option(help="why you export (recorded in the trail)")] = None,
) -> None:
    """Download an export (auditor or admin) with a progress bar; the export is an audit event."""
    if fmt not in ("jsonl", "csv"):
        raise _fail("--format must be jsonl or csv", code=2)
    base = _gateway(url)
    bearer = _token(base, token, username)
    params = {
        k: v
        for k, v in {
            "format": fmt,
            "since": since,
            "until": until,
            "draft_id": draft_id,
            "actor": actor,
            "action": action,
            "reason": reason,
        }.items()
        if v
    }

    async def run() -> int:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {bearer}"}, timeout=httpx.Timeout(60, read=600)
        ) as client:
            with Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} lines"),
                TimeElapsedColumn(), console=err, transient=True,
            ) as progress:  # fmt: skip
                return await download_export(client, params, output, progress)

    try:
        lines = asyncio.run(run())
    except httpx.HTTPError as exc:
        raise _fail(f"cannot export from {base}: {exc}") from exc
    out.print(f"wrote {output} ({lines} lines); check it with: clearpost audit verify {output} --key KEY")


@app.command("public-key")
def public_key(
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False)],
    url: UrlOption = None,
) -> None:
    """Save the audit service's public key (JWKS). Do this once, over a channel you trust."""
    base = _gateway(url)
    try:
        response = httpx.get(f"{base}/api/v1/audit/public-key", timeout=30)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {base}: {exc}") from exc
    if response.status_code != 200:
        raise _fail(f"no public key ({response.status_code}): {_detail(response)}")
    output.write_text(json.dumps({"keys": response.json()["keys"]}, indent=2) + "\n")
    kids = ", ".join(k["kid"] for k in response.json()["keys"])
    out.print(f"wrote {output} (key id {kids}); compare the key id with one published out of band")


# --- verify --------------------------------------------------------------------------------------


def _print_report(path: Path, report: ExportReport) -> None:
    flt = {k: v for k, v in report.filter.items() if v}
    out.print(f"[green]OK[/green] {path}", highlight=False)
    out.print(f"  events verified : {report.events}")
    if report.events:
        seqs = f"seq {report.first_seq}..{report.last_seq}"
        out.print(f"  range           : {seqs}, {report.first_at} .. {report.last_at}")
    out.print(f"  filter          : {json.dumps(flt) if flt else 'none (the whole log)'}")
    out.print(f"  tree size       : {report.tree_size} (root {report.root_hash})")
    out.print(f"  signed at       : {report.signed_at} by key {report.key_id}")
    if report.checkpoint_size is not None:
        out.print(f"  extends         : the periodic tree head of {report.checkpoint_size} events")
    if report.authenticity_checked:
        out.print("  authenticity    : signatures checked with the key you gave")
    else:
        out.print(
            "[yellow]  authenticity    : NOT CHECKED - no --key given; this proves the file is"
            " internally consistent, not that the audit service produced it[/yellow]"
        )


@app.command()
def verify(
    export_file: Annotated[Path, typer.Argument(metavar="EXPORT.jsonl", exists=True, dir_okay=False)],
    key: KeyOption = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="processes checking the events in parallel (default: one per CPU)"),
    ] = None,
) -> None:
    """Verify a JSON Lines export offline: every hash, link and inclusion proof, the signed head."""
    keys = _keys(key)
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            console=err, transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("verifying", total=export_file.stat().st_size)
            report = verify_export_file(
                export_file,
                keys,
                workers=workers,
                on_progress=lambda done: progress.update(task, completed=done),
            )
    except ExportInvalid as exc:
        raise _fail(f"FAILED {export_file}: {exc}") from exc
    except OSError as exc:
        raise _fail(f"cannot read {export_file}: {exc}", code=2) from exc
    _print_report(export_file, report)


# --- consistency ---------------------------------------------------------------------------------


def _head_from(path: Path) -> dict[str, Any]:
    """A tree head from a head document (GET /api/v1/audit/tree-head) or an export's header line."""
    try:
        with path.open("rb") as fh:
            first = json.loads(fh.readline())
    except (OSError, ValueError) as exc:
        raise _fail(f"{path}: not a tree head or export ({exc})", code=2) from exc
    head = first.get("tree_head") if isinstance(first, dict) and first.get("type") == "header" else first
    if not isinstance(head, dict) or "tree_size" not in head:
        raise _fail(f"{path}: holds no tree head", code=2)
    return head


@app.command("tree-head")
def tree_head(
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False)],
    url: UrlOption = None,
    token: TokenOption = None,
    username: UserOption = None,
) -> None:
    """Save a tree head signed now (auditor or admin), to prove later that nothing before it changed."""
    base = _gateway(url)
    bearer = _token(base, token, username)
    response = httpx.get(
        f"{base}/api/v1/audit/tree-head", headers={"Authorization": f"Bearer {bearer}"}, timeout=30
    )
    if response.status_code != 200:
        raise _fail(f"no tree head ({response.status_code}): {_detail(response)}")
    output.write_text(json.dumps(response.json(), indent=2) + "\n")
    out.print(f"wrote {output}: {response.json()['tree_size']} events at {response.json()['timestamp']}")


@app.command()
def consistency(
    old_head: Annotated[Path, typer.Argument(metavar="OLD_HEAD", exists=True, dir_okay=False)],
    new_head: Annotated[Path, typer.Argument(metavar="NEW_HEAD", exists=True, dir_okay=False)],
    key: KeyOption = None,
    proof_file: Annotated[
        Path | None,
        typer.Option("--proof", exists=True, dir_okay=False, help="saved proof (else fetched from --url)"),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    username: UserOption = None,
) -> None:
    """Prove the tree of NEW_HEAD extends the tree of OLD_HEAD (heads or exports): nothing rewritten."""
    keys = _keys(key)
    old, new = _head_from(old_head), _head_from(new_head)
    proof: Any = []
    if proof_file is not None:
        proof = json.loads(proof_file.read_text()).get("proof")
    elif 0 < old.get("tree_size", 0) < new.get("tree_size", 0):
        base = _gateway(url)
        bearer = _token(base, token, username)
        response = httpx.get(
            f"{base}/api/v1/audit/consistency",
            params={"first": old["tree_size"], "second": new["tree_size"]},
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=30,
        )
        if response.status_code != 200:
            raise _fail(f"no consistency proof ({response.status_code}): {_detail(response)}")
        proof = response.json()["proof"]
    try:
        check_consistency(old, new, proof, keys)
    except ExportInvalid as exc:
        raise _fail(f"FAILED: {exc}") from exc
    out.print(
        f"[green]OK[/green] the tree of {new['tree_size']} events (signed {new['timestamp']}) extends the"
        f" tree of {old['tree_size']} events (signed {old['timestamp']}): nothing before it was changed",
        highlight=False,
    )
    if keys is None:
        out.print("[yellow]authenticity NOT CHECKED - no --key given[/yellow]")


# --- key rotation (`clearpost keys rotate audit`) ---------------------------------------------------


def rotate_signing_key(keys_dir: Path) -> tuple[str, str, str]:
    """Rotate the audit service's Ed25519 key; returns (retired kid, new kid, what became of its
    audit event)."""
    rotation = rotate_audit_key(keys_dir, actor=operator(), at=utcnow())
    return rotation.retired_key_id, rotation.key_id, record_rotation(rotation)


def record_rotation(rotation: KeyRotation) -> str:
    """Append a key rotation's audit event through the audit service's internal route; when the
    service does not answer, the event waits beside the keys and the audit service records it when
    it next starts. Says which happened."""
    return record_key_event(rotation.pending, what="rotation")


def record_key_event(pending: Path, *, what: str) -> str:
    """Append the signing-key event waiting in `pending` (a rotation or a revocation), as above."""
    from services.kit.auth import INTERNAL_HEADER, load_internal_token
    from services.kit.settings import KitSettings

    later = f"the audit service records the {what} when it next starts"
    settings = KitSettings()
    content = pending.read_bytes()
    # Sent with the credential of the service whose key it was: the audit service records the
    # event's service from who called.
    service = str(json.loads(content)["service"])
    try:
        response = httpx.post(
            f"{settings.service_url('audit')}/internal/v1/events",
            content=content,
            headers={
                "Content-Type": "application/json",
                INTERNAL_HEADER: load_internal_token(settings, service),
            },
            timeout=10,
        )
    except httpx.HTTPError as exc:
        return f"the audit service did not answer ({exc}); {later}"
    if response.status_code not in (200, 201):
        return f"the audit service refused the event ({response.status_code}: {_detail(response)}); {later}"
    pending.unlink(missing_ok=True)
    return f"the {what} is in the audit log (event seq {response.json().get('seq')})"


def main() -> None:  # pragma: no cover - `python -m services.audit.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("COLUMNS", "120")
    main()

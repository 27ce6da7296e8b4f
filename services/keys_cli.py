"""`clearpost keys rotate SERVICE`: rotate the key a service signs with.

Mounted into services/cli.py as the `keys` group; it reaches each service's key ring through that
service's own key code (services/kit/tokens.py for the ES256 rings of the gateway and the review
service, services/audit for the audit service's Ed25519 ring), the way `clearpost serve` reaches
each service. The retired key's private half is deleted; its public half stays published (the
gateway's JWKS, the review service's /api/v1/reviews/keys, the audit service's
/api/v1/audit/public-key), so tokens it signed keep working until they expire and signed
decisions, tree heads and exports keep verifying. Restart the service to sign with the new key.
Every ring has the same file layout (services/kit/keyfiles.py), and every rotation is an audit
event (`<service>.signing_key_rotated`): appended at once when the audit service answers, else
when it next starts (services/audit/signing.py).

`clearpost keys revoke SERVICE KID --reason ...` is for a key that leaked: the key stops being
published at all, so nothing it ever signed verifies (tokens, requirements, approvals, heads),
within a minute in the running services; revoking the current key rotates first. Drafts whose
approvals it signed are refused by the publisher and need new signatures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from services.audit.cli import record_key_event, record_rotation
from services.audit.cli import rotate_signing_key as rotate_audit_signing_key
from services.audit.signing import (
    audit_key_files,
    load_audit_key_ring,
    record_revocation_pending,
    record_rotation_pending,
)
from services.cluster_secrets import BootstrapRefused
from services.cluster_secrets import bootstrap as bootstrap_secrets
from services.kit.audit_client import operator
from services.kit.clock import utcnow
from services.kit.keyfiles import KeyRingFiles
from services.kit.settings import KitSettings
from services.kit.tokens import load_key_ring, rotate_signing_key


def _rotate_es256(service: str, ring: str) -> Callable[[Path], tuple[str, str, str]]:
    def rotate_ring(keys_dir: Path) -> tuple[str, str, str]:
        retired, current = rotate_signing_key(keys_dir, ring)
        rotation = record_rotation_pending(
            keys_dir,
            ring=ring,
            service=service,
            retired=retired,
            current=current,
            actor=operator(),
            at=utcnow(),
        )
        return retired, current, record_rotation(rotation)

    return rotate_ring


# Service -> rotate the key ring it signs with (files under var/keys/): (retired kid, new kid, a
# note for the operator).
SIGNING_KEYS: dict[str, Callable[[Path], tuple[str, str, str]]] = {
    "gateway": _rotate_es256("gateway", "gateway-signing"),
    "review": _rotate_es256("review", "review-signing"),
    "audit": rotate_audit_signing_key,
}

keys_app = typer.Typer(help="Signing keys under var/keys/.", no_args_is_help=True)


@keys_app.callback()
def keys() -> None:
    """Signing keys under var/keys/ (a group, so `keys rotate` keeps its name)."""


@keys_app.command()
def rotate(
    service: Annotated[str, typer.Argument(help=f"one of {', '.join(SIGNING_KEYS)}")],
) -> None:
    """Retire SERVICE's current signing key (its public key stays published) and create a new one."""
    rotate_ring = SIGNING_KEYS.get(service)
    if rotate_ring is None:
        typer.secho(
            f"clearpost: no signing key to rotate for {service!r}; choose from {', '.join(SIGNING_KEYS)}",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=2)
    settings = KitSettings()
    try:
        retired, current, note = rotate_ring(settings.service_keys_dir(service))
    except FileNotFoundError as exc:
        typer.secho(f"clearpost: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    except ValueError as exc:  # the key file holds something else; nothing was changed
        typer.secho(f"clearpost: {service}: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"{service}: retired key {retired} (still published), now signing with {current}")
    typer.echo(f"restart the {service} service to sign with the new key")
    if note:
        typer.echo(note)


# Service -> its ring's files and the key id it signs with now.
RINGS: dict[str, tuple[Callable[[Path], KeyRingFiles], Callable[[Path], str]]] = {
    "gateway": (
        lambda d: KeyRingFiles(d, "gateway-signing"),
        lambda d: load_key_ring(d, "gateway-signing").current.kid,
    ),
    "review": (
        lambda d: KeyRingFiles(d, "review-signing"),
        lambda d: load_key_ring(d, "review-signing").current.kid,
    ),
    "audit": (audit_key_files, lambda d: load_audit_key_ring(d).current.key_id),
}


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"clearpost: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=code)


@keys_app.command()
def revoke(
    service: Annotated[str, typer.Argument(help=f"one of {', '.join(RINGS)}")],
    kid: Annotated[str, typer.Argument(help="the key id to revoke (the current one is rotated out first)")],
    reason: Annotated[str, typer.Option(help="why (recorded in the audit trail)")] = "",
) -> None:
    """Revoke a signing key outright: it is no longer published, and nothing it signed verifies."""
    if service not in RINGS:
        raise _fail(f"no signing key to revoke for {service!r}; choose from {', '.join(RINGS)}", 2)
    if not reason.strip():
        raise _fail("a revocation needs --reason", 2)
    files_of, current_of = RINGS[service]
    keys_dir = KitSettings().service_keys_dir(service)
    files = files_of(keys_dir)
    try:
        if current_of(keys_dir) == kid:
            retired, current, note = SIGNING_KEYS[service](keys_dir)
            typer.echo(f"{service}: rotated out the current key {retired}, now signing with {current}")
            typer.echo(note)
        files.revoke(kid, reason=reason)
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    pending = record_revocation_pending(
        keys_dir,
        ring=files.name,
        service=service,
        revoked=kid,
        reason=reason,
        actor=operator(),
        at=utcnow(),
    )
    typer.echo(f"{service}: revoked key {kid}; nothing it signed verifies any more")
    typer.echo(f"restart the {service} service if it was signing with {kid}")
    typer.echo(record_key_event(pending, what="revocation"))


@keys_app.command()
def bootstrap(
    out: Annotated[Path, typer.Argument(help="an empty or missing folder to write every secret into")],
    database_url: Annotated[
        str | None,
        typer.Option(help="also write CLEARPOST_DATABASE_URL (one PostgreSQL server, a schema per service)"),
    ] = None,
) -> None:
    """Every secret a multi-host install needs (compose, Kubernetes), as files: OUT/shared/,
    OUT/<service>/settings/, OUT/<service>/keys/ (docs/deploy.md)."""
    try:
        written = bootstrap_secrets(out, database_url=database_url)
    except BootstrapRefused as exc:
        raise _fail(str(exc)) from exc
    for folder in written:
        typer.echo(f"wrote {folder}/ ({len(list(folder.iterdir()))} files)")
    typer.echo("keep this folder secret; docs/deploy.md says how each process gets its part")

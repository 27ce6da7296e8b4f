"""`clearpost keys rotate SERVICE`: retire a signing key and start signing with a new one.

Mounted into services/cli.py with `app.add_typer(gateway_cli.keys_app, name="keys")`.
The retired key's private half is deleted; its public half stays published (the gateway's JWKS,
the review service's /api/v1/reviews/keys), so tokens it signed keep working until they expire
and signed decisions keep verifying. Restart the service to start signing with the new key.
The audit service's Ed25519 head key is rotated by its own command (services/audit).
"""

from __future__ import annotations

from typing import Annotated

import typer

from services.kit.settings import KitSettings
from services.kit.tokens import rotate_signing_key

# Service -> the key ring it signs with (files under var/keys/).
SIGNING_KEYS = {"gateway": "gateway-signing", "review": "review-signing"}

keys_app = typer.Typer(help="Signing keys under var/keys/.", no_args_is_help=True)


@keys_app.callback()
def keys() -> None:
    """Signing keys under var/keys/ (a group, so `keys rotate` keeps its name)."""


@keys_app.command()
def rotate(
    service: Annotated[str, typer.Argument(help=f"one of {', '.join(SIGNING_KEYS)}")],
) -> None:
    """Retire SERVICE's current signing key (its public key stays published) and create a new one."""
    name = SIGNING_KEYS.get(service)
    if name is None:
        typer.secho(
            f"clearpost: no signing key to rotate for {service!r}; choose from {', '.join(SIGNING_KEYS)}",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=2)
    settings = KitSettings()
    try:
        retired, current = rotate_signing_key(settings.keys_dir, name)
    except FileNotFoundError as exc:
        typer.secho(f"clearpost: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"{service}: retired key {retired} (still published), now signing with {current}")
    typer.echo(f"restart the {service} service to sign with the new key")

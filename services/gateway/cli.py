"""`clearpost users`: what an operator does to the gateway's users from a shell (the first admin)."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from services.gateway.config import get_settings
from services.gateway.first_admin import create_admin
from services.gateway.schemas import UserCreate
from services.kit.errors import ClearpostError

users_app = typer.Typer(help="The gateway's users, from a shell.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"clearpost: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=code)


@users_app.command("create-admin")
def create_admin_command(
    username: Annotated[str, typer.Argument(help="the administrator's username")],
    display_name: Annotated[str, typer.Option(help="the name shown for them")] = "Administrator",
) -> None:
    """Create an administrator (the first one of an install); the password is prompted, or read
    from stdin when it is not a terminal. Audited as user.created; nothing is created without it."""
    if sys.stdin.isatty():
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        data = UserCreate(username=username, display_name=display_name, password=password, roles=["admin"])
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise _fail(reasons, 2) from exc
    try:
        user = asyncio.run(create_admin(get_settings(), data))
    except ClearpostError as exc:
        raise _fail(exc.detail) from exc
    typer.echo(f"created admin {user.username} ({user.id})")

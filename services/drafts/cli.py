"""`clearpost consents rekey`: re-seal every consent record with the current consent key.

Run after a rotation (docs/consent.md): the new key in CLEARPOST_CONSENT_KEY, the old one still in
CLEARPOST_CONSENT_PREVIOUS_KEYS. Afterwards nothing needs the old key any more, and a search by
patient reference finds every record again. The audit service must answer: the re-keying is an
audit event, and without it nothing is changed.
"""

from __future__ import annotations

import asyncio

import typer

from services.drafts.config import get_settings
from services.drafts.consents import ConsentService
from services.drafts.sealing import FieldSealer, SealError, load_consent_keys
from services.kit.audit_client import AuditClient, operator
from services.kit.auth import load_internal_token
from services.kit.db import create_engine, create_sessionmaker, session_scope
from services.kit.errors import ClearpostError
from services.kit.http import internal_client

consents_app = typer.Typer(help="Patient consent records (drafts service).", no_args_is_help=True)


@consents_app.callback()
def consents() -> None:
    """Patient consent records (a group, so `consents rekey` keeps its name)."""


async def _rekey() -> tuple[int, str]:
    settings = get_settings()
    sealer = FieldSealer(load_consent_keys(settings, settings.consent_key, settings.consent_previous_keys))
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with internal_client(
            settings.service_url("audit"), load_internal_token(settings, "drafts")
        ) as http:
            service_audit = AuditClient(http, "drafts")
            async with session_scope(create_sessionmaker(engine)) as session:
                count = await ConsentService(session, audit=service_audit, sealer=sealer).rekey(
                    actor=operator()
                )
    finally:
        await engine.dispose()
    return count, sealer.key_id


@consents_app.command()
def rekey() -> None:
    """Re-seal every consent record with the current consent key (after a rotation)."""
    try:
        count, key_id = asyncio.run(_rekey())
    except SealError as exc:
        typer.secho(
            f"clearpost: a consent record does not open with the configured keys ({exc}); "
            "list the key it was sealed with in CLEARPOST_CONSENT_PREVIOUS_KEYS. Nothing was changed.",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=1) from exc
    except (ClearpostError, ValueError) as exc:
        detail = exc.detail if isinstance(exc, ClearpostError) else str(exc)
        typer.secho(f"clearpost: {detail}. Nothing was changed.", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"re-sealed {count} consent record(s) with key {key_id}; the previous keys can be removed")

"""Meta's webhook push for Page comments: checked, then the account's listener reads at once.

Meta signs each delivery's raw body with the app secret: `X-Hub-Signature-256: sha256=<hex HMAC>`
(developers.facebook.com/docs/graph-api/webhooks/getting-started). A delivery without the header
is a 400, one whose signature does not match a 403 (a deployment without the facebook app secret
answers 404), and nothing is read from any of them. A valid one
carries no comment text we trust: it only names the Pages (`entry[].id`) with new feed comments,
and the comments themselves are read through the adapter from the stored cursor as any poll does,
so a push can never add, skip or change a comment. Subscribing (`GET`, `hub.challenge`) needs
the verify token this deployment set (CLEARPOST_PUBLISHER_META_WEBHOOK_VERIFY_TOKEN)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.errors import ClearpostError, Forbidden, NotFound
from services.publisher.repository import AccountRepository

SIGNATURE_HEADER = "X-Hub-Signature-256"
META_NETWORKS = ("facebook", "instagram")


class BadDelivery(ClearpostError):
    status_code = 400
    code = "bad_delivery"


def check_signature(app_secret: str | None, body: bytes, header: str | None) -> None:
    if not app_secret:
        raise NotFound("no Meta app secret is configured here: this deployment takes no Meta pushes")
    if not header or not header.startswith("sha256="):
        raise BadDelivery(f"the {SIGNATURE_HEADER} header is missing", code="signature_missing")
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower()):
        raise Forbidden("the delivery's signature does not match", code="signature_mismatch")


def pushed_objects(body: bytes) -> set[str]:
    """The Pages (or Instagram accounts) a delivery says have new comments."""
    try:
        document: Any = json.loads(body)
    except ValueError as exc:
        raise BadDelivery("the delivery is not JSON") from exc
    entries = document.get("entry") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise BadDelivery("the delivery has no entry list")
    named: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("id"):
            continue
        changes = entry.get("changes")
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            field = change.get("field") if isinstance(change, dict) else None
            item = value.get("item") if isinstance(value, dict) else None
            if (field == "feed" and item == "comment") or field == "comments":
                named.add(str(entry["id"]))
    return named


async def accounts_for(session: AsyncSession, refs: Sequence[str]) -> list[str]:
    """The connected Meta accounts posting as these Pages or Instagram accounts."""
    wanted = set(refs)
    return [
        account.name
        for account in await AccountRepository(session).list()
        if account.network in META_NETWORKS
        and account.disconnected_at is None
        and account.account_ref in wanted
    ]

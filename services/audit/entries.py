"""An audit event as the chain holds it: the fields that are hashed, in which form, and the hash."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import orjson

from services.audit.models import AuditEvent
from services.audit.schemas import AuditEventIn, AuditEventOut
from services.kit.canonical import canonical_json
from services.kit.errors import Unprocessable

# Hashed only when set, in this order of meaning: who, why, from where, what.
OPTIONAL_FIELDS = (
    "actor_name",
    "actor_roles",
    "reason",
    "service",
    "request_id",
    "trace_id",
    "content_hash",
    "before",
    "after",
)


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def hashed_entry(
    *,
    seq: int,
    at: str,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    idempotency_key: str,
    prev_hash: str,
    **optional: Any,
) -> dict[str, Any]:
    """The fields an event's hash (and its Merkle leaf) covers; optional ones only when set."""
    entry: dict[str, Any] = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "idempotency_key": idempotency_key,
        "prev_hash": prev_hash,
    }
    for name in OPTIONAL_FIELDS:
        value = optional.get(name)
        if value is not None:
            entry[name] = value
    return entry


def event_hash(**fields: Any) -> str:
    return hashlib.sha256(canonical_json(hashed_entry(**fields))).hexdigest()


def entry_of(event: AuditEvent) -> dict[str, Any]:
    return hashed_entry(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        subject=event.subject,
        details=event.details,
        idempotency_key=event.idempotency_key,
        prev_hash=event.prev_hash,
        **{name: getattr(event, name) for name in OPTIONAL_FIELDS},
    )


def entry_bytes(event: AuditEvent) -> bytes:
    """The exact bytes hashed: RFC 8785 canonical JSON of the entry."""
    return canonical_json(entry_of(event))


def hashed_bytes(event: AuditEvent) -> bytes:
    """The bytes the stored hash covers, fast: orjson with sorted keys is RFC 8785 for the usual
    entry (no floats, BMP keys), and when its bytes hash to the stored hash they are, by SHA-256,
    the very bytes that were hashed. Otherwise (or after tampering) the RFC 8785 bytes."""
    fast = orjson.dumps(entry_of(event), option=orjson.OPT_SORT_KEYS)
    if hashlib.sha256(fast).hexdigest() == event.hash:
        return fast
    return entry_bytes(event)


def stored_event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(entry_bytes(event)).hexdigest()


def canonical_value(value: Any, what: str) -> Any:
    """`value` exactly as JSON storage will give it back, so the hash survives the round trip."""
    try:
        return json.loads(canonical_json(value))
    except (ValueError, TypeError) as exc:  # rfc8785.CanonicalizationError is a ValueError
        raise Unprocessable(f"{what} must be plain JSON: {exc}") from exc


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _roles(value: Any) -> list[str] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return sorted(value)
    return None


def lifted_fields(entry: AuditEventIn, details: dict[str, Any]) -> dict[str, Any]:
    """Explicit who/why/where fields, else the well-known keys producers already put in details."""
    content_hash = entry.content_hash or _text(details.get("content_hash"))
    return {
        "actor_name": entry.actor_name
        or _text(details.get("actor_name"))
        or _text(details.get("decider_name")),
        "actor_roles": _roles(entry.actor_roles)
        or _roles(details.get("actor_roles"))
        or _roles(details.get("decider_roles")),
        "reason": _text(entry.reason) or _text(details.get("reason")),
        "service": entry.service or _text(details.get("service")),
        "request_id": entry.request_id,
        "trace_id": entry.trace_id,
        "content_hash": content_hash if content_hash and _HEX64.match(content_hash) else None,
        "before": canonical_value(entry.before, "before") if entry.before is not None else None,
        "after": canonical_value(entry.after, "after") if entry.after is not None else None,
    }


def to_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        subject=event.subject,
        draft_id=event.draft_id,
        details=event.details,
        idempotency_key=event.idempotency_key,
        prev_hash=event.prev_hash,
        hash=event.hash,
        **{name: getattr(event, name) for name in OPTIONAL_FIELDS},
    )

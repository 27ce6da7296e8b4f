"""What every reader of the hash chain agrees on, with no database behind it: the service that
writes it (service.py), its models and the offline verifier (offline.py)."""

from __future__ import annotations

# The prev_hash of the first event.
GENESIS_HASH = "0" * 64
DRAFT_SUBJECT_PREFIX = "draft:"


def draft_id_from_subject(subject: str) -> str | None:
    """`draft:<id>` (optionally followed by `:<more>`) names a draft; anything else does not."""
    if not subject.startswith(DRAFT_SUBJECT_PREFIX):
        return None
    return subject[len(DRAFT_SUBJECT_PREFIX) :].split(":", 1)[0] or None

"""Helpers the publisher tests share: a fake drafts service and the sandbox outbox reader.

The database comes from the `database("publisher")` fixture (tests/database.py).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.kit.auth import StaticKeySet
from services.kit.canonical import content_hash
from services.kit.errors import NotFound
from services.kit.tokens import DECISION_TYPE, REQUIREMENT_TYPE, load_or_create_signing_key, sign_record
from services.publisher.approvals import ApprovalGate
from services.publisher.crisis import CrisisPublisherActivities
from services.publisher.schemas import ConsentVerdict, DraftReaders, VersionContent
from tests.database import DatabaseTarget
from tests.unit.recording_audit import RecordingAudit
from workflows.contracts import PublishRequest, TakedownRequest
from workflows.signatures import (
    MEANINGS,
    Requirement,
    SignedDecision,
    SignedStage,
    decision_claims,
    requirement_claims,
)

# Stands in for the review service's signing key.
REVIEW_KEY = load_or_create_signing_key(Path(tempfile.mkdtemp()) / "review-signing.pem")
STAGES = (SignedStage("compliance", ("compliance",)), SignedStage("legal", ("legal",)))


def approval_gate(audit: RecordingAudit | None = None) -> ApprovalGate:
    return ApprovalGate(StaticKeySet({REVIEW_KEY.kid: REVIEW_KEY.public_jwk}), audit or RecordingAudit())


def signed_approval(
    draft_id: str, version: int, version_hash: str, stage: str, signer: str, roles: tuple[str, ...]
) -> str:
    decision = SignedDecision(
        draft_id=draft_id, version=version, content_hash=version_hash, stage=stage, decision="approve",
        meaning=MEANINGS["approve"], signer_id=signer, signer_name=signer.title(), signer_roles=roles,
        signer_active=True, signed_at=datetime.now(UTC).isoformat(), reason="",
    )  # fmt: skip
    return sign_record(REVIEW_KEY, decision_claims(decision), typ=DECISION_TYPE)


def signed_request(
    draft_id: str,
    version: int,
    version_hash: str,
    channels: list[str],
    *,
    approvals: list[str] | None = None,
    author_id: str = "author-1",
    stages: tuple[SignedStage, ...] = STAGES,
    lifetime_days: int = 0,
    on_expiry: str = "",
) -> PublishRequest:
    """A publish request carrying a signed requirement and, by default, both stages approved."""
    requirement = Requirement(
        draft_id=draft_id, version=version, content_hash=version_hash, author_id=author_id,
        policy_version="p-test", stages=stages, blocking_unresolved=0,
        signed_at=datetime.now(UTC).isoformat(), categories=("phi",),
        lifetime_days=lifetime_days, on_expiry=on_expiry,
    )  # fmt: skip
    if approvals is None:
        approvals = [
            signed_approval(draft_id, version, version_hash, "compliance", "carol", ("compliance",)),
            signed_approval(draft_id, version, version_hash, "legal", "leo", ("legal",)),
        ]
    return PublishRequest(
        draft_id,
        version,
        version_hash,
        channels,
        requirement=sign_record(REVIEW_KEY, requirement_claims(requirement), typ=REQUIREMENT_TYPE),
        approvals=approvals,
    )


def draft_version(
    draft_id: str = "d-1",
    version: int = 1,
    *,
    title: str = "Flu shots this Saturday",
    body: str = "Walk-in flu vaccinations 9-12 at the Main St clinic.",
    channels: tuple[str, ...] = ("sandbox",),
    media_digests: tuple[str, ...] = (),
    author_id: str = "author-1",
) -> VersionContent:
    media = list(media_digests)
    return VersionContent(
        draft_id=draft_id,
        version=version,
        title=title,
        body=body,
        channels=list(channels),
        media_digests=media,
        content_hash=content_hash(title=title, body=body, channels=list(channels), media_digests=media),
        author_id=author_id,
    )


# The drafts service's roles that read every draft (services/drafts/service.py READER_ROLES).
DRAFT_READER_ROLES = ["legal", "compliance", "medical", "publisher", "auditor", "admin"]


class FakeDrafts:
    """Answers like the drafts service's internal version, consent-check and readers routes, from memory."""

    def __init__(self, *versions: VersionContent) -> None:
        self.versions = {(v.draft_id, v.version): v for v in versions}
        self.media: dict[str, tuple[bytes, str]] = {}
        self.authors: dict[str, str] = {}
        self.calls = 0
        self.consent = ConsentVerdict(ok=True)
        self.consent_asked: list[dict[str, Any]] = []
        # What the publisher reported about live posts (POST /internal/v1/drafts/{id}/live-state).
        self.live_states: list[dict[str, str]] = []

    async def live_state(self, draft_id: str, *, status: str, reason: str, cause: str) -> None:
        self.live_states.append({"draft_id": draft_id, "status": status, "reason": reason, "cause": cause})

    async def consent_check(
        self, draft_id: str, version: int, *, content_hash: str, channels: list[str], categories: list[str]
    ) -> ConsentVerdict:
        self.consent_asked.append(
            {"draft": (draft_id, version, content_hash), "channels": channels, "categories": categories}
        )
        return self.consent

    async def readers(self, draft_id: str) -> DraftReaders:
        if draft_id not in self.authors:
            raise NotFound(f"draft {draft_id} does not exist")
        return DraftReaders(
            draft_id=draft_id, author_id=self.authors[draft_id], reader_roles=DRAFT_READER_ROLES
        )

    async def get_version(self, draft_id: str, version: int) -> VersionContent:
        self.calls += 1
        try:
            return self.versions[(draft_id, version)]
        except KeyError:
            raise NotFound(f"draft {draft_id} has no version {version}") from None

    async def get_media(self, digest: str) -> tuple[bytes, str]:
        if digest not in self.media:
            raise NotFound(f"no image {digest[:12]}")
        return self.media[digest]


def outbox_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, target: DatabaseTarget) -> None:
    """The publisher's settings for an app under test: its var dir, no Temporal, the database."""
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    for name, value in target.settings_env().items():
        monkeypatch.setenv(name, value)


# --- the crisis lane's publisher (test_publisher_crisis.py, test_crisis_templates.py) ---------------


@dataclass
class FakeLiveWorkflows:
    watched: list[str] = field(default_factory=list)
    takedowns: list[tuple[str, TakedownRequest]] = field(default_factory=list)

    async def watch_live_post(self, draft_id: str) -> None:
        self.watched.append(draft_id)

    async def take_down(self, draft_id: str, request: TakedownRequest) -> None:
        self.takedowns.append((draft_id, request))


@dataclass
class CrisisPublisher:
    activities: CrisisPublisherActivities
    audit: RecordingAudit
    drafts: FakeDrafts
    workflows: FakeLiveWorkflows
    outbox: Path

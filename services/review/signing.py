"""The review service's electronic signatures: stage requirements and reviewers' decisions.

Both are JWS records under the review service's own ES256 key (var/keys/review/review-signing.pem,
rotated with `clearpost keys rotate review`); every public key it ever used is published at
GET /api/v1/reviews/keys so past signatures keep verifying.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.kit.tokens import DECISION_TYPE, REQUIREMENT_TYPE, KeyRing, Principal, sign_record
from workflows.contracts import StageRequirement
from workflows.signatures import (
    MEANINGS,
    Requirement,
    SignedDecision,
    SignedStage,
    decision_claims,
    requirement_claims,
)

KEY_NAME = "review-signing"


@dataclass(frozen=True)
class SigningAuthentication:
    """How the signer authenticated for this signature (services/kit/credentials.py)."""

    method: str = "password"
    acr: str | None = None
    amr: tuple[str, ...] = ()
    auth_time: str = ""


class ReviewSigner:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    @property
    def public_keys(self) -> dict[str, dict[str, Any]]:
        return dict(self._ring.published)

    def record(self, claims: dict[str, Any], *, typ: str) -> str:
        """Sign another kind of record under the same key (the crisis lane's, services/review/crisis.py)."""
        return sign_record(self._ring.current, claims, typ=typ)

    def requirement(
        self,
        *,
        draft_id: str,
        version: int,
        content_hash: str,
        author_id: str,
        policy_version: str,
        stages: list[StageRequirement],
        blocking_unresolved: int,
        signed_at: datetime,
        categories: list[str],
        lifetime: tuple[int, str] | None = None,
    ) -> str:
        if not stages:
            raise ValueError("a stage requirement names at least one stage")
        record = Requirement(
            draft_id=draft_id,
            version=version,
            content_hash=content_hash,
            author_id=author_id,
            policy_version=policy_version,
            stages=tuple(SignedStage(s.name, tuple(s.roles), s.quorum) for s in stages),
            blocking_unresolved=blocking_unresolved,
            signed_at=signed_at.isoformat(),
            categories=tuple(sorted(categories)),
            lifetime_days=lifetime[0] if lifetime else 0,
            on_expiry=lifetime[1] if lifetime else "",
        )
        return sign_record(self._ring.current, requirement_claims(record), typ=REQUIREMENT_TYPE)

    def decision(
        self,
        *,
        draft_id: str,
        version: int,
        content_hash: str,
        stage: str,
        decision: str,
        reason: str,
        signer: Principal,
        signed_at: datetime,
        authentication: SigningAuthentication | None = None,
    ) -> str:
        """Sign a decision; call only after the signer re-entered their password or the identity
        provider authenticated them again for it (the gateway refuses inactive users either way, so
        a confirmed signer is active now)."""
        auth = authentication or SigningAuthentication()
        record = SignedDecision(
            draft_id=draft_id,
            version=version,
            content_hash=content_hash,
            stage=stage,
            decision=decision,
            meaning=MEANINGS[decision],
            signer_id=signer.user_id,
            signer_name=signer.name,
            signer_roles=tuple(sorted(signer.roles)),
            signer_active=True,
            signed_at=signed_at.isoformat(),
            reason=reason,
            auth_method=auth.method,
            auth_acr=auth.acr or "",
            auth_amr=tuple(auth.amr),
            auth_time=auth.auth_time,
        )
        return sign_record(self._ring.current, decision_claims(record), typ=DECISION_TYPE)

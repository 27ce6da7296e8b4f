"""What a screening returns: findings with spans, and the products the text names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

BLOCK, WARN = "block", "warn"
CATEGORIES = ("phi", "consent_missing", "fda_fair_balance", "fda_unapproved_claim", "adverse_event")


@dataclass(frozen=True)
class Finding:
    """One problem at one span of the screened text, in words a reviewer understands."""

    category: str
    severity: str
    start: int
    end: int
    text: str
    rule: str
    explanation: str
    # An image finding names the image (sanitized-image digest); it has no span in the text.
    media_digest: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def media_consent_findings(coverage: Iterable[Mapping[str, Any]], *, severity: str) -> list[Finding]:
    """One `consent_missing` finding per image the drafts service reports as not covered by a
    valid consent (its `media_consent` answer); covered images give none."""
    findings = []
    for item in coverage:
        if item.get("covered", False):
            continue
        digest = str(item["digest"])
        why = str(item.get("why") or "not_covered")
        explanation = str(
            item.get("detail") or f"photo {digest[:12]} shows a face and no valid consent covers it"
        )
        findings.append(
            Finding(
                category="consent_missing",
                severity=severity,
                start=0,
                end=0,
                text="",
                rule=f"consent.media.{why}",
                explanation=explanation[:1].upper() + explanation[1:] + ".",
                media_digest=digest,
            )
        )
    return findings


@dataclass(frozen=True)
class ScreeningOutcome:
    findings: list[Finding]
    products: list[str]
    drugs: list[str] = field(default_factory=list)  # other drugs named (generic names), not catalog products

    @property
    def categories(self) -> list[str]:
        return sorted({f.category for f in self.findings})

    @property
    def blocking(self) -> bool:
        return any(f.severity == BLOCK for f in self.findings)

    @property
    def blocking_indexes(self) -> list[int]:
        return [i for i, f in enumerate(self.findings) if f.severity == BLOCK]

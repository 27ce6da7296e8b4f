"""What a screening returns: findings with spans, and the products the text names."""

from __future__ import annotations

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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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

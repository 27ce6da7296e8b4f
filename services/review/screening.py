"""First-cut screener: rules over the text, the catalog and the allow-list.

One engine serves the workflow activity and `POST /api/v1/screenings`. It is deliberately plain;
the full screener (presidio, negation, measured recall) replaces the rules behind `screen()`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from services.review.policy import LoadedPolicy, Product

BLOCK, WARN = "block", "warn"

_NEGATION = re.compile(r"\b(no|not|never|without|isn't|aren't|there's no|don't|doesn't)\b[^.!?]{0,25}$", re.I)
_BENEFIT = re.compile(
    r"\b(helps?|relie(f|ves?)|improves?|improved|reduces?|reduced|effective|increased?|proven|"
    r"works|treats?|lowers?|prevents?|boosts?|fewer|better)\b",
    re.I,
)
_RISK = re.compile(
    r"\b(side effects?|risks?|warnings?|may cause|can cause|important safety information|"
    r"contraindicated|adverse|allerg\w*|do not (take|use)|prescribing information)\b",
    re.I,
)
_UNAPPROVED = [
    (re.compile(r"\bcures?\b|\bcured\b", re.I), "claims a cure"),
    (re.compile(r"\bguarantee[sd]?\b", re.I), "guarantees an outcome"),
    (re.compile(r"\bmiracle\b", re.I), "calls a treatment a miracle"),
    (re.compile(r"\b100\s?% (safe|effective)\b", re.I), "claims absolute safety or efficacy"),
    (re.compile(r"\bno side effects\b", re.I), "claims there are no side effects"),
    (re.compile(r"\b(risk-free|completely safe|totally safe)\b", re.I), "claims the product is risk-free"),
]
_PHI_PATTERNS = [
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "ssn", "looks like a Social Security number"),
    (
        re.compile(r"\b(MRN|medical record (number|no\.?))\s*[:#]?\s*\w*\d+\w*", re.I),
        "mrn",
        "a medical record number",
    ),
    (
        re.compile(r"\b(DOB|date of birth|born on)\s*[:\-]?\s*\w+[ /.-]\d{1,2}(,|[ /.-])\s?\d{2,4}", re.I),
        "dob",
        "a date of birth",
    ),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "email", "an e-mail address"),
    (re.compile(r"(\(\d{3}\)\s?|\b\d{3}[-. ])\d{3}[-. ]\d{4}\b"), "phone", "a phone number"),
]
_ORG_CONTACT_CUE = re.compile(
    r"(call us|contact us|our (office|clinic|team|hotline)|reach us|email us)\W*$", re.I
)
_PATIENT_STORY = re.compile(
    r"\b(patient|testimonial|in (his|her|their) (own )?words|(his|her|their) story|shout-?out)\b", re.I
)
_AE_CUE = re.compile(
    r"\b(after (taking|starting|using)|since (taking|starting)|ever since|gave me|made me|i got|"
    r"i had|i've had|landed me|stopped working|broke|malfunction\w*)\b",
    re.I,
)


@dataclass(frozen=True)
class Finding:
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

    @property
    def categories(self) -> list[str]:
        return sorted({f.category for f in self.findings})

    @property
    def blocking(self) -> bool:
        return any(f.severity == BLOCK for f in self.findings)


class Screener:
    def __init__(self, policy: LoadedPolicy) -> None:
        self._policy = policy
        allow = policy.policy.allow_list
        self._allowed = {self._digits(p) for p in allow.phones} | {e.lower() for e in allow.emails}
        self._products = [(p, self._name_pattern(p)) for p in policy.policy.catalog]

    @staticmethod
    def _digits(value: str) -> str:
        return re.sub(r"\D", "", value)

    @staticmethod
    def _name_pattern(product: Product) -> re.Pattern[str]:
        names = "|".join(re.escape(n) for n in product.names)
        return re.compile(rf"\b({names})\b", re.I)

    def screen(
        self, text: str, *, patient_content: bool = False, consent_on_file: bool = False
    ) -> ScreeningOutcome:
        findings: list[Finding] = []
        mentioned: list[tuple[Product, re.Match[str]]] = []
        for product, pattern in self._products:
            match = pattern.search(text)
            if match:
                mentioned.append((product, match))
        findings += self._fda(text, mentioned)
        findings += self._phi(text)
        findings += self._consent(text, patient_content, consent_on_file)
        findings += self._adverse_events(text, mentioned)
        findings.sort(key=lambda f: (f.start, f.category))
        return ScreeningOutcome(findings=findings, products=[p.name for p, _ in mentioned])

    def _fda(self, text: str, mentioned: list[tuple[Product, re.Match[str]]]) -> list[Finding]:
        found: list[Finding] = []
        for pattern, what in _UNAPPROVED:
            for match in pattern.finditer(text):
                if _NEGATION.search(text[max(0, match.start() - 40) : match.start()]):
                    continue
                found.append(
                    Finding(
                        "fda_unapproved_claim",
                        WARN,
                        match.start(),
                        match.end(),
                        match.group(0),
                        "unapproved_claim." + what.split()[0],
                        f"The text {what}, which promotion may not do.",
                    )
                )
        normalized = " ".join(text.split()).lower()
        for product, match in mentioned:
            if product.kind not in ("rx_drug", "device"):
                continue
            has_safety = (
                bool(product.safety_statement)
                and " ".join((product.safety_statement or "").split()).lower() in normalized
            )
            if _BENEFIT.search(text) and not has_safety and not _RISK.search(text):
                found.append(
                    Finding(
                        "fda_fair_balance",
                        WARN,
                        match.start(),
                        match.end(),
                        match.group(0),
                        "fair_balance.no_risk_information",
                        f"{product.name} is promoted with a benefit but no risk or safety information.",
                    )
                )
        return found

    def _phi(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        for pattern, rule, what in _PHI_PATTERNS:
            for match in pattern.finditer(text):
                value = match.group(0)
                if rule in ("phone", "email"):
                    key = value.lower() if rule == "email" else self._digits(value)
                    if key in self._allowed or _ORG_CONTACT_CUE.search(
                        text[max(0, match.start() - 30) : match.start()]
                    ):
                        continue
                found.append(
                    Finding(
                        "phi",
                        BLOCK,
                        match.start(),
                        match.end(),
                        value,
                        f"phi.{rule}",
                        f"This looks like {what}; patient identifiers may not be published.",
                    )
                )
        return found

    def _consent(self, text: str, patient_content: bool, consent_on_file: bool) -> list[Finding]:
        if consent_on_file:
            return []
        match = _PATIENT_STORY.search(text)
        if patient_content or match:
            start, end = (match.start(), match.end()) if match else (0, 0)
            return [
                Finding(
                    "consent_missing",
                    BLOCK,
                    start,
                    end,
                    match.group(0) if match else "",
                    "consent.patient_content_without_consent",
                    "Patient content needs the patient's written authorization on file.",
                )
            ]
        return []

    def _adverse_events(self, text: str, mentioned: list[tuple[Product, re.Match[str]]]) -> list[Finding]:
        if not mentioned:
            return []
        cue = _AE_CUE.search(text)
        if cue is None:
            return []
        return [
            Finding(
                "adverse_event",
                WARN,
                cue.start(),
                cue.end(),
                cue.group(0),
                "adverse_event.report_after_product",
                "A possible side effect or product problem is reported; route it to pharmacovigilance.",
            )
        ]

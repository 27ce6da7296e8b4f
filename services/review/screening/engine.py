"""The screening engine: identifiers from presidio, context from medspaCy ConText, rules a reviewer uses.

One `Screener` serves the review activity, `POST /api/v1/screenings` and `clearpost screen`.
Build it once per policy (cheap: the language stack is shared per process) and call `screen()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from presidio_analyzer import RecognizerResult
from spacy.tokens import Doc, Span

from services.review.policy import AllowList, LoadedPolicy, Product
from services.review.screening import lexicon
from services.review.screening.catalog import ProductMatcher, ProductMention
from services.review.screening.findings import Finding, ScreeningOutcome
from services.review.screening.nlp import TARGETS, DrugMention, LanguageStack, language_stack
from services.review.screening.recognizers import known_names
from services.review.screening.text_model import Mask, Reading, TextModel, features, tokens

KINDS = ("post", "comment")

_I = re.IGNORECASE
_CARE = re.compile(lexicon.CARE, _I)
_CLAIMS = [(rule, re.compile(pattern, _I), why) for rule, pattern, why in lexicon.CLAIMS]
_MORE_CLAIMS = [(rule, re.compile(pattern, _I), why) for rule, pattern, why in lexicon.MORE_CLAIMS]
# Negations that say a symptom went away ("pain relief", "treats", "gone"); they do not negate a claim.
_SYMPTOM_ONLY_NEGATIONS = {"relief", "relieves", "treats", "gone", "went away", "cleared up"}
_RISK = re.compile(rf"\b(?:{lexicon.RISK_TERMS})\b", _I)
_SYMPTOM = re.compile(
    rf"\b(?:{lexicon.SYMPTOMS}|{lexicon.DEVICE_PROBLEMS}|{lexicon.ABNORMAL_VALUE})(?![\w-])", _I
)
_CONSUMER_SYMPTOM = re.compile(rf"\b(?:{lexicon.CONSUMER_SYMPTOMS}|{lexicon.DEVICE_TROUBLE})(?![\w-])", _I)
_STORY = lexicon.STORY
_FIRST_PERSON_REPORT = re.compile(
    r"\b(?:i|i've|i'm|i'd|me|my|we've (?:now )?seen|we saw|(?:have )?told us|reported to us|"
    r"(?:customers?|users?|patients?|families) (?:have )?report(?:ed|s)?)\b",
    _I,
)
_MODAL = re.compile(
    r"\b(?:may|might|could|can(?!\s+(?:barely|hardly|only|no longer))|if|risks?|warnings?|include|including|"
    r"causes?)\b",
    _I,
)
_RELATION_NEAR = re.compile(rf"{lexicon.RELATIONS}\W{{0,3}}$", _I)
_FUNDRAISING = re.compile(r"fund|donat|gofundme|giving|help|support|campaign|cause", _I)
_RELATIVE = re.compile(rf"\b(?:my|his|her|our|their)\s+{lexicon.RELATIONS}", _I)
_SECOND_PERSON = re.compile(r"\byour?\b", _I)
# A commenter telling of their own health ("my migraines") discloses nothing of anyone else's.
_FIRST_PERSON_SINGULAR = re.compile(r"\b(?:i|i'm|i've|i'd|me|my)\b", _I)
_SOMEONE_ELSE = re.compile(rf"\b(?:{lexicon.RELATIONS}|{lexicon.PRONOUNS_AFTER}|they|their|them)\b", _I)

ALWAYS_PHI = {
    "US_SSN": ("phi.ssn", "a Social Security number"),
    "MEDICAL_RECORD_NUMBER": ("phi.mrn", "a medical record number"),
    "ACCOUNT_NUMBER": ("phi.account_number", "an account, health plan, device or serial number"),
    "DATE_OF_BIRTH": ("phi.date_of_birth", "a date of birth"),
    "AGE_OVER_89": ("phi.age_over_89", "an age over 89"),
    "CREDIT_CARD": ("phi.payment_card", "a payment card number"),
    "IBAN_CODE": ("phi.bank_account", "a bank account number"),
    "IP_ADDRESS": ("phi.ip_address", "an IP address"),
    "VEHICLE_ID": ("phi.vehicle_id", "a vehicle plate or VIN"),
}
# A link whose query names a patient record: portal.example.org/results?mrn=...
_RECORD_QUERY = re.compile(
    r"[?&](?:mrn|patient\w*|pid|pt|ptid|record\w*|acct|account\w*|member\w*|dob|chart|enc\w*|mrid)=", _I
)
_HANDLE_PART = re.compile(r"[a-z]+")
# Whom a reply addresses: "Hi Jerome!", "Dear Mrs. Ortiz,", "@marcy_b".
_ADDRESSED_NAME = re.compile(
    r"^\s*(@\w+)|\b(?i:hi|hello|hey|dear|good morning|good afternoon)\s+"
    r"((?:(?:Mr|Mrs|Ms|Miss)\.?\s+)?[A-Z][a-z]+)"
)


@dataclass(frozen=True)
class _Person:
    start: int
    end: int
    text: str
    cue: str
    full: bool

    @property
    def tokens(self) -> set[str]:
        return {t.lower() for t in re.findall(r"[A-Za-z]{3,}", self.text)}


_CLAUSE_BREAKS = {"and", "but", ",", ";", "while", "yet", "or"}
NEGATION_WINDOW = 5  # tokens between a negation and what it negates ("no side effects so far")
CLAIM_WINDOW = 4


def _modified(
    span: Span, category: str, window: int | None = None, ignore: frozenset[str] | set[str] = frozenset()
) -> bool:
    """True when a ConText modifier of `category` applies to `span` (within `window` tokens if given)."""
    for modifier in span._.modifiers:
        if modifier.category != category or modifier.rule.literal.lower() in ignore:
            continue
        if window is None:
            return True
        start, end = modifier.modifier_span
        between = span.doc[end : span.start] if end <= span.start else span.doc[span.end : start]
        # A conjunction or clause break starts a new claim: "without drilling, and prevents ... forever".
        if len(between) <= window and not any(t.lower_ in _CLAUSE_BREAKS for t in between):
            return True
    return False


def _targets_of(doc: Doc, label: str | None = None, prefix: str = "") -> list[Span]:
    spans = doc.spans[TARGETS] if TARGETS in doc.spans else []
    return [s for s in spans if (label is None or s.label_ == label) and s.label_.startswith(prefix)]


def _digits(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return digits[-10:]


def _clause(text: str, start: int, end: int) -> str:
    """The clause around a span, up to a comma or sentence end: "site is swollen, ... infection??" """
    left = max(text.rfind(c, 0, start) for c in ",;:.!?\n")
    rights = [i for i in (text.find(c, end) for c in ",;.!?\n") if i != -1]
    right = min(rights) if rights else len(text)
    return text[left + 1 : right + 1].strip()


def _words(value: str) -> set[str]:
    """Stems of words of four letters or more ("migraines" -> "migrain"): symptom vs indication."""
    return {w[:7] for w in re.findall(r"[a-z]{4,}", value.lower())}


def _norm(value: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", value.lower()).split())


# Parts of the engine that `without=` (and `eval --without`) can switch off, to measure what each adds.
PARTS: tuple[str, ...] = (
    "product_is_promotion",
    "name_list",
    "consumer_words",
    "ae_report_frame",
    "fuzzy_products",
    "more_claims",
    "org_replies",
    "indication",
    "substantive_risk",
    "text_model",
)
_LISTED_CUES = {"name_list", "hashtag"}  # names known from the name list alone, no other cue
# What turns a first name in a care context into an identifiable patient: an age, a birthday, a stay's
# length or date, a room, a birth.
_QUASI_IDENTIFIER = re.compile(
    r"\b\d{1,3}[- ](?:years?|yrs?|months?|weeks?)[- ]old\b|\b(?:turns?|turned|turning|aged?)\s+\d{1,3}\b|"
    r"\bbirthday\b|\bborn\b|\b\d{1,3}\s+(?:days?|weeks?|months?|nights?)\s+(?:after|since|with us|in our|"
    r"at|on|in the)\b|\b(?:room|rm\.?|bed|bay)\s*#?\s*\d{1,4}[a-z]?\b|\b\d{1,3}\s*(?:yo|y/o)\b",
    _I,
)
# How a model finding names its category to a reviewer.
_MODEL_READS = {
    "phi": "a text that identifies a patient",
    "consent_missing": "a patient's story, and no consent is on file",
    "fda_fair_balance": "a product's benefits without its risks",
    "fda_unapproved_claim": "a claim the product's labeling does not support",
    "adverse_event": "a report of harm after a product or drug",
}
_QUASI_ENTITIES = {"CARE_DATE", "BED_ROOM", "AGE_OVER_89", "SOCIAL_HANDLE", "PATIENT_PHOTO", "DATE_OF_BIRTH"}


class Screener:
    def __init__(
        self,
        policy: LoadedPolicy,
        *,
        catalog: list[Product] | None = None,
        without: frozenset[str] = frozenset(),
        model: TextModel | None = None,
    ) -> None:
        """`model`: the trained text model to read with besides the rules. None (the default, and
        what the service runs today) screens with the rules alone; `make eval-screening` passes the
        shipped artifact, or one trained without the corpus it scores (docs/screening.md)."""
        self._policy = policy
        self._without = without
        self._model = None if "text_model" in without else model
        self._settings = policy.policy.screening
        self._stack: LanguageStack = language_stack()
        self._catalog = ProductMatcher(
            policy.policy.catalog if catalog is None else catalog, two_edits="fuzzy_products" not in without
        )
        self._extra = AllowList()
        self._use_allow_list(policy.policy.allow_list)

    def _use_allow_list(self, allow: AllowList) -> None:
        emails = {e.lower() for e in allow.emails}
        self._phones = {_digits(p) for p in allow.phones}
        self._emails = emails
        self._domains = {d.lower().lstrip("@") for d in allow.domains} | {e.split("@")[-1] for e in emails}
        self._handles = {h.lower().lstrip("@") for h in allow.handles}
        self._addresses = [_norm(a).split(",")[0] for a in allow.addresses]
        self._staff = [_norm(re.sub(r"^(?:dr|mr|mrs|ms)\.?\s+", "", s, flags=_I)) for s in allow.staff]
        self._organizations = [_norm(o) for o in allow.organizations]

    @property
    def policy(self) -> LoadedPolicy:
        return self._policy

    @property
    def extra_allow_list(self) -> AllowList:
        """The entries added to the policy's allow-list since the screener was built (approved
        reviewer proposals, services/review/feedback.py)."""
        return self._extra

    def extend_allow_list(self, extra: AllowList) -> None:
        """Screen from now on with the policy's allow-list plus `extra` (which replaces any earlier
        extra). Only the allow-list sets are rebuilt; the language stack and catalog stay."""
        if extra == self._extra:
            return
        base = self._policy.policy.allow_list
        merged = AllowList(
            **{
                name: list(dict.fromkeys([*getattr(base, name), *getattr(extra, name)]))
                for name in AllowList.model_fields
            }
        )
        self._use_allow_list(merged)
        self._extra = extra

    def screen(
        self,
        text: str,
        *,
        patient_content: bool = False,
        consent_on_file: bool = False,
        kind: str = "post",
    ) -> ScreeningOutcome:
        stack = self._stack
        doc, results, products, drugs = self._recognise(text)
        targets = self._targets(
            doc,
            text,
            consumer="consumer_words" not in self._without,
            more_claims="more_claims" not in self._without,
        )
        stack.context(doc, [span for span, _ in targets])
        persons = [
            p
            for p in self._persons(results)
            if not any(m.start < p.end and p.start < m.end for m in products)
        ]
        # A product, a drug or a symptom puts a text in a care context as much as "clinic" does.
        care = bool(_CARE.search(text) or products or drugs or _SYMPTOM.search(text))

        # The organization's reply in a comment thread is the brand speaking, like its posts.
        promotes = kind == "post" or (
            "org_replies" not in self._without and bool(lexicon.ORGANIZATION_REPLY.search(text))
        )
        own_story = (
            not promotes and bool(_FIRST_PERSON_SINGULAR.search(text)) and not _SOMEONE_ELSE.search(text)
        )
        findings: list[Finding] = []
        findings += self._phi(text, doc, results, persons, care, consent_on_file, own_story)
        if promotes and not consent_on_file:
            findings += self._consent(text, results, persons, care, patient_content)
        claims = self._claims(doc) + self._off_indication(doc, products) if promotes else []
        findings += claims
        events = self._adverse_events(doc, products, drugs, kind, persons)
        if promotes:
            # A product named in a side-effect report is not being promoted.
            findings += self._fair_balance(text, doc, products, bool(claims), bool(events))
        findings += events
        if self._model is not None:
            masks = self._masks(text, results, products, drugs)
            findings += self._model_findings(
                self._model, text, doc, masks, kind, consent_on_file, {f.category for f in findings}
            )
        findings.sort(key=lambda f: (f.start, f.end, f.category))
        names = list(dict.fromkeys(m.product.name for m in products))
        return ScreeningOutcome(
            findings=findings, products=names, drugs=list(dict.fromkeys(d.name for d in drugs))
        )

    # --- building blocks ------------------------------------------------------------------------

    def _recognise(
        self, text: str
    ) -> tuple[Doc, list[RecognizerResult], list[ProductMention], list[DrugMention]]:
        """Sentences, identifiers (presidio with our recognizers), catalog products, other drugs."""
        stack = self._stack
        doc = stack.nlp.make_doc(text)
        doc = stack.nlp.get_pipe("sentencizer")(doc)
        results = stack.analyzer.analyze(
            text=text, language="en", nlp_artifacts=stack.nlp_engine.artifacts(doc), score_threshold=0.3
        )
        products = self._catalog.find(text)
        drugs = [
            d
            for d in stack.drugs.find(text)
            if not any(p.start < d.end and d.start < p.end for p in products)
        ]
        return doc, results, products, drugs

    def _masks(
        self,
        text: str,
        results: list[RecognizerResult],
        products: list[ProductMention],
        drugs: list[DrugMention],
    ) -> list[Mask]:
        """What the text model reads instead of each recognised span: its kind, or `ours` for an
        allow-listed name, number, address or handle (so a reviewer's "this is ours" reaches the
        model as it reaches the rules)."""
        return [
            *(Mask(p.start, p.end, "product") for p in products),
            *(Mask(d.start, d.end, "drug") for d in drugs),
            *(Mask(r.start, r.end, "ours" if self._ours(r, text) else r.entity_type) for r in results),
        ]

    def _ours(self, result: RecognizerResult, text: str) -> bool:
        """Whether the policy's allow-list (or a staff title before the name) makes `result` the
        organization's own: the rules and the text model both ask this."""
        value = text[result.start : result.end]
        kind = result.entity_type
        if kind == "PERSON":
            cue = str((result.recognition_metadata or {}).get("cue", ""))
            return cue == "staff" or self._is_staff_or_org(value)
        if kind == "PHONE_NUMBER":
            return _digits(value) in self._phones
        if kind == "EMAIL_ADDRESS":
            return value.lower() in self._emails or value.lower().partition("@")[2] in self._domains
        if kind == "SOCIAL_HANDLE":
            return value.lower().lstrip("@") in self._handles
        if kind == "STREET_ADDRESS":
            key = _norm(value).split(",")[0]
            return any(key.startswith(a) or a.startswith(key) for a in self._addresses if a)
        return False

    def model_features(self, text: str, *, kind: str = "post", consent_on_file: bool = False) -> set[str]:
        """What the text model reads of `text` (train_model.py trains on exactly this)."""
        _, results, products, drugs = self._recognise(text)
        masked = tokens(text, self._masks(text, results, products, drugs))
        return features(masked, kind=kind, consent_on_file=consent_on_file)

    def _model_findings(
        self,
        model: TextModel,
        text: str,
        doc: Doc,
        masks: list[Mask],
        kind: str,
        consent_on_file: bool,
        found: set[str],
    ) -> list[Finding]:
        """A finding for each category the rules did not find and the model reads with confidence,
        at the sentence that reads most like it."""
        whole = model.read(features(tokens(text, masks), kind=kind, consent_on_file=consent_on_file))
        kinds = {m.kind for m in masks}
        named = kinds & {"product", "drug"}
        # What a category needs before any reading counts, by its definition: PHI is someone's
        # name or identifier that is not the organization's own; consent on file settles consent;
        # an adverse event follows a named product or drug; fair balance is owed by a catalog product.
        possible = {
            "phi": bool(kinds - {"product", "drug", "ours", "URL"}),
            "consent_missing": not consent_on_file,
            "fda_fair_balance": "product" in named,
            "fda_unapproved_claim": True,
            "adverse_event": bool(named),
        }
        wanted = [r for r in whole.values() if r.flagged and r.category not in found and possible[r.category]]
        if not wanted:
            return []
        sentences = [(s.start_char, s.end_char) for s in doc.sents] or [(0, len(text))]
        by_sentence: list[tuple[int, int, dict[str, Reading]]] = []
        for start, end in sentences:
            inside = [Mask(m.start - start, m.end - start, m.kind) for m in masks if start <= m.start < end]
            words = tokens(text[start:end], inside)
            by_sentence.append(
                (start, end, model.read(features(words, kind=kind, consent_on_file=consent_on_file)))
            )
        findings = []
        for reading in wanted:
            start, end, best = max(by_sentence, key=lambda s: s[2][reading.category].probability)
            cues = best[reading.category].cues or reading.cues
            heard = ", ".join(f"'{c}'" for c in cues)
            findings.append(
                self._finding(
                    reading.category,
                    start,
                    end,
                    text,
                    f"model.{reading.category}",
                    f"The trained text model reads this as {_MODEL_READS[reading.category]} "
                    f"(confidence {reading.probability:.2f}, flags from {reading.threshold:.2f})"
                    + (f", mostly from {heard}" if heard else "")
                    + "; no rule names it, so check it yourself.",
                )
            )
        return findings

    def _finding(self, category: str, start: int, end: int, text: str, rule: str, why: str) -> Finding:
        return Finding(category, self._settings.severity(category), start, end, text[start:end], rule, why)

    @staticmethod
    def _targets(doc: Doc, text: str, *, consumer: bool, more_claims: bool) -> list[tuple[Span, str]]:
        spans: list[tuple[Span, str]] = []

        def add(pattern: re.Pattern[str], label: str) -> None:
            for match in pattern.finditer(text):
                span = doc.char_span(match.start(), match.end(), label=label, alignment_mode="expand")
                if span is not None:
                    spans.append((span, label))

        for rule, pattern, _ in _CLAIMS + (_MORE_CLAIMS if more_claims else []):
            add(pattern, f"CLAIM_{rule}")
        add(_RISK, "RISK")
        add(_SYMPTOM, "SYMPTOM")
        if consumer:
            add(_CONSUMER_SYMPTOM, "SYMPTOM")
        return spans

    def _persons(self, results: list[RecognizerResult]) -> list[_Person]:
        people: list[_Person] = []
        for result in results:
            if result.entity_type != "PERSON":
                continue
            meta = result.recognition_metadata or {}
            cue = str(meta.get("cue", ""))
            if cue == "staff" or (cue in _LISTED_CUES and "name_list" in self._without):
                continue
            people.append(_Person(result.start, result.end, "", cue, bool(meta.get("full_name"))))
        return people

    def _is_staff_or_org(self, name: str) -> bool:
        key = _norm(name)
        return any(key and (key in s or s in key) for s in self._staff) or any(
            key and key in o for o in self._organizations
        )

    # --- phi ------------------------------------------------------------------------------------

    def _phi(
        self,
        text: str,
        doc: Doc,
        results: list[RecognizerResult],
        persons: list[_Person],
        care: bool,
        consent_on_file: bool,
        own_story: bool = False,
    ) -> list[Finding]:
        """`own_story`: a comment in which the commenter speaks of themself; a handle it names is
        the one it answers, not a patient's."""
        patients = [
            _Person(p.start, p.end, text[p.start : p.end], p.cue, p.full)
            for p in persons
            if not self._is_staff_or_org(text[p.start : p.end])
        ]
        named = [p for p in patients if p.full]
        emails = [r for r in results if r.entity_type == "EMAIL_ADDRESS"]
        quasi = bool(_QUASI_IDENTIFIER.search(text)) or any(r.entity_type in _QUASI_ENTITIES for r in results)
        found: list[Finding] = []

        def phi(result: RecognizerResult, rule: str, why: str) -> None:
            found.append(
                self._finding(
                    "phi",
                    result.start,
                    result.end,
                    text,
                    rule,
                    f"This is {why} tied to a patient; patient identifiers may not be published.",
                )
            )

        for result in results:
            kind, value = result.entity_type, text[result.start : result.end]
            before = text[max(0, result.start - 60) : result.start]
            sentence = self._sentence(doc, result.start)
            if kind in ALWAYS_PHI:
                if kind in ("AGE_OVER_89", "VEHICLE_ID") and not care:
                    continue  # a 95-year-old volunteer or donor is not a patient
                rule, why = ALWAYS_PHI[kind]
                phi(result, rule, why)
            elif kind == "PERSON":
                person = next((p for p in named if p.start == result.start), None)
                if person is not None and care:
                    phi(
                        result,
                        "phi.patient_name",
                        f"a patient's full name ({person.cue} cue) in a care context",
                    )
                elif (
                    care
                    and not consent_on_file
                    and any(
                        p.start == result.start and (quasi or p.cue in ("hashtag", "age")) for p in patients
                    )
                ):
                    phi(
                        result,
                        "phi.patient_first_name",
                        "a patient's first name with an age, date, stay or room that singles them out",
                    )
            elif kind == "CARE_DATE":
                if patients:
                    phi(result, "phi.care_date", "a date of care (admission, visit, procedure)")
            elif kind == "BED_ROOM":
                if patients and care:
                    phi(result, "phi.location_in_facility", "a bed or room number")
            elif kind == "PHONE_NUMBER":
                if self._ours(result, text):
                    continue
                personal = lexicon.PERSONAL_NUMBER_BEFORE.search(before) or _RELATION_NEAR.search(before)
                near_person = any(0 <= result.start - p.end <= 40 for p in patients)
                if personal or near_person:
                    phi(result, "phi.phone", "a personal phone number")
            elif kind == "EMAIL_ADDRESS":
                if self._ours(result, text):
                    continue
                local = value.lower().partition("@")[0]
                if lexicon.ROLE_MAILBOXES.match(local):
                    continue
                phi(result, "phi.email", "a personal e-mail address")
            elif kind == "URL":
                if any(e.start <= result.start < e.end for e in emails):
                    continue
                slug = set(re.findall(r"[a-z]{3,}", value.lower().split("/", 1)[-1] if "/" in value else ""))
                names = set().union(*(p.tokens for p in patients)) if patients else set()
                if _RECORD_QUERY.search(value):
                    phi(result, "phi.record_link", "a link that carries a patient's record number")
                elif slug & names or (len(slug) >= 2 and _FUNDRAISING.search(value) and care and patients):
                    phi(result, "phi.identifying_url", "a web address that names a patient")
            elif kind == "SOCIAL_HANDLE":
                if self._ours(result, text):
                    continue
                handle = value.lower().lstrip("@")
                names = set().union(*(p.tokens for p in patients)) if patients else set()
                names |= {t.lower() for t in re.findall(r"(?:Mr|Mrs|Ms|Miss)\.?\s+([A-Z][a-z]{2,})", text)}
                addressed = bool(re.search(r"\d", handle)) and care and _SECOND_PERSON.search(text)
                listed = (
                    "name_list" not in self._without
                    and not own_story
                    and care
                    and any(
                        len(part) >= 4 and part.capitalize() in known_names()
                        for part in _HANDLE_PART.findall(handle)
                    )
                )
                if any(n in handle for n in names if len(n) >= 4) or addressed or listed:
                    phi(result, "phi.handle", "a social media handle identifying a patient")
            elif kind == "STREET_ADDRESS":
                if self._ours(result, text):
                    continue
                residence = lexicon.RESIDENCE_CUE.search(sentence)
                person_near = any(
                    abs(result.start - p.end) <= 60 or abs(p.start - result.end) <= 60 for p in patients
                )
                if residence or person_near:
                    phi(result, "phi.address", "a home address")
        if care and not own_story and lexicon.APPOINTMENT.search(text):
            # "Hi Jerome! You're all set for your injection on the 14th": an organization telling a
            # named person their own appointment in public discloses it.
            addressed = _ADDRESSED_NAME.search(text)
            group = 1 if addressed and addressed.group(1) else 2
            if addressed and not self._is_staff_or_org(addressed.group(group)):
                found.append(
                    self._finding(
                        "phi",
                        addressed.start(group),
                        addressed.end(group),
                        text,
                        "phi.appointment",
                        "This names a person together with their own appointment or visit; a public "
                        "reply may not disclose a patient's care.",
                    )
                )
        return self._without_overlaps(found)

    @staticmethod
    def _sentence(doc: Doc, offset: int) -> str:
        for sent in doc.sents:
            if sent.start_char <= offset < sent.end_char + 1:
                return sent.text
        return doc.text

    @staticmethod
    def _without_overlaps(findings: list[Finding]) -> list[Finding]:
        kept: list[Finding] = []
        for finding in sorted(findings, key=lambda f: (-(f.end - f.start), f.start)):
            if not any(k.start < finding.end and finding.start < k.end for k in kept):
                kept.append(finding)
        return kept

    # --- consent --------------------------------------------------------------------------------

    def _consent(
        self,
        text: str,
        results: list[RecognizerResult],
        persons: list[_Person],
        care: bool,
        patient_content: bool,
    ) -> list[Finding]:
        evidence: list[tuple[int, int, str, str]] = []
        for pattern, what in _STORY:
            match = pattern.search(text)
            if match:
                evidence.append((match.start(), match.end(), "story", what))
        for result in results:
            if result.entity_type == "PATIENT_PHOTO":
                evidence.append((result.start, result.end, "photo", "a patient photo"))
        if care:
            for person in persons:
                # A name listed with an identifier ("Pete Larkin, 42 Mill St") is a disclosure (PHI),
                # not by itself a story; any other cue makes it a story about that patient.
                # A reply to someone, or a notice to them about their own care, discloses (PHI).
                told = person.cue in _LISTED_CUES | {"initial", "title"} or bool(
                    lexicon.APPOINTMENT.search(text)
                )
                addressed = told and bool(lexicon.ADDRESSED_OR_NOTICE.search(text))
                if (
                    person.cue != "identifier"
                    and not addressed
                    and not self._is_staff_or_org(text[person.start : person.end])
                ):
                    evidence.append((person.start, person.end, "named_patient", "a named patient"))
        if not evidence and not patient_content:
            return []
        if evidence:
            start, end, rule, what = min(evidence)
        else:
            start, end, rule, what = 0, 0, "patient_content_flag", "patient content"
        return [
            self._finding(
                "consent_missing",
                start,
                end,
                text,
                f"consent.{rule}",
                f"The post shows {what} but no patient authorization is on file.",
            )
        ]

    # --- FDA ------------------------------------------------------------------------------------

    def _claims(self, doc: Doc) -> list[Finding]:
        found: list[Finding] = []
        whys = {f"CLAIM_{rule}": (rule, why) for rule, _, why in _MORE_CLAIMS + _CLAIMS}
        for span in _targets_of(doc, prefix="CLAIM_"):
            if _modified(span, "NEGATED_EXISTENCE", CLAIM_WINDOW, _SYMPTOM_ONLY_NEGATIONS) or _modified(
                span, "HYPOTHETICAL", CLAIM_WINDOW
            ):
                continue
            rule, why = whys[span.label_]
            found.append(
                self._finding(
                    "fda_unapproved_claim",
                    span.start_char,
                    span.end_char,
                    doc.text,
                    f"unapproved_claim.{rule}",
                    f"The text {why}, which health promotion may not do without approval and evidence.",
                )
            )
        return self._without_overlaps(found)

    def _fair_balance(
        self, text: str, doc: Doc, products: list[ProductMention], claimed: bool, reported: bool
    ) -> list[Finding]:
        kinds = set(self._settings.fair_balance_kinds)
        promoted = [m for m in products if m.product.kind in kinds]
        if not promoted:
            return []
        claims = _targets_of(doc, prefix="CLAIM_")
        pointers = (
            [(m.start(), m.end()) for m in lexicon.RISK_POINTER.finditer(text)]
            if "substantive_risk" not in self._without
            else []
        )
        risk = any(
            not _modified(s, "NEGATED_EXISTENCE", CLAIM_WINDOW)
            and not any(c.start <= s.start and s.end <= c.end for c in claims)  # "no side effects" is a claim
            # "see full PI", "side effects may occur": a pointer or a vague phrase is not risk information
            and not any(a <= s.start_char and s.end_char <= b for a, b in pointers)
            for s in _targets_of(doc, "RISK")
        )
        # Symptoms told as what may happen ("can make you dizzy") are risk information too.
        # ("Relief from stiffness can start by week 2" is the benefit, not a risk.)
        risk_listed = any(
            _modified(t, "HYPOTHETICAL") and not _modified(t, "NEGATED_EXISTENCE", CLAIM_WINDOW)
            for t in _targets_of(doc, "SYMPTOM")
        )
        normalized = _norm(text)
        found: list[Finding] = []
        for mention in self._first_of_each(promoted):
            statement = mention.product.safety_statement
            if risk or (statement and _norm(statement) in normalized):
                continue
            if "product_is_promotion" in self._without:
                if not (claimed or lexicon.BENEFIT.search(text) or lexicon.CALL_TO_ACTION.search(text)):
                    continue
            elif (
                lexicon.NOT_PROMOTION.search(text)
                or reported
                or risk_listed
                or (  # a question about the product that names no benefit
                    self._sentence(doc, mention.start).rstrip().endswith("?")
                    and not (claimed or lexicon.BENEFIT.search(text) or lexicon.CALL_TO_ACTION.search(text))
                )
            ):
                # A product named by the organization promotes it (a statistic, a story, a photo),
                # unless the post is a formulary or coverage note, a recall or a safety checklist.
                continue
            found.append(
                self._finding(
                    "fda_fair_balance",
                    mention.start,
                    mention.end,
                    text,
                    "fair_balance.no_risk_information",
                    f"{mention.product.name} is promoted with a benefit but the post carries no risk or "
                    "safety information.",
                )
            )
        return found

    def _off_indication(self, doc: Doc, products: list[ProductMention]) -> list[Finding]:
        """A product promoted for people its approved indication does not cover (catalog `indication`)."""
        if "indication" in self._without:
            return []
        text = doc.text
        for mention in self._first_of_each(products):
            indication = str(getattr(mention.product, "indication", "") or "").lower()
            for population, others in lexicon.POPULATIONS.items():
                if population not in indication or others.search(indication):
                    continue
                for sent in doc.sents:
                    if _RISK.search(sent.text):
                        continue  # "not for children" in risk information is not promotion
                    match = others.search(sent.text)
                    if match is None:
                        continue
                    start = sent.start_char + match.start()
                    return [
                        self._finding(
                            "fda_unapproved_claim",
                            start,
                            start + len(match.group(0)),
                            text,
                            "unapproved_claim.off_indication",
                            f"The text promotes {mention.product.name} for {match.group(0)}, but its "
                            f"approved use is {indication}; promotion beyond the indication is off-label.",
                        )
                    ]
        return []

    @staticmethod
    def _first_of_each(mentions: Iterable[ProductMention]) -> list[ProductMention]:
        seen: dict[str, ProductMention] = {}
        for mention in mentions:
            seen.setdefault(mention.product.name, mention)
        return list(seen.values())

    # --- adverse events -------------------------------------------------------------------------

    @staticmethod
    def _reports_a_person(text: str, persons: list[_Person]) -> bool:
        return bool(
            persons
            or _FIRST_PERSON_REPORT.search(text)
            or any(pattern.search(text) for pattern, _ in _STORY)
            or _RELATIVE.search(text)
        )

    def _adverse_events(
        self,
        doc: Doc,
        products: list[ProductMention],
        drugs: list[DrugMention],
        kind: str,
        persons: list[_Person],
    ) -> list[Finding]:
        named: list[tuple[int, str]] = [(m.start, m.product.name) for m in products]
        named += [(d.start, d.name) for d in drugs]
        if not named:
            return []
        framed = "ae_report_frame" not in self._without
        if framed and kind == "post" and not self._reports_a_person(doc.text, persons):
            # The organization's own post names a disease or a risk; only a story about a person
            # ("a patient of mine developed ...", "Chloe ... after a reaction to ...") reports one.
            return []
        # What a product treats is not its side effect: "Halvorin ... acute migraine", "stroke risk".
        treated = {w for m in products for w in _words(str(getattr(m.product, "indication", "") or ""))}
        for span in sorted(_targets_of(doc, "SYMPTOM"), key=lambda s: s.start):
            if _modified(span, "NEGATED_EXISTENCE", NEGATION_WINDOW):
                continue
            if framed and _words(span.text) & treated:
                continue
            sentence = span.sent.text
            if (
                framed
                and kind == "post"
                and any(
                    not (
                        m.start() < span.end_char - span.sent.start_char
                        and span.start_char - span.sent.start_char < m.end()
                    )
                    for m in _RISK.finditer(sentence)
                )
            ):
                continue  # a sentence of risk information lists side effects, it does not report one
            report = (
                _FIRST_PERSON_REPORT.search(sentence) or _RELATIVE.search(sentence)
            ) and not _MODAL.search(sentence)
            if _modified(span, "HYPOTHETICAL") and not report:
                continue
            clause = _clause(doc.text, span.start_char, span.end_char)
            if clause.endswith("?") and not (_FIRST_PERSON_REPORT.search(clause) or _RELATIVE.search(clause)):
                continue  # a question about a side effect ("does X cause Y?") reports none
            product = min(named, key=lambda item: abs(item[0] - span.start_char))[1]
            return [
                self._finding(
                    "adverse_event",
                    span.start_char,
                    span.end_char,
                    doc.text,
                    "adverse_event.reported_after_product",
                    f"A possible side effect or product problem is reported with {product}; "
                    "route it to pharmacovigilance.",
                )
            ]
        return []

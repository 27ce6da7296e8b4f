"""Presidio recognizers for the identifiers presidio's defaults miss or get wrong in posts.

Each recognizer finds a candidate identifier; whether it is a patient's (PHI) or the
organization's is decided afterwards from context (engine.py), as a reviewer would.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from services.review.screening import lexicon

MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
ORDINAL_WORD = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
    r"fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-\w+|thirtieth|"
    r"thirty-first)"
)
NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|thousand|and|oh)"
)
# "2/11": a month and day with no year, read as a date only right after a care word ("admitted on
# 2/11"), where a score or a fraction would not stand.
SHORT_DATE = r"(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])(?![/\d])"
DATE = (
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}(?:,?\s+\d{{4}})?"
    rf"|(?:the\s+)?{ORDINAL_WORD}\s+of\s+{MONTH}"
    rf"|{MONTH}\s+(?:the\s+)?{ORDINAL_WORD}"
    rf"|(?:19|20)\d{{2}}"
    rf"|(?:nineteen|two thousand)(?:[\s-]+{NUMBER_WORD}){{0,3}})"
)
WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day(?:'s)?"
AGE_OVER_89 = r"(?:9\d|1[01]\d)"
STREET_SUFFIX = (
    r"(?:St|Street|Rd|Road|Ave|Avenue|Ln|Lane|Dr|Drive|Blvd|Boulevard|Ct|Court|Way|Pl|Place|Pkwy|Parkway|"
    r"Hwy|Highway|Ter|Terrace|Cir|Circle|Trl|Trail|Sq|Square|Loop|Row|Pike)"
)


# An identifier as systems print them: letters, digits and separators ("00-4471-9Q",
# "QN/CP-55-80913-B", "WVH-2231/0087-K"), with at least four digits in it.
ID_VALUE = r"(?=(?:[A-Z/.#_\u2013-]*\d){4})[A-Z0-9](?:[A-Z0-9]|[/.#_\u2013-](?=[A-Z0-9])){4,29}\b"


def _pattern(
    entity: str, name: str, patterns: list[tuple[str, str, float]], context: list[str]
) -> PatternRecognizer:
    return PatternRecognizer(
        supported_entity=entity,
        name=name,
        patterns=[Pattern(rule, regex, score) for rule, regex, score in patterns],
        context=context,
        global_regex_flags=re.IGNORECASE | re.MULTILINE | re.DOTALL,
    )


class PhoneNumberRecognizer(PatternRecognizer):
    """North American numbers in any spacing, including the 555 range `phonenumbers` rejects."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="ClearpostPhoneRecognizer",
            patterns=[
                Pattern(
                    "phone",
                    r"(?<![\w/#-])(?:\+?1[\s.-]?)?\(?\d(?:\s{0,2}[\s.()-]?\s{0,2}\d){9}(?![\w/-])",
                    0.6,
                )
            ],
            context=["call", "phone", "text", "cell", "mobile", "number", "fax", "tel"],
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = re.sub(r"\D", "", pattern_text)
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        return len(digits) == 10 and digits[0] in "23456789" and digits[3] in "0123456789"


class SsnRecognizer(PatternRecognizer):
    """Social Security numbers, also typed with spaces between the digits."""

    def __init__(self) -> None:
        spaced = r"\d\s?\d\s?\d\s?[-.\s]\s?\d\s?\d\s?[-.\s]\s?\d\s?\d\s?\d\s?\d"
        super().__init__(
            supported_entity="US_SSN",
            name="ClearpostSsnRecognizer",
            patterns=[
                Pattern("ssn", r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])", 0.6),
                Pattern("ssn_spaced", rf"(?<![\w-]){spaced}(?![\w-])", 0.4),
            ],
            context=["ssn", "social security", "social"],
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = re.sub(r"\D", "", pattern_text)
        return len(digits) == 9 and digits[:3] not in ("000", "666") and digits[3:5] != "00"


def custom_recognizers() -> list[EntityRecognizer]:
    """The recognizers Clearpost adds to presidio's (all pattern-based, so they run offline)."""
    return [
        PhoneNumberRecognizer(),
        SsnRecognizer(),
        _pattern(
            "MEDICAL_RECORD_NUMBER",
            "MrnRecognizer",
            [
                (
                    "mrn",
                    r"\b(?:MRN|MR#|med(?:ical)?\s+rec(?:ord)?s?\s*(?:number|no\.?|num|#)?|chart\s*(?:number|no\.?|#))"
                    rf"\s*[:#]{{0,2}}\s*{ID_VALUE}",
                    0.9,
                ),
                # A link whose query carries a patient's record: ".../chart?pt=WV-88213094".
                (
                    "record_query",
                    r"(?<=[?&])(?:mrn|pt|ptid|pid|patient_?id|chart|record|mrid)=[A-Z0-9][A-Z0-9-]{4,}\b",
                    0.9,
                ),
            ],
            ["mrn", "record"],
        ),
        _pattern(
            "ACCOUNT_NUMBER",
            "AccountNumberRecognizer",
            [
                (
                    "account",
                    r"\b(?:account|acct|member(?:\s*id)?|subscriber(?:\s*id)?|policy|plan|group|claim|"
                    r"insurance\s*id|health\s*plan(?:\s*id)?|beneficiary|serial|device\s*id|lot|case|"
                    r"patient\s*id|id|s/n|sn)\s*(?:number|no\.?|num|#|id)?\s*[:#]{0,2}\s*"
                    rf"(?:{ID_VALUE}|[A-Z]{{0,4}}-?\d[\d-]{{4,}}[A-Z]?\b)",
                    0.85,
                )
            ],
            ["account", "member", "policy", "serial"],
        ),
        _pattern(
            "AGE_OVER_89",
            "AgeOver89Recognizer",
            [
                ("age_years_old", rf"\b{AGE_OVER_89}[- ](?:years?|yrs?)[- ](?:old|young)\b", 0.85),
                ("age_aged", rf"\b(?:aged?|turn(?:s|ed|ing)?)\s+{AGE_OVER_89}\b", 0.85),
                ("age_at", rf"\bat\s+{AGE_OVER_89},", 0.8),
                ("age_after_name", rf"(?<=[A-Za-z]), {AGE_OVER_89}(?=[,.;)]|\s)", 0.8),
                (
                    "age_is",
                    rf"(?<=[A-Za-z]) is (?:now )?{AGE_OVER_89}\b(?!\s?(?:%|percent|mg|lbs?|kg|units|days))",
                    0.7,
                ),
                ("age_birthday", rf"\b{AGE_OVER_89}(?:st|nd|rd|th)\s+birthday\b", 0.85),
                ("age_yo", rf"\b{AGE_OVER_89}\s?(?:yo|y/o|y\.o\.)\b", 0.85),
                (
                    "age_spelled",
                    r"\b(?:ninety(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?|one hundred"
                    r"(?:[- ]and[- ]\w+)?|a hundred)"
                    r"(?:[- ]years?[- ]old|\s+candles|(?:th|st|nd|rd)?\s+birthday)\b",
                    0.85,
                ),
            ],
            ["age", "old", "birthday"],
        ),
        _pattern(
            "DATE_OF_BIRTH",
            "DateOfBirthRecognizer",
            [
                (
                    "dob",
                    rf"\b(?:DOB|D\.O\.B\.?|date of birth|birth ?date|born(?:\s+(?:on|in))?|"
                    rf"birthday(?:\s+(?:is|was|on))?)\s*[:\-]?\s*(?:[\w,']+\s+){{0,2}}?{DATE}",
                    0.9,
                )
            ],
            ["born", "birth"],
        ),
        _pattern(
            "CARE_DATE",
            "CareDateRecognizer",
            [
                (
                    "care_date",
                    rf"\b(?:admitted|admission|discharged?|surgery|operated|procedure|visit|transplant|"
                    r"implant(?:ed)?|switched on|activated|delivered|diagnosed|seen|treated)\b[^.!?\n]{0,25}?"
                    rf"\b(?:on\s+)?(?:{DATE}|{SHORT_DATE}|{WEEKDAY}|last night|yesterday|this morning)"
                    rf"|\b(?:{WEEKDAY}|{DATE})(?:'s)?\s+(?:ER|ED|emergency|clinic|office)?\s*"
                    r"(?:visit|admission|surgery|appointment|procedure|discharge)\b",
                    0.6,
                )
            ],
            [],
        ),
        _pattern(
            "STREET_ADDRESS",
            "StreetAddressRecognizer",
            [
                (
                    "street",
                    rf"\b\d{{1,6}}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z]+\s+){{1,3}}{STREET_SUFFIX}\b\.?"
                    r"(?:,?\s+(?:Apt|Unit|Suite|Ste|#)\.?\s*\w+)?(?:,\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)?"
                    r"(?:,?\s+[A-Z]{2})?(?:\s+\d{5}(?:-\d{4})?)?",
                    0.7,
                ),
                (
                    "rural_route",
                    r"\b(?:Rural Route|Route|Rte\.?|RR|HC|Star Route)\s+\d+,?\s+Box\s+\d+\b",
                    0.8,
                ),
                ("po_box", r"\bP\.?\s?O\.?\s+Box\s+\d+\b", 0.6),
                (
                    "county_road",
                    r"\b(?:County|Co\.|State|Township|Farm to Market|FM)\s+"
                    r"(?:Rd|Road|Route|Hwy|Highway)\.?\s+\d+\b",
                    0.6,
                ),
                ("zip", r"\bzip(?:\s*code)?\s*[:#]?\s*\d{5}(?:-\d{4})?\b", 0.6),
            ],
            ["address", "lives", "home"],
        ),
        _pattern(
            "VEHICLE_ID",
            "VehicleRecognizer",
            [
                (
                    "plate",
                    r"\b(?:licen[cs]e\s+)?(?:plates?|tags?)(?:\s+(?:number|no\.?|#))?\s*[:#]?\s*"
                    r"(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{1,4}[- ]?[A-Z0-9]{2,4}\b",
                    0.8,
                ),
                ("vin", r"\bVIN\s*[:#]?\s*[A-HJ-NPR-Z0-9]{17}\b", 0.9),
            ],
            ["plate", "vehicle", "car"],
        ),
        _pattern(
            "SOCIAL_HANDLE",
            "SocialHandleRecognizer",
            [("handle", r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?\b", 0.5)],
            [],
        ),
        _pattern(
            "BED_ROOM",
            "BedRoomRecognizer",
            [("bed_room", r"\b(?:bed|room|rm\.?|bay|bunk)\s*#?\s*\d{1,4}[A-Z]?\b", 0.5)],
            [],
        ),
        _pattern(
            "PATIENT_PHOTO",
            "PatientPhotoRecognizer",
            [("photo", lexicon.PHOTO.pattern, 0.5)],
            [],
        ),
        PersonNameRecognizer(),
    ]


_CAP = r"[A-ZÀ-Ö][a-zà-ÿ]+(?:[-'][A-ZÀ-Ö]?[a-zà-ÿ]+)*"
_NAME = re.compile(
    rf"(?<![\w@#]){_CAP}(?:\s+(?:[A-Z]\.|{_CAP}|(?:de|van|von|da|del|la|le|di|St\.)\s+{_CAP}))+(?![\w@])"
)
_INITIAL_NAME = re.compile(rf"(?<![\w@#.])(?:[A-Z]\.\s?){{1,2}}{_CAP}(?![\w@])")
_SINGLE = re.compile(rf"(?<![\w@#]){_CAP}(?![\w@])")
_UPPER_NAME = re.compile(r"(?<![\w@#])[A-Z]{2,}(?:\s+[A-Z]{2,})+(?![\w@])")

_TITLE_BEFORE = re.compile(rf"{lexicon.TITLES}\s*$", re.I)
_STAFF_BEFORE = re.compile(
    rf"(?:{lexicon.STAFF_TITLES}\s*$|{lexicon.STAFF_ROLES}[,:]?\s*$|"
    rf"{lexicon.STAFF_ROLES}[,:]?\s+(?:[A-Z][\w.'-]+\s+){{1,3}}(?:and|&)\s+$|\b(?:our|your|the|new|with)\s+"
    rf"(?:\w+\s+){{0,2}}?{lexicon.STAFF_ROLES}[,:]?\s*$)",
    re.I,
)
_STAFF_AFTER = re.compile(
    rf"^(?:,?\s*{lexicon.CREDENTIALS}\b|,\s+(?:our|the|a|an)\s+(?:\w+\s+){{0,2}}?{lexicon.STAFF_ROLES}"
    r"|\s+(?:is|was|joins|joined|has joined)\s+(?:our|the)\s+(?:new\s+)?"
    rf"(?:\w+\s+){{0,2}}?{lexicon.STAFF_ROLES})",
    re.I,
)
_RELATION_BEFORE = re.compile(rf"{lexicon.RELATIONS}(?:'s)?,?\s*$", re.I)
_SELF_BEFORE = re.compile(r"\b(?:i'?m|i am|my name is|this is|name'?s|signed,?)\s*$", re.I)
_AGE_BEFORE = re.compile(r"\b\d{1,3}[- ](?:year|month)s?[- ]old\s*$|\bat\s+\d{1,3},\s*$", re.I)
_CARE_VERB_BEFORE = re.compile(
    r"\b(?:caring for|cared for|treating|treated|visited|check(?:ing|ed)? on|helped|congrats(?: to)?|"
    r"congratulations(?: to)?|welcome(?: back)?,?|shout-?out to|send (?:love|prayers|hugs) to|"
    r"pray(?:ing)? for|thank you,?|happy birthday,?|get well soon,?|help|patient)\s*$",
    re.I,
)
_IDENTIFIER_AFTER = re.compile(
    r"^(?:,\s*(?:\d|\(|\bMRN|\baccount|\bDOB|\bage)|,?\s+(?:of|from)\s+(?:\d|Route|Rte|RR|County)"
    rf"|,\s+(?:{lexicon.RELATIONS}|age|aged|\d{{1,3}}[,)]))",
    re.I,
)
_AGE_AFTER = re.compile(r"^,\s*(?:age[sd]?\s+)?\d{1,3}\s*(?:,|\)|$|\s+(?:who|and|is|was|has|had)\b)", re.I)
_POSSESSIVE_CARE_AFTER = re.compile(rf"^'s\s+(?:\w+\s+)?{lexicon.CARE}", re.I)
_PRONOUN_AFTER = re.compile(rf"^[^.!?\n]{{0,60}}?{lexicon.PRONOUNS_AFTER}", re.I)
_NAME_WORD = re.compile(rf"^(?:{lexicon.ORG_WORDS}|{lexicon.NOT_NAMES})$", re.I)
_ORG_NEXT = re.compile(rf"^(?:{lexicon.ORG_WORDS}|team|fund|forum|program|foundation|unit|wing)$", re.I)
_STAFF_FIRST = re.compile(rf"^{lexicon.STAFF_TITLES}\s", re.I)
_STAFF_WORD = re.compile(rf"^(?:{lexicon.STAFF_ROLES})$", re.I)
# A capitalized word opening a sentence is a name when it is the subject of what follows.
_SUBJECT_AFTER = re.compile(
    r"^(?:'s\b|,|\s+(?:turned|turns|is|was|has|had|just|went|got|came|left|heads?)\b)"
)
_HASHTAG = re.compile(r"#(\w{4,})")
# "St. Brendan's" names a church or a hospital; "Hazel, our new therapy dog" an animal.
_SAINT_BEFORE = re.compile(r"\b(?:St\.?|Saint|San|Santa|Los|Las)\s+$")
# "San Diego", "Los Alamos": a place name that opens with a Spanish article or saint.
_PLACE_FIRST = re.compile(r"^(?:San|Santa|Los|Las|Saint)\s")
_ANIMAL_AFTER = re.compile(
    r"^(?:'s)?,?\s+(?:is\s+)?(?:our|the|a|an)\s+(?:\w+\s+){0,2}?"
    r"(?:dog|puppy|pup|cat|kitten|pet|mascot|horse|pony|rabbit|parrot)s?\b",
    re.I,
)
_CAMEL_PART = re.compile(r"[A-Z][a-z]+")
# Cues that say little on their own: a venue or an organization's name wins over them.
_WEAK_CUES = frozenset({"identifier", "pronoun", "possessive", "family", "age", "care_verb"})
# A name followed by a company role names the company: "your Anselmo account manager".
_ROLE_AFTER = re.compile(
    r"^(?:'s)?\s+(?:account|sales|territory|field|medical science|key account)\s+"
    r"(?:manager|rep|representative|liaison|team|executive)s?\b|^(?:'s)?\s+reps?\b",
    re.I,
)
# Words only an organization's name ends with (not "Park" or "Hall", which are surnames too).
_ORGANIZATION_END = (
    r"(?:therapeutics|pharma\w*|health(?:care)?|medical|clinics?|hospitals?|regional|labs?|laboratories|"
    r"sciences|biotech|biologics|diagnostics|devices|institute|foundation|inc|llc|ltd|corp|team|"
    r"creek|valley|springs|heights|falls|county|harbou?r)\b"
)
_ORGANIZATION_NAME = re.compile(rf"((?-i:[A-Z][a-z]+\s+){{1,3}}){_ORGANIZATION_END}", re.I)


def _organization_words(text: str) -> frozenset[str]:
    """The capitalized words the text itself uses in an organization's name ("Anselmo" of
    "Anselmo Therapeutics", "Westbrook" of "Westbrook Valley Health"): the same word alone elsewhere
    in the text names that organization, not a person."""
    found: set[str] = set()
    for match in _ORGANIZATION_NAME.finditer(text):
        words = match.group(1).split()
        if words and all(w[0].isupper() for w in words):
            found.update(w for w in words if not _NAME_WORD.match(w))
    return frozenset(found)


@lru_cache(maxsize=1)
def known_names() -> frozenset[str]:
    """Given names and surnames from many locales (data/person_names.txt, rebuilt by build_names.py)."""
    path = Path(__file__).with_name("data") / "person_names.txt"
    return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip())


class PersonNameRecognizer(EntityRecognizer):
    """Names of people, from the cues a reader uses when no NER model is loaded.

    A capitalized sequence is a person when something says so: a courtesy title, a family relation
    before it ("my sister Renata ..."), "I'm ...", an age or identifier right after it, a care verb
    before it ("caring for Henri"), or a he/she/his/her that refers back to it. Organization and
    place words rule a sequence out. Staff cues ("Dr.", ", RD", "our cardiologist") mark the name
    as staff, which the engine does not treat as PHI.
    """

    def __init__(self, *, name_list: bool = True) -> None:
        super().__init__(supported_entities=["PERSON"], name="CuedPersonRecognizer", supported_language="en")
        self.name: str = "CuedPersonRecognizer"
        self._names = known_names() if name_list else frozenset()

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if entities and "PERSON" not in entities:
            return []
        results: list[RecognizerResult] = []
        taken: list[tuple[int, int]] = []
        organizations = _organization_words(text)
        for match in list(_NAME.finditer(text)) + list(_UPPER_NAME.finditer(text)):
            start, end = self._trim(text, match.start(), match.end())
            if end - start < 3 or any(s < end and start < e for s, e in taken):
                continue
            tokens = text[start:end].split()
            if all(t.removesuffix("'s") in organizations for t in tokens):
                continue  # "Anselmo" where the text also says "Anselmo Therapeutics"
            cue = self._cue(text, start, end, single=len(tokens) < 2)
            if cue in _WEAK_CUES and self._names_an_organization(text, start, end):
                continue  # "at the Caldera Springs Community Hall, 18 Tinsmith Road": a venue's address
            if (
                cue is None
                and 2 <= len(tokens) <= 4
                and (self._listed(tokens[0]) or (len(tokens) == 2 and self._listed(tokens[1])))
                and not self._names_an_organization(text, start, end)
                and not self._names_no_person(text, start, end)
            ):
                cue = "name_list"  # a known given name followed by more name words: "Teodora Lisle"
            if cue is None:
                continue
            taken.append((start, end))
            results.append(self._result(start, end, cue, len(tokens) >= 2))
        for match in _SINGLE.finditer(text):
            start, end = match.start(), match.end()
            if any(s < end and start < e for s, e in taken) or _NAME_WORD.match(match.group(0)):
                continue
            if match.group(0).removesuffix("'s") in organizations or _ROLE_AFTER.match(text[end : end + 40]):
                continue  # an organization's name ("your Anselmo account manager")
            if _PLACE_FIRST.match(text[start : end + 2]) or _SAINT_BEFORE.search(
                text[max(0, start - 7) : start]
            ):
                continue  # "San Antonio", "Santa Maria": a place
            cue = self._cue(text, start, end, single=True)
            if cue is None and self._listed(match.group(0)):
                before = text[max(0, start - 3) : start]
                sentence_start = re.search(r"(?:^|[.!?:\n])\s*$", before) and not _SUBJECT_AFTER.match(
                    text[end : end + 12]
                )
                if (
                    not sentence_start
                    and not self._names_an_organization(text, start, end)
                    and not self._names_no_person(text, start, end)
                ):
                    cue = "name_list"
            if cue is None:
                continue
            taken.append((start, end))
            results.append(self._result(start, end, cue, False))
        for match in _INITIAL_NAME.finditer(text):
            # "K. Abernathy-Lowe", "D. Hargrove": an initial and a surname name one person.
            start, end = match.start(), match.end()
            if any(s < end and start < e for s, e in taken):
                continue
            surname = text[start:end].split(".")[-1].strip()
            if _NAME_WORD.match(surname) or not (self._listed(surname) or "-" in surname):
                continue
            if self._cue(text, start, end, single=False) == "staff":
                continue
            taken.append((start, end))
            results.append(self._result(start, end, "initial", True))
        for match in _HASHTAG.finditer(text):
            # A name inside a hashtag ("#GoLorettaGo") ties that person to the post as much as text does.
            for part in _CAMEL_PART.finditer(match.group(1)):
                if len(part.group(0)) >= 4 and self._listed(part.group(0)):
                    start, end = match.start(1) + part.start(), match.start(1) + part.end()
                    results.append(self._result(start, end, "hashtag", False))
                    break
        return results

    def _listed(self, word: str) -> bool:
        word = word.rstrip(".").removesuffix("'s")
        return word in self._names and not _NAME_WORD.match(word)

    @staticmethod
    def _names_no_person(text: str, start: int, end: int) -> bool:
        """A listed name that is a saint's (a place) or an animal's, by what stands around it."""
        return bool(
            _SAINT_BEFORE.search(text[max(0, start - 7) : start])
            or _PLACE_FIRST.match(text[start:end])
            or _ANIMAL_AFTER.match(text[end : end + 50])
        )

    @staticmethod
    def _names_an_organization(text: str, start: int, end: int) -> bool:
        """ "Marisol Heart & Vascular", "the Marisol team": a name that is part of an organization's."""
        after = re.match(r"^(?:'s)?\s*&?\s*([A-Za-z]+)", text[end : end + 30])
        before = re.search(r"(?:\b(?:the|at|of)\s+)$", text[max(0, start - 8) : start], re.I)
        if after and (_ORG_NEXT.match(after.group(1)) or (before and after.group(1).lower() == "team")):
            return True
        previous = re.search(r"([A-Z][a-z]+)\s+$", text[max(0, start - 30) : start])  # "Cardiology Forum"
        words = [w.removesuffix("'s") for w in text[start:end].split()]
        return bool(previous and _ORG_NEXT.match(previous.group(1))) or any(
            _ORG_NEXT.match(w) or _STAFF_WORD.match(w) for w in words
        )

    @staticmethod
    def _trim(text: str, start: int, end: int) -> tuple[int, int]:
        """Drop leading and trailing words that are not name words ("Thank", "Dialysis", ...)."""
        words = list(re.finditer(r"\S+", text[start:end]))

        def not_name(word: str) -> bool:
            return bool(_NAME_WORD.match(word.rstrip(".").removesuffix("'s")))

        while words and not_name(words[0].group(0)):
            words.pop(0)
        while words and not_name(words[-1].group(0)):
            words.pop()
        if not words:
            return start, start
        return start + words[0].start(), start + words[-1].end()

    def _result(self, start: int, end: int, cue: str, full: bool) -> RecognizerResult:
        return RecognizerResult(
            entity_type="PERSON",
            start=start,
            end=end,
            score=0.85 if full else 0.6,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                "cue": cue,
                "full_name": full,
            },
        )

    @staticmethod
    def _cue(text: str, start: int, end: int, *, single: bool) -> str | None:
        before, after = text[max(0, start - 60) : start], text[end : end + 90]
        if _STAFF_BEFORE.search(before) or _STAFF_AFTER.match(after) or _STAFF_FIRST.match(text[start:end]):
            return "staff"  # "Nurse Tamsin": a staff title that opens the name itself
        if re.search(r"\bSt\.?\s+$", before):
            return None  # "St. Brendan's": a saint's name names a place
        if _TITLE_BEFORE.search(before):
            return "title"
        if _RELATION_BEFORE.search(before):
            return "relation"
        if _SELF_BEFORE.search(before):
            return "self"
        if _AGE_BEFORE.search(before):
            return "age"
        if _CARE_VERB_BEFORE.search(before):
            return "care_verb"
        if _AGE_AFTER.match(after):
            return "age"  # "Meet Lorraine, 67, who ...": an age, the way stories introduce a patient
        if _IDENTIFIER_AFTER.match(after):
            return "identifier"
        if _POSSESSIVE_CARE_AFTER.match(after):
            return "possessive"
        sentence_start = re.search(r"(?:^|[.!?]\s+|\n)\s*$", before) is not None
        if single and sentence_start:
            return None
        if _PRONOUN_AFTER.match(after) and not re.match(r"^\s*(?:and|&)\s+[A-Z]", after):
            return "pronoun"
        if re.match(r"^\s+(?:family|household)\b", after) and single:
            return "family"
        return None

"""The screening engine and each of its recognizers, on texts written for these tests."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import PolicyError, Product, load_policy_file, parse_policy
from services.review.screening.catalog import CatalogError, ProductMatcher, load_catalog_file, parse_catalog
from services.review.screening.engine import Screener
from services.review.screening.recognizers import PersonNameRecognizer, PhoneNumberRecognizer, SsnRecognizer

# These tests pin the rules; the trained text model is measured on held-out corpora
# (tests/unit/test_screening_text_model.py, make eval-screening).
RULES_ONLY = frozenset({"text_model"})

CATALOG = [
    Product(name="Cardiozen", generic="examplamab", kind="rx_drug", aliases=["cardio-zen"]),
    Product(name="Breathwell", kind="device"),
    Product(name="Dermalux", generic="fictiderm", kind="rx_drug"),
]


@lru_cache(maxsize=1)
def engine() -> Screener:
    return Screener(load_policy_file(DEFAULT_POLICY_FILE), catalog=CATALOG, without=RULES_ONLY)


def screen(text: str, *, kind: str = "post", consent: bool = False) -> list[str]:
    outcome = engine().screen(text, kind=kind, consent_on_file=consent)
    for finding in outcome.findings:
        assert text[finding.start : finding.end] == finding.text, finding
        assert finding.explanation.endswith(".")
    return outcome.categories


def rules(text: str, *, kind: str = "post", consent: bool = False) -> list[str]:
    return [f.rule for f in engine().screen(text, kind=kind, consent_on_file=consent).findings]


# --- clean texts that look risky ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # staff in their professional role
        "Welcome Dr. Helena Marsh, our new pulmonologist! She joins us from Lakeside and loves kayaking.",
        "Today's tip is from our pharmacist, Omari Fields, PharmD: keep a list of every medicine you take.",
        "Nurse Practitioner Gwen Ito, NP, now sees patients on Tuesdays at the Elm Grove office.",
        # the organization's own contact details (allow-listed and by cue)
        "Questions about a bill? Call us at (555) 010-2000 or write to info@clearpost-demo.org.",
        "Flu shot clinic hours changed. Appointments: 555-020-7788.",
        "Our Riverside clinic has moved to 48 Harbor Road, Riverside, OR 97301. Same phone, same team!",
        # event and operations dates
        "The Heart Walk starts at 9am on Saturday, May 4 in Founders Park. Bring water and a friend!",
        "Our offices close on Monday, January 15 for the holiday and reopen Tuesday at 8am.",
        # negated claims
        "There is no cure for type 1 diabetes yet, but new pumps make daily life much easier.",
        "We can't promise a miracle, but physical therapy helps most people move with less pain.",
        # neutral educational drug mentions with risk information
        "Metformin is often the first medicine for type 2 diabetes. It can cause stomach upset and, rarely, "
        "lactic acidosis, so ask your doctor about the risks.",
        "Cardiozen may cause dizziness, low blood pressure and serious allergic reactions. Do not take "
        "Cardiozen if you are pregnant. Talk to your doctor about whether Cardiozen is right for you.",
        # numbers that are not ages or identifiers
        "Some families drive 95 miles to reach our clinic, so we added telehealth visits.",
        "Over 90,000 people are waiting for a transplant. Register as a donor today.",
        # a public comment that is a question, not a report
        "Does Dermalux sting when you first put it on?",
    ],
)
def test_clean_texts_are_not_flagged(text: str) -> None:
    assert screen(text) == [], rules(text)


# --- phi ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (
            "Please pray for my grandma Eloise Brandt, she was admitted to the ICU last night.",
            "phi.patient_name",
        ),
        ("Our records show MRN 55-201938 for the transfer.", "phi.mrn"),
        ("my ssn is 4 1 2 - 5 5 - 0 9 8 7, is it safe to put on the form?", "phi.ssn"),
        ("Mom's cell 555 7 2 1 0 4 4 9, call her after the surgery", "phi.phone"),
        ("Member ID #HX-88301247 is on the claim for my chemo.", "phi.account_number"),
        ("Patient profile: DOB 07/04/1948, referred for cataract surgery.", "phi.date_of_birth"),
        ("My father, 96, just finished his cardiac rehab at your clinic!", "phi.age_over_89"),
        (
            "Drop off the refill for Walt Pruitt, 77 Birch Lane, he just got home from the hospital.",
            "phi.address",
        ),
        ("Send the discharge papers to my email jkowalski1970@example.net please", "phi.email"),
    ],
)
def test_phi_identifiers_in_a_patient_context(text: str, rule: str) -> None:
    assert "phi" in screen(text, kind="comment")
    assert rule in rules(text, kind="comment")


def test_consent_allows_a_first_name_but_never_a_birth_date() -> None:
    first_name = "Shout-out to Mateo, who rang the bell after his last round of chemo! 🔔"
    assert screen(first_name, consent=True) == []
    assert screen(first_name) == ["consent_missing"]
    birthday = "Mateo finished chemo on his birthday, the ninth of March, born in two thousand fourteen!"
    assert "phi.date_of_birth" in rules(birthday, consent=True)


def test_handles_identify_patients_but_not_the_organization() -> None:
    org = "@ClearpostDemo your parking garage is finally open, thank you!"
    assert screen(org, kind="comment") == []
    patient = "@mvasquez88 Ms. Vasquez, your biopsy results are ready in the portal."
    assert "phi.handle" in rules(patient, kind="comment")


def test_a_url_naming_the_patient() -> None:
    text = "Help my brother Tomasz Nowak with his transplant costs: donate.example.org/tomasz-nowak-kidney"
    assert "phi.identifying_url" in rules(text, kind="comment")


def test_rural_address_of_a_patient() -> None:
    text = "Home health visited Ada's farm on County Rd 9 to change her wound dressing after surgery."
    assert "phi.address" in rules(text)


# --- consent ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "“Best care I've ever had,” says one of our knee replacement patients. 💙",
        "Swipe for before & after photos from our newest smile makeover! #veneers",
        "A 72-year-old man came to our ER with chest pain that turned out to be his gallbladder.",
        "Our patient Lucia is walking again six weeks after her hip replacement!",
    ],
)
def test_patient_stories_need_consent(text: str) -> None:
    assert screen(text) == ["consent_missing"]
    assert screen(text, consent=True) == []


def test_comments_are_not_the_organizations_stories() -> None:
    assert screen("Thank you Dr. Marsh for finding my lung nodule early!", kind="comment") == []


# --- FDA --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Our detox tea cures arthritis naturally.", "unapproved_claim.cure"),
        ("Results guaranteed or your money back!", "unapproved_claim.guarantee"),
        ("Breathwell outperforms every other inhaler spacer on the market.", "unapproved_claim.superiority"),
        (
            "Dermatologists are increasingly turning to Dermalux for scalp psoriasis.",
            "unapproved_claim.off_label",
        ),
        ("Our laser facial is completely safe for every skin type.", "unapproved_claim.absolute_safety"),
        ("Try our new joint supplement: zero side effects!", "unapproved_claim.no_side_effects"),
    ],
)
def test_unapproved_claims(text: str, rule: str) -> None:
    assert rule in rules(text)


def test_fair_balance_needs_risk_information_or_the_safety_statement() -> None:
    promo = "Cardio-zen helps keep your heart rhythm steady. Ask your cardiologist about it!"
    assert screen(promo) == ["fda_fair_balance"]
    product = CATALOG[0].model_copy(update={"safety_statement": "Cardiozen is not for everyone."})
    with_statement = Screener(load_policy_file(DEFAULT_POLICY_FILE), catalog=[product], without=RULES_ONLY)
    balanced = promo + " Cardiozen is not for everyone."
    assert with_statement.screen(balanced).categories == []


def test_promotion_rules_do_not_apply_to_public_comments() -> None:
    assert screen("Cardiozen is a miracle, my heart has never felt better!", kind="comment") == []


# --- adverse events ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Three days on Dermalux and my face is covered in hives.",
        "my Breathwell spacer cracked and now the mask leaks every time",
        "Started lisinopril last week and my lips swelled up overnight",
        "since my dad started Cardiozen he gets dizzy every time he stands up",
        "dermalux burns like crazy",
    ],
)
def test_adverse_event_reports(text: str) -> None:
    assert "adverse_event" in screen(text, kind="comment")


@pytest.mark.parametrize(
    "text",
    [
        "Been on Cardiozen for a month, no side effects so far!",
        "Cardiozen side effects can include dizziness and headache; call us if they bother you.",
        "My stomach hurts, is that from the flu going around?",
    ],
)
def test_no_adverse_event_when_negated_hypothetical_or_productless(text: str) -> None:
    assert "adverse_event" not in screen(text, kind="comment")


# --- recognizers and parts ----------------------------------------------------------------------------


def test_phone_recognizer_keeps_555_numbers_that_phonenumbers_rejects() -> None:
    found = PhoneNumberRecognizer().analyze("reach me at 555-019-2233 or (555) 0192234", ["PHONE_NUMBER"])
    assert len(found) == 2
    assert PhoneNumberRecognizer().analyze("order 123-456-7890", ["PHONE_NUMBER"]) == []  # area code 1xx


def test_ssn_recognizer_reads_spaced_digits_and_refuses_impossible_ones() -> None:
    assert len(SsnRecognizer().analyze("1 2 3 - 4 5 - 6 7 8 9", ["US_SSN"])) == 1
    assert SsnRecognizer().analyze("000-12-3456", ["US_SSN"]) == []


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Please welcome Dr. Rosa Lindqvist to the team.", "staff"),
        ("Our dietitian, Sam Okafor, RD, shares a recipe.", "staff"),
        ("My aunt Delphine Moreau is in the ICU.", "relation"),
        ("Hi, I'm Gideon Park and I need my records.", "self"),
        ("Mr. Leopold Santos was discharged today.", "title"),
    ],
)
def test_person_names_are_recognized_from_cues(text: str, cue: str) -> None:
    [person] = PersonNameRecognizer().analyze(text, ["PERSON"])
    assert (person.recognition_metadata or {})["cue"] == cue


def test_no_person_without_a_cue() -> None:
    assert PersonNameRecognizer().analyze("Cedar Valley Health opens a new wing.", ["PERSON"]) == []


def test_product_matcher_reads_hyphens_spaces_and_one_typo() -> None:
    matcher = ProductMatcher(CATALOG)
    found = matcher.find("cardio zen, Dermaluxx and fictiderm, but not Derma or Breath")
    assert [(m.product.name, m.how) for m in found] == [
        ("Cardiozen", "joined"),
        ("Dermalux", "typo"),
        ("Dermalux", "exact"),
    ]


def test_catalog_reads_the_corpus_format_and_reports_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "products.json"
    good.write_text('{"products": [{"name": "Ossify", "kind": "rx_drug", "launch": 2024}]}')
    assert [p.name for p in load_catalog_file(good)] == ["Ossify"]
    with pytest.raises(CatalogError, match="kind"):
        parse_catalog({"products": [{"name": "NoKind"}]})
    bad = tmp_path / "broken.json"
    bad.write_text("{")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_catalog_file(bad)


def test_policy_sets_severities_and_refuses_unknown_categories() -> None:
    import yaml

    document = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    document["screening"] = {"severities": {"adverse_event": "block"}}
    policy = parse_policy(document)
    outcome = Screener(policy, catalog=CATALOG, without=RULES_ONLY).screen(
        "dermalux gave me blisters", kind="comment"
    )
    assert outcome.blocking and outcome.findings[0].severity == "block"
    document["screening"] = {"severities": {"gossip": "warn"}}
    with pytest.raises(PolicyError, match="gossip"):
        parse_policy(document)


@pytest.mark.parametrize(
    "text",
    [
        # Short forms and names Faker's lists lack, from the name dictionary.
        "Room 214 will miss you, Walt! After 9 days with us for a hip fracture he heads home today.",
        "Welcome back to cardiac rehab, Jalen Okafor, admitted last week after a collapse at practice.",
    ],
)
def test_names_from_the_name_dictionary_are_patients_in_a_care_story(text: str) -> None:
    assert "phi" in screen(text)


@pytest.mark.parametrize(
    "text",
    [
        # An animal in apposition is not a patient.
        "Meet Rosie, our new therapy dog at the clinic! She visits the infusion suite on Tuesdays.",
        # Front-office staff and places opening with a geographic word.
        "Farewell to our receptionist, Ilse Varga, after 30 years at the front desk of our clinic.",
        "Our clinic co-hosts the Port Ansel stroke summit with the county EMS council on Nov 7.",
    ],
)
def test_what_only_looks_like_a_named_patient(text: str) -> None:
    assert "phi" not in screen(text) and "consent_missing" not in screen(text)


def test_a_commenter_speaking_of_their_own_health_names_no_patient_by_the_handle_they_answer() -> None:
    own = "@walt_rheum do you take walk-ins on saturday? my knee has been swollen all week"
    assert "phi" not in screen(own, kind="comment")
    # ...but a commenter who tags someone else's handle with that person's health does.
    other = "tagging my sister @walt.j.okafor bc her knee surgery at the clinic went badly"
    assert "phi" in screen(other, kind="comment")


def test_a_saints_name_names_a_place() -> None:
    assert (
        PersonNameRecognizer().analyze("Services are Friday at St. Anselm's, near the clinic.", ["PERSON"])
        == []
    )


def test_a_month_and_day_after_a_care_word_is_a_date_of_care() -> None:
    assert "phi.care_date" in rules(
        "So proud of you, Marguerite! Discharged on 4/2 after her stroke, home at last."
    )
    assert "phi" not in screen("Patients rated our clinic 4/5 for wait times this quarter. Thank you!")

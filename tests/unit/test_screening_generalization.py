"""The parts of the screener built to hold on unseen texts, each on texts written for these tests.

Names, products and phrasing here are invented for the tests and appear in no corpus.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import Product, load_policy_file
from services.review.screening.catalog import ProductMatcher
from services.review.screening.engine import PARTS, Screener
from services.review.screening.eval import ablation, corpus_file, products_file
from services.review.screening.recognizers import known_names

CATALOG = [
    Product(
        name="Pulmavex",
        generic="exotiropium",
        kind="rx_drug",
        indication="maintenance treatment of COPD in adults",
    ),
    Product(
        name="Ocuvanta",
        kind="device",
        indication="slowing vision loss in children 6 to 14",
    ),
    Product(name="Migrastel", generic="fictriptan", kind="rx_drug", indication="acute migraine in adults"),
]


@lru_cache(maxsize=4)
def engine(without: frozenset[str] = frozenset()) -> Screener:
    # The rules, pinned; the trained text model is measured on held-out corpora instead.
    return Screener(load_policy_file(DEFAULT_POLICY_FILE), catalog=CATALOG, without=without | {"text_model"})


def screen(
    text: str, *, kind: str = "post", consent: bool = False, without: frozenset[str] = frozenset()
) -> list[str]:
    outcome = engine(without).screen(text, kind=kind, consent_on_file=consent)
    for finding in outcome.findings:
        assert text[finding.start : finding.end] == finding.text, finding
        assert finding.explanation.endswith(".")
    return outcome.categories


def rules(text: str, *, kind: str = "post") -> list[str]:
    return [f.rule for f in engine().screen(text, kind=kind).findings]


# --- PHI: names without a title or care verb --------------------------------------------------------


def test_the_name_list_is_shipped_and_holds_many_locales() -> None:
    names = known_names()
    assert len(names) > 10_000
    assert {"Priya", "Mateo", "Svetlana", "Kwame", "Tomasz"} <= names
    assert "Will" not in names and "Hope" not in names  # common words are left out


@pytest.mark.parametrize(
    "text",
    [
        "Big smiles from Rosalind Okafor, who walked out of our cardiac unit today after her bypass!",
        "Tomasz turned 7 on the pediatric ward this week and the nurses brought a cake.",
        "Going home after 9 days with us for a broken hip: good luck, Mateo!",
        "Stay strong! #TeamSvetlanaStrong is back in the ICU tonight after her transplant.",
    ],
)
def test_a_listed_name_in_a_care_context_is_phi_and_needs_consent(text: str) -> None:
    assert {"phi", "consent_missing"} <= set(screen(text))


def test_a_first_name_alone_is_allowed_with_consent_but_not_a_birth_date() -> None:
    assert "phi" not in screen("Tomasz turned 7 on the pediatric ward this week!", consent=True)
    assert "phi" in screen("Tomasz, born 03/04/2017, is home from the pediatric ward.", consent=True)


@pytest.mark.parametrize(
    "text",
    [
        "Meet the Marisol Heart team at Saturday's health fair, booth 12.",  # a name inside an organization's
        "Our pharmacist Dmitri Volkov, PharmD, answers medication questions on Fridays.",  # staff
        "Priya Sharma Foundation grants fund our new pediatric wing.",
    ],
)
def test_names_of_organizations_and_staff_are_not_patients(text: str) -> None:
    assert "phi" not in screen(text)


def test_an_initial_and_surname_is_a_name() -> None:
    assert "phi.patient_name" in rules("Lab notice: the sample for R. Castellano-Diaz drawn 4/2 was lost.")


def test_a_reply_that_discloses_an_appointment_is_phi_not_a_story() -> None:
    text = "@mkowalski88 Hi Marta, we've moved your infusion appointment to Tuesday. \u2013 Lakeside Infusion"
    assert screen(text, kind="comment") == ["phi"]


@pytest.mark.parametrize(
    "text, rule",
    [
        (
            "Parking: the blue sedan with plate 7KQL-482 in the ER bay since the admission last night",
            "phi.vehicle_id",
        ),
        (
            "Your results: portal.example-clinic.org/view?mrn=55120873 (log in with your code).",
            "phi.record_link",
        ),
    ],
)
def test_identifiers_in_unfamiliar_formats(text: str, rule: str) -> None:
    assert rule in rules(text)


def test_our_patients_in_a_notice_is_not_a_patient_story() -> None:
    text = "From March 1, our patients can book lab visits online instead of calling the front desk."
    assert screen(text) == []


# --- adverse events in everyday words ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "pulmavex week 2 and my throat feels like sandpaper and my voice is gone hoarse",
        "my nan's been on pulmavex a month and now she can barely walk to the mailbox",
        "Ocuvanta lens popped out and scratched my boy's eye, he is screaming in pain",
        "migrastell gave me pins and needles down both arms for an hour",  # a typo in the name
        "the ocuvanta app keeps disconnecting and it read 0 when the lens was in, no alerts at all",
    ],
)
def test_side_effects_told_in_everyday_words(text: str) -> None:
    assert "adverse_event" in screen(text, kind="comment")


def test_everyday_words_are_what_finds_them() -> None:
    text = "pulmavex week 2 and my throat feels like sandpaper"
    assert "adverse_event" not in screen(
        text, kind="comment", without=frozenset({"consumer_words", "text_model"})
    )


@pytest.mark.parametrize(
    "text",
    [
        "Migraine stealing your weekends? Migrastel (fictriptan) is for acute migraine in adults. "
        "It may cause dizziness and nausea; do not take it with other triptans.",
        "Asking before I start: is the cough with Pulmavex common or just forum talk?",
    ],
)
def test_what_a_product_treats_and_questions_about_risks_are_not_reports(text: str) -> None:
    kind = "comment" if text.startswith("Asking") else "post"
    assert "adverse_event" not in screen(text, kind=kind)


# --- FDA -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Pulmavex works faster than any other inhaler on the shelf. Pulmavex may cause thrush.",
        "Ocuvanta is the safest lens ever made. Eye infections can occur; follow lens-care steps.",
        "We fit adults with Ocuvanta too. Eye infections can occur; follow lens-care steps.",
        "Pulmavex is now available for kids with asthma. Pulmavex may cause thrush and hoarseness.",
        "Throw out your pills: our breathing reset clears asthma in 10 days.",
    ],
)
def test_unapproved_claims_beyond_the_basic_ones(text: str) -> None:
    assert "fda_unapproved_claim" in screen(text)


def test_off_label_is_judged_against_the_indication() -> None:
    assert "unapproved_claim.off_indication" in rules("Pulmavex now helps teens breathe easier at practice.")
    # risk information that names another population is not promotion to it
    assert "unapproved_claim.off_indication" not in rules(
        "Pulmavex (exotiropium) helps adults with COPD breathe easier. Pulmavex is not approved for children "
        "and may cause thrush."
    )


def test_the_organizations_reply_promotes_a_patients_comment_does_not() -> None:
    reply = "Great question! Pulmavex helps many of our patients breathe easier. \u2013 Lakeside Lung Clinic"
    assert "fda_fair_balance" in screen(reply, kind="comment")
    assert screen("Pulmavex helps me breathe easier, love it", kind="comment") == []


def test_a_link_or_a_vague_phrase_is_not_risk_information() -> None:
    assert "fda_fair_balance" in screen("Breathe easier with Pulmavex. Side effects may occur.")
    assert "fda_fair_balance" in screen(
        "Breathe easier with Pulmavex. See full prescribing information at the link."
    )
    assert "fda_fair_balance" not in screen(
        "Breathe easier with Pulmavex. Pulmavex may cause thrush and hoarseness."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Pharmacy update: Pulmavex moves to formulary tier 2 on most plans from June 1.",
        "Before each Pulmavex dose, ask yourself: any fever, any new cough? Tell your care team.",
        "Cure rates for early skin cancers top 95%. Check your skin monthly.",
    ],
)
def test_notes_and_statistics_are_not_promotion(text: str) -> None:
    assert screen(text) == []


# --- products as people type them ---------------------------------------------------------------------


def test_two_typos_in_a_long_name() -> None:
    matcher = ProductMatcher([Product(name="Dorvalynt", kind="device")])
    assert [m.how for m in matcher.find("my dorvalint stim")] == ["typo"]
    assert [m.how for m in matcher.find("my dorvelint stim")] == ["typo"]  # two slips
    assert matcher.find("dorian") == []
    off = ProductMatcher([Product(name="Dorvalynt", kind="device")], two_edits=False)
    assert off.find("my dorvelint stim") == []


# --- measurement ------------------------------------------------------------------------------------------


def test_each_corpus_finds_its_own_catalog(tmp_path: object) -> None:
    from pathlib import Path

    corpus = Path("shared/corpus/screening-dev-2.jsonl")
    assert products_file(corpus).name == "products-dev-2.json"
    assert corpus_file(Path("shared/corpus/screening-dev.jsonl")) == Path("shared/corpus/screening-dev.jsonl")


def test_the_ablation_has_a_row_per_part(tmp_path: object) -> None:
    import json
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "screening-x.jsonl").write_text(
        json.dumps(
            {
                "id": "T-1",
                "kind": "comment",
                "text": "pulmavex gave me a rash",
                "context": {"consent_on_file": False},
                "expect": {"flag": True, "categories": ["adverse_event"]},
            }
        )
        + "\n"
    )
    (folder / "products-x.json").write_text(json.dumps({"products": [p.model_dump() for p in CATALOG]}))
    table = ablation(folder / "screening-x.jsonl", DEFAULT_POLICY_FILE)
    assert table.count("\n| ") == len(PARTS) + 3  # header, rule, all parts, one row per part off


def test_a_listed_surname_after_an_unlisted_given_name_is_a_full_name() -> None:
    text = "Thank you to the family of Zebulon Lindqvist, who died in our hospice unit in May."
    assert "phi.patient_name" in rules(text)
    assert "phi" not in screen(text, without=frozenset({"name_list", "text_model"}))


def test_an_age_over_89_spelled_out() -> None:
    assert "phi.age_over_89" in rules("Ninety-eight candles on the cake in our dialysis unit today!")
    assert "phi" not in screen("Ninety-eight volunteers ran the hospital 5K today!")


@pytest.mark.parametrize(
    "text",
    [
        "Thank you Nurse Imogen on 4 West, you made my knee surgery recovery so much easier!",
        "Services for our volunteer are Friday at St. Columba's; the clinic closes at noon.",
        "Our front desk team kept a 100% record for on-time check-ins this quarter!",
    ],
)
def test_staff_titles_saints_and_statistics_are_not_findings(text: str) -> None:
    assert screen(text) == []


def test_one_hundred_percent_of_an_outcome_is_a_claim() -> None:
    assert "fda_unapproved_claim" in screen("Our laser clinic: 100% success rate for dry eyes!")


# --- unseen texts, set 3 (docs/screening.md): brands, everyday symptoms, claims, venues, replies --------

PEN_CATALOG = [
    Product(
        name="Brevoxa Pen", generic="tilmaglutide", kind="drug_device", indication="type 2 diabetes in adults"
    ),
    Product(
        name="Orvelle",
        generic="pranoclast",
        kind="biologic",
        indication="osteoporosis in postmenopausal women",
    ),
]


@lru_cache(maxsize=1)
def pen_engine() -> Screener:
    return Screener(
        load_policy_file(DEFAULT_POLICY_FILE), catalog=PEN_CATALOG, without=frozenset({"text_model"})
    )


def pen_screen(text: str, *, kind: str = "post") -> list[str]:
    return pen_engine().screen(text, kind=kind).categories


def test_a_brand_without_its_form_word_names_the_product() -> None:
    [mention] = ProductMatcher(PEN_CATALOG).find("started brevoxa last month")
    assert mention.product.name == "Brevoxa Pen"
    assert ProductMatcher([Product(name="Care Plus", kind="device")]).find("we care a lot") == []


@pytest.mark.parametrize(
    "text",
    [
        "two weeks on brevoxa and my feet are puffed up so bad i cant get shoes on",
        "ever since brevoxa my mom keeps hearing voices at night, we are scared",
        "brevoxa hangover every single morning, nodded off at my desk twice",
        "my sugar shot way up after the brevoxa switch, ended up in urgent care",
    ],
)
def test_side_effects_told_in_everyday_words_are_adverse_events(text: str) -> None:
    assert "adverse_event" in pen_screen(text, kind="comment")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (
            "Brevoxa Pen: the most advanced diabetes treatment available today.",
            "unapproved_claim.superiority",
        ),
        ("Brevoxa Pen is the only diabetes medicine you'll ever need.", "unapproved_claim.superiority"),
        ("Orvelle builds more bone than other treatments.", "unapproved_claim.superiority"),
        ("Orvelle puts osteoporosis into permanent remission.", "unapproved_claim.permanent_result"),
        ("Orvelle works just as well for men, ask about it!", "unapproved_claim.off_label"),
    ],
)
def test_superiority_permanence_and_off_label_claims(text: str, rule: str) -> None:
    assert rule in [f.rule for f in pen_engine().screen(text).findings]


def test_a_comparison_with_placebo_and_risks_in_plain_words_are_balanced() -> None:
    text = (
        "In two studies Orvelle raised bone density faster than placebo. Some people get joint pain or "
        "low calcium; don't use it if you have low blood calcium, and check with your doctor first."
    )
    assert pen_screen(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "We're hiring pharmacists at our Lindenfield site: help us bring Orvelle to more patients.",
        "The Orvelle return bins moved to the Harwick pharmacy lobby, 12 Quarry Lane.",
        "Our heart failure class meets in the Maplecourt Community Hall, 45 Birch Road. RSVP (312) 555-0190.",
        "Questions about a bill? Please call Patient Financial Services at (312) 555-0142.",
    ],
)
def test_hiring_returns_venues_and_departments_are_not_findings(text: str) -> None:
    assert pen_screen(text) == []


def test_a_public_reply_telling_a_named_person_their_appointment_is_phi() -> None:
    findings = (
        pen_engine()
        .screen(
            "Hi Rosalind! You're all set for your Orvelle infusion on the 9th at 2:15 pm. See you then! "
            "— Harwick Bone Clinic",
            kind="comment",
        )
        .findings
    )
    assert [(f.category, f.rule, f.text) for f in findings] == [("phi", "phi.appointment", "Rosalind")]


@pytest.mark.parametrize(
    "text",
    [
        "Found at the front desk: a wristband with MRN#: 07-5521-4K. Please claim it at security.",
        "Left in the lab: a glucose meter, serial TX/GM-40-77120-C. Call the lab to claim it.",
        "Her results are at portal.harwick.example/chart?pt=HB-55120983 but the page will not load.",
    ],
)
def test_identifiers_in_the_formats_systems_print_are_phi(text: str) -> None:
    assert "phi" in pen_screen(text, kind="comment")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Orvelle: the strongest bone builder ever made.", "unapproved_claim.superiority"),
        ("Brevoxa Pen lowers sugar faster, steadier than older injections.", "unapproved_claim.superiority"),
        ("Brevoxa Pen is more convenient than anything else out there.", "unapproved_claim.superiority"),
        (
            "Brevoxa Pen: the diabetes pen endocrinologists... nurses trust most.",
            "unapproved_claim.superiority",
        ),
        ("Orvelle also helps with arthritis pain, ask your doctor!", "unapproved_claim.off_label"),
        ("Plenty of docs are prescribing Orvelle for younger patients now.", "unapproved_claim.off_label"),
        ("Orvelle is safe during pregnancy, keep taking it.", "unapproved_claim.absolute_safety"),
    ],
)
def test_more_claim_frames(text: str, rule: str) -> None:
    assert rule in [f.rule for f in pen_engine().screen(text).findings]


def test_a_superlative_about_a_patient_is_no_claim() -> None:
    assert "fda_unapproved_claim" not in pen_screen(
        "Happy 101st to the oldest patient ever in our rehab gym!"
    )


@pytest.mark.parametrize(
    "text",
    [
        "my aunt on brevoxa fell asleep mid-conversation twice this week",
        "brevoxa day 5 and my hair is coming out in the brush",
        "orvelle shot and i remember nothing from that afternoon",
    ],
)
def test_more_everyday_side_effects(text: str) -> None:
    assert "adverse_event" in pen_screen(text, kind="comment")


@pytest.mark.parametrize(
    "text",
    [
        "Harwick Biologics reports fourth-quarter revenue led by Orvelle.",
        "Our infusion techs Maren Solberg and Teodor Vance keep the Saturday clinic running.",
        "Harwick Biologics will present Orvelle data at the congress in San Antonio.",
    ],
)
def test_corporate_notices_staff_and_places_are_not_findings(text: str) -> None:
    assert pen_screen(text) == []

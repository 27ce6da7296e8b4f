"""Words and patterns a compliance reviewer reads for, grouped by what they signal.

These are general vocabularies (how patients, staff, promotions and side-effect reports are
phrased), not sentences from any corpus. Every pattern is compiled case-insensitive unless noted.
"""

from __future__ import annotations

import re


def words(*alternatives: str) -> str:
    return r"\b(?:" + "|".join(alternatives) + r")(?!\w)"


IGNORE_CASE = re.IGNORECASE

# --- people ---------------------------------------------------------------------------------------

TITLES = words(r"mr\.?", r"mrs\.?", r"ms\.?", r"miss", r"mx\.?")
STAFF_TITLES = words(r"dr\.?", "doctor", "nurse", "prof\\.?", "professor")
CREDENTIALS = words(
    "md",
    "do",
    "rn",
    "np",
    "pa-c",
    "pa",
    "rd",
    "rdn",
    "dds",
    "dmd",
    "od",
    "phd",
    "pharmd",
    "lpn",
    "cnm",
    "crna",
    "aprn",
    "fnp",
    "dpt",
    "pt",
    "ot",
    "slp",
    "aud",
    "au\\.d",
    "lcsw",
    "facc",
    "facs",
)
STAFF_ROLES = words(
    r"(?:sleep |lab |pharmacy |surgical |x-ray |ultrasound )?techs?",
    r"technicians?",
    r"navigators?",
    r"coordinators?",
    r"\w*ologists?",
    r"\w*iatrists?",
    "surgeons?",
    "physicians?",
    "nurses?",
    "dietitians?",
    "pharmacists?",
    "hygienists?",
    "therapists?",
    "practitioners?",
    "providers?",
    "doctors?",
    "dentists?",
    "orthodontists?",
    "optometrists?",
    "audiologists?",
    "technicians?",
    "medical director",
    "ceo",
    "president",
    "founder",
    "chief",
    "director",
    "manager",
    "coordinator",
    "educator",
    "midwife",
    "chaplain",
    "fellows?",
    "residents?",
    # Front-office and support staff are named in posts as often as clinicians.
    "receptionists?",
    "administrators?",
    "assistants?",
    "aides?",
    "paramedics?",
    "interpreters?",
    "secretar(?:y|ies)",
    "schedulers?",
    "custodians?",
    "volunteers?",
)
RELATIONS = words(
    "mom",
    "mother",
    "dad",
    "father",
    "son",
    "daughter",
    "sister",
    "brother",
    "husband",
    "wife",
    "partner",
    "grandma",
    "grandmother",
    "grandpa",
    "grandfather",
    "grandson",
    "granddaughter",
    "aunt",
    "uncle",
    "niece",
    "nephew",
    "cousin",
    "baby",
    "child",
    "kid",
    "friend",
    "neighbor",
    "neighbour",
    "fianc[eé]e?",
    "stepson",
    "stepdaughter",
    "mum",
    "papa",
    "mama",
)
PRONOUNS_AFTER = words("he", "she", "his", "her", "him", "hers", "himself", "herself")
# Words that make a capitalized sequence an organization, place, event or product, not a person.
ORG_WORDS = words(
    "care",
    "clinic",
    "clinics",
    "center",
    "centre",
    "health",
    "healthcare",
    "hospital",
    "hospitals",
    "regional",
    "medical",
    "medicine",
    "dental",
    "dentistry",
    "dermatology",
    "urology",
    "cardiology",
    "pharmacy",
    "labs?",
    "laboratories",
    "biologics",
    "pharma",
    "pharmaceuticals",
    "neuro",
    "bio",
    "biotech",
    "therapeutics",
    "diagnostics",
    "devices",
    "sciences",
    "ems",
    "council",
    "summit",
    "conference",
    "symposium",
    # Place names that open with a common geographic word: "Port Ansel", "Fort Lee", "Mount Airy".
    "port",
    "fort",
    "mount",
    "mt",
    "cape",
    "harbou?r",
    "bay",
    "beach",
    "springs",
    "falls",
    "heights",
    "village",
    "partners",
    "group",
    "associates",
    "institute",
    "university",
    "college",
    "school",
    "foundation",
    "society",
    "association",
    "co-op",
    "coop",
    "cooperative",
    "inc",
    "llc",
    "ltd",
    "corp",
    "company",
    "mutual",
    "insurance",
    "county",
    "city",
    "state",
    "fair",
    "festival",
    "parade",
    "day",
    "week",
    "month",
    "year",
    "tower",
    "garage",
    "parking",
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "lane",
    "ln",
    "drive",
    "dr",
    "boulevard",
    "way",
    "park",
    "river",
    "creek",
    "lake",
    "valley",
    "ridge",
    "hills?",
    "prairie",
    "program",
    "team",
    "unit",
    "department",
    "office",
    "lounge",
    "wellness",
    # Venues and departments: "Caldera Springs Community Hall", "Patient Financial Services".
    "hall",
    "pavilion",
    "auditorium",
    "library",
    "church",
    "community",
    "campus",
    "lobby",
    "suite",
    "room",
    "floor",
    "wing",
    "services",
    "relations",
    "financial",
    "billing",
    "registration",
    "advocacy",
    "experience",
    "vision",
    "hearing",
    "sleep",
    "kidney",
    "allergy",
    "women's",
    "children's",
    "heart",
    "eye",
    "skin",
    "spa",
    "studio",
    "services",
    "network",
    "trial",
    "study",
    "awareness",
    "information",
    "prescribing",
    "safety",
    "important",
    "warning",
    "boxed",
    "north",
    "south",
    "east",
    "west",
    "saint",
    "mount",
    "fort",
    "new",
    "national",
    "american",
    "us",
    "u\\.s",
    "christmas",
    "eve",
    "thanksgiving",
    "easter",
    "independence",
    "memorial",
    "labor",
    "veterans",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "grand",
    "rounds",
    "news",
    "update",
    "alert",
    "notice",
    "facebook",
    "instagram",
    "linkedin",
)
# Common capitalized words at the start of a clause that are not names.
NOT_NAMES = words(
    # Eponymous diseases name no person: "Parkinson's disease", "Crohn's".
    "parkinson",
    "alzheimer",
    "crohn",
    "hodgkin",
    "huntington",
    "hashimoto",
    "graves",
    "tourette",
    "addison",
    "cushing",
    "raynaud",
    "sj[oö]gren",
    "asperger",
    "kawasaki",
    "the",
    "a",
    "an",
    "our",
    "your",
    "my",
    "his",
    "her",
    "their",
    "this",
    "that",
    "these",
    "those",
    "we",
    "you",
    "i",
    "it",
    "they",
    "he",
    "she",
    "please",
    "thank",
    "thanks",
    "congrats",
    "congratulations",
    "happy",
    "welcome",
    "meet",
    "join",
    "ask",
    "call",
    "book",
    "see",
    "get",
    "find",
    "visit",
    "learn",
    "read",
    "swipe",
    "tap",
    "click",
    "check",
    "come",
    "now",
    "new",
    "today",
    "tomorrow",
    "yesterday",
    "tonight",
    "just",
    "also",
    "and",
    "or",
    "but",
    "so",
    "if",
    "when",
    "after",
    "before",
    "since",
    "for",
    "with",
    "at",
    "on",
    "in",
    "of",
    "to",
    "from",
    "by",
    "all",
    "every",
    "each",
    "one",
    "two",
    "three",
    "first",
    "last",
    "next",
    "big",
    "huge",
    "great",
    "good",
    "best",
    "real",
    "true",
    "free",
    "yes",
    "no",
    "not",
    "why",
    "how",
    "what",
    "who",
    "where",
    "here",
    "there",
    "shout-out",
    "shoutout",
    "tears",
    "fall",
    "stay",
    "be",
    "ready",
    "quit",
    "brush",
    "sleep",
    "dry",
    "love",
    "patient",
    "patients",
    "appreciation",
    "construction",
    "tomorrow's",
    "today's",
    "menopause",
    "important",
    "boxed",
    "clinicians",
    "prescribers",
    "doctors",
    "nurses",
    "mom",
    "dad",
    "god",
    "bless",
    "hi",
    "hello",
    "hey",
    "dear",
    "update",
    "psa",
    "fyi",
    "note",
    "alt",
    "text",
    "photo",
    "video",
    "dm",
    "rip",
)

# --- care context ---------------------------------------------------------------------------------

CARE = words(
    "patients?",
    "admitted",
    "admission",
    "discharged?",
    "discharge",
    "hospitali[sz]ed",
    "hospital",
    "er",
    "icu",
    "nicu",
    "ward",
    "bed",
    "surgery",
    "surgical",
    "operation",
    "procedure",
    "transplant",
    "dialysis",
    "chemo\\w*",
    "radiation",
    "diagnos\\w+",
    "treat\\w*",
    "therapy",
    "clinic",
    "appointment",
    "visit",
    "implant\\w*",
    "stitches",
    "injury",
    "injured",
    "accident",
    "fracture",
    "cancer",
    "tumou?r",
    "stroke",
    "reaction",
    "allerg\\w*",
    "infection",
    "condition",
    "disease",
    "disorder",
    "syndrome",
    "recovery",
    "recovering",
    "rehab\\w*",
    "prescription",
    "refill",
    "medication",
    "meds",
    "labs?",
    "scan",
    "x-ray",
    "mri",
    "biopsy",
    "checkup",
    "check-up",
    "exam",
    "screening",
    "test results?",
    "hearing aids?",
    "cataract",
    "glasses",
    "braces",
    "ortho\\w*",
    "ward",
    "unit",
    "wristband",
    "mrn",
    "ordeal",
    "challenge",
    "kidney stone",
    "cochlear",
    "cpap",
    "pregnan\\w*",
    "birth",
    "delivered",
    "baby",
    "nephro\\w*",
    "cardio\\w*",
    "derm\\w*",
    "onco\\w*",
    "fundraiser",
    "costs",
    "bills?",
    "insurance",
    "care team",
    # units, settings and events of care beyond the basics
    "picu",
    "ed",
    "hospice",
    "palliative",
    "pharmacy",
    "copay",
    "specimen",
    "redraw",
    "portal",
    "lab results",
    "dose",
    "doses",
    "injections?",
    "infusion",
    "pump",
    "inhaler",
    "fitted",
    "fitting",
    "replacement",
    "heart attack",
    "pneumonia",
    "insulin",
    "a1c",
    "diabet\\w*",
    "asthma",
    "dislocat\\w+",
    "sprain\\w*",
    "concussion",
    "bleed\\w*",
    # the suffixes medical words are built from: appendectomy, arthritis, stenosis, anemia, ...
    "\\w{3,}(?:ectomy|otomy|itis|osis|emia|oscopy|plasty|ostomy)",
)

# --- organization voice ---------------------------------------------------------------------------

ORG_CONTACT_BEFORE = re.compile(
    r"(?:\bcall(?:ing)?\b|\btext\b|\bphone\b|\bfax\b|\breach\b|\bcontact\b|\bline\b|\bhotline\b|\bsupport\b"
    r"|\bbook(?:ing)?\b|\breserve\b|\bschedule\b|\bappointments?\b|\boffice\b|\bdesk\b|\bdepartment\b"
    r"|\binfo\b|\binformation\b|\bquestions\b|\benroll\b|\bregister\b|\bhelpline\b|\bus\b|\bour\b)"
    r"[^.!?\n]{0,40}$|[A-Z][\w&'-]+(?: [A-Z][\w&'-]+)*\s*[:\-\u2013\u2014]\s*$|^\s*$|[.!?]\s*$",
    IGNORE_CASE,
)
ORG_ADDRESS_CUE = re.compile(
    r"📍|\b(?:our|new|located|location|visit us|find us|is open|now open|opens?|opening|office|clinic|"
    r"center|centre|campus|hospital|pharmacy|headquarters|hq|suite)\b",
    IGNORE_CASE,
)
RESIDENCE_CUE = re.compile(
    r"\b(?:home|house|(?:lives?|living|stays?|staying) (?:at|on|in)|(?:my|his|her|their) place|farm|ranch|"
    r"apartment|residence|trailer)\b",
    IGNORE_CASE,
)
ROLE_MAILBOXES = re.compile(
    r"^(?:info|contact|hello|help|support|office|admin|appointments?|scheduling|billing|media|press|"
    r"privacy|compliance|careers|jobs|team|frontdesk|front\.desk|reception|referrals?|pharmacy|"
    r"records|noreply|no-reply|feedback|marketing|events|research|studies|trials?|webmaster)$",
    IGNORE_CASE,
)
PERSONAL_NUMBER_BEFORE = re.compile(
    rf"(?:(?:\b(?:my|your|his|her|their|home|cell|mobile|pe"
    rf"rsonal|private)\b|{RELATIONS}(?:'s)?)[^.!?\n]{{0,25}}"
    r"\b(?:number|phone|cell|mobile|#)\b[^.!?\n]{0,12}$"
    r"|\b(?:call|text|reach|ring) (?:me|him|her|them|my \w+)\b[^.!?\n]{0,40}$)",
    IGNORE_CASE,
)

# --- story, testimonial, photo ----------------------------------------------------------------------

PATIENT_NOUN = r"(?:patient|recipient|survivor)"
STORY = [
    (
        re.compile(
            # One patient ("our patient", "one of our patients"); "our patients" in a notice is everyone.
            rf"(?<!\bas )\b(?:(?:a|an|one|our|this|that|the)\s+(?:[\w'-]+\s+){{0,3}}?{PATIENT_NOUN}(?:'s)?|"
            rf"one of our(?: \w+){{0,3}}?\s+{PATIENT_NOUN}s)\b"
            r"(?!\s+(?:portal|education|care|safety|experience|advocate|services|"
            r"satisfaction|records?|information|privacy|access|forms?|family|families|volunteers?|"
            r"handbook|rights|parking|entrance|lounge|navigators?|liaisons?|relations|population|outcomes|"
            r"garage|drop-?off|intake|financial|registration|transport|"
            r"survey|reviews?|resources|support)\b)",
            IGNORE_CASE,
        ),
        "a specific patient",
    ),
    (
        re.compile(
            r"\b\d{1,3}[- ](?:year|month|week)s?[- ]old\b(?:\s+(?:woman|man|boy|girl|patient|child|"
            r"baby|toddler|teen|mother|father|veteran|lady|gentleman|[A-Z][a-z]+))?",
        ),
        "a patient described by age",
    ),
    (
        re.compile(
            r"\b(?:in (?:his|her|their) (?:own )?words|testimonial|real words from|(?:his|her|their) story|"
            r"(?<!you have )(?<!you've )(?<!of you )told (?:us|our \w+(?: \w+)?)|"
            r"shared with (?:us|his|her|their)|says (?:he|she)|"
            r"thank-you note|thank you note|note from)\b",
            IGNORE_CASE,
        ),
        "a testimonial or patient's words",
    ),
    (
        re.compile(
            r"\b(?:the|a|an|one|this|that)\s+(?:[\w'-]+\s+)?(?:farmer|teacher|veteran|grandmother|"
            r"grandfather|grandma|grandpa|mother|father|mom|dad|woman|man|lady|gentleman|boy|girl|child|"
            r"toddler|teen|teenager|athlete|runner|nurse|firefighter|student|kid|baby|mama|papa)"
            r"\s+(?:who|whose|that)\b",
            IGNORE_CASE,
        ),
        "a story about a specific person",
    ),
]
# An unnamed patient a story is about: "a man in the cath lab", "a woman in her 50s came to us".
PERSON_NOUN = (
    r"(?:man|woman|gentleman|lady|boy|girl|child|kid|toddler|teen|teenager|baby|dad|mom|mother|father|"
    r"grandmother|grandfather|grandma|grandpa|veteran|patient)"
)
STORY.append(
    (
        re.compile(
            rf"\b(?:a|an|one)\s+(?:[\w'-]+\s+)?{PERSON_NOUN}\s+(?:in (?:his|her|their) (?:early |late |mid-)?"
            r"\d0s|(?:in|at|on) (?:our|the) (?:[\w-]+ ){0,2}?(?:er|ed|icu|clinic|cath lab|ward|unit|"
            r"waiting room|front desk|office|lab|hospital|floor|practice|exam room)\b|"
            r"came (?:to us|in)|stopped by)",
            IGNORE_CASE,
        ),
        "a story about a specific patient",
    )
)
PHOTO = re.compile(
    rf"\[(?:photo|video|image|picture)s?:[^\]]{{0,40}}\b(?:{PERSON_NOUN}|hands?|face|smile)\b|"
    r"\bbefore\s*(?:&|and|\+|/|n)\s*after\b|📷|📸|\balt text\b|\b(?:photos?|pictures?|pics?|selfies?|images?|"
    r"videos?|close-ups?|x-rays?)\s+of\s+(?:our |a |an |one |this |that |the )?(?:[\w'-]+ )?(?:patient|"
    r"smile|face|teeth|skin|results?)\b",
    IGNORE_CASE,
)

# --- FDA: claims, benefits, risk information ------------------------------------------------------

CLAIMS: list[tuple[str, str, str]] = [
    # (rule, pattern, explanation)
    ("cure", r"\b(?:cures?|cured|curing)\b(?!\s+rates?)", "claims a cure"),  # a cure rate is a statistic
    (
        "permanent_result",
        r"\b(?:heal\w*|fix\w*|eliminat\w*|end\w*|gone|prevent\w*|clear\w*|stop\w*|restor\w*)\b"
        r"(?:\s+[\w'-]+){0,4}?\s+(?:permanently|forever|for good|for life|once and for all)\b"
        r"|\bpermanent(?:ly)?\s+(?:cure|heal\w*|fix|relief|results?|solution)\b",
        "promises a permanent result",
    ),
    ("guarantee", r"\bguarantee[sd]?\b|\bmoney[- ]back\b|\bresults or your money\b", "guarantees an outcome"),
    (
        "miracle",
        r"\bmiracle\w*\b|\bmiraculous\w*\b|\bmagic (?:bullet|pill|cure)\b",
        "calls a treatment a miracle",
    ),
    (
        "absolute_safety",
        r"\b(?:100\s?%|completely|totally|perfectly|entirely|absolutely|fully)\s+"
        r"(?:safe|harmless|natural and safe)\b|\bsafe for (?:every(?:one|body)?|all|any)\b|"
        r"\brisk[- ]free\b|\bharmless\b",
        "claims absolute safety",
    ),
    (
        "no_side_effects",
        r"\b(?:no|zero|without|free of|free from|never any)\s+(?:\w+\s+){0,1}(?:side[- ]effects?|risks?|"
        r"downsides?|adverse effects?|complications?)\b(?!\s+(?:so far|yet|for me|that I|I've|i have))",
        "claims there are no side effects or risks",
    ),
    (
        "absolute_efficacy",
        # 100% of an outcome ("100% success rate", "quit rate is 100%"), not any statistic ("a 100% record")
        r"\b100(?:\s?%| percent)(?=\s+(?:[\w-]+\s+)?(?:success\w*|safe\w*|protection|effective\w*|results?|"
        r"cure\w*|clear\w*|guarantee\w*|natural|hands-free|pain-free|accurate|recovery|remission|satisf\w*))|"
        r"\b(?:rates?|success|works?)\s+(?:is |was |of )?100\s?%|"
        r"\bworks for every(?:one|body)\b|\bworks every time\b|"
        r"\bnever fails\b|\bevery (?:single )?(?:patient|time)\b(?= [\w ]{0,20}(?:works|succeed|success))",
        "claims absolute efficacy",
    ),
    (
        "reversal",
        r"\b(?:revers\w*|regrows?|regrowth|regenerat\w*|restores? (?:your |lost |full |normal )?"
        r"(?:\w+ )?(?:function|vision|sight|hearing|hair|memory)|brings? (?:your )?\w+ back to normal)\b",
        "claims to reverse a disease or restore lost function",
    ),
    (
        "superiority",
        r"\b(?:than any other|than (?:all|every) other|the only\b(?:\s+\w+){0,3}\s+(?:that|to|which|with)|"
        r"#1|number one|best[- ]in[- ]class|superior to|outperforms?|"
        r"(?:twice|two times|three times|\d+x)\s+as (?:effective|good|strong|fast)|more effective than|"
        r"better than (?:any|all|other|the)|"
        r"unlike (?:any|other) \w+)",
        "makes a superiority claim without head-to-head evidence",
    ),
    (
        "off_label",
        r"\boff[- ]label\b|\b(?:unapproved|unlabeled) (?:use|indication)s?\b|"
        r"\b(?:clinicians|doctors|physicians|prescribers|dermatologists|specialists|providers)\s+(?:are\s+)?"
        r"(?:increasingly\s+|now\s+|also\s+)?(?:reaching for|turning to|using|prescribing|trying)\b",
        "promotes a use beyond the approved indication",
    ),
    (
        "disease_prevention",
        r"\bprevents? (?:dementia|cancer|alzheimer'?s|heart disease|aging|ageing|all)\b|"
        r"\bno (?:\w+ )?(?:cancer|heart) risk\b|\bno recovery time\b|\bno downtime\b",
        "claims an unsupported prevention or safety benefit",
    ),
]

BENEFIT = re.compile(
    words(
        r"helps?",
        "helped",
        "helping",
        r"heal\w*",
        r"relie(?:f|ve|ves|ved)",
        r"improv\w*",
        r"reduc\w*",
        r"increas\w*",
        r"decreas\w*",
        r"lowers?",
        "lowered",
        r"boost\w*",
        "fewer",
        "less",
        "faster",
        "longer",
        "better",
        "stronger",
        "straighter",
        "clearer",
        "smoother",
        "invisible",
        "effective",
        "efficacy",
        "proven",
        "works?",
        "worked",
        r"restor\w*",
        r"regrow\w*",
        r"revers\w*",
        r"cuts?",
        r"protect\w*",
        r"prevent\w*",
        r"controls?",
        "results?",
        "speaks for itself",
        "confidence",
        "ready for",
        "missing piece",
        "option",
        "solution",
        "breakthrough",
        "approved to",
        "now offers?",
        "now available",
        "gone",
        "free of",
        "say goodbye",
        "no more",
        "more time",
        "freedom",
        "transform\\w*",
        "miracle",
        r"cures?",
        "guarantee\\w*",
        "talks you through",
        "easy",
        "simple",
        "convenient",
        "once[- ]a[- ]day",
        "one pill",
        "fits",
        "for life",
        "life-changing",
        "game[- ]changer",
    ),
    IGNORE_CASE,
)
CALL_TO_ACTION = re.compile(
    r"\b(?:ask (?:your|us|about|our)|talk (?:to|with) (?:your|us)|bring it up|see if|find out if|"
    r"learn more|book (?:a|an|your|today|now)|book\b|schedule (?:a|your)|call (?:us|today|now)|dm us|"
    r"contact (?:your|us)|request (?:a|your)|free consults?|link in bio|at the link|can tell you more|"
    r"can tell you if|your (?:\w+ )?(?:doctor|doc|pharmacist|provider|dentist|dermatologist)\b)",
    IGNORE_CASE,
)
RISK_TERMS = (
    r"side[- ]effects?|risks?|warnings?|boxed warning|important safety information|isi|"
    r"prescribing information|medication guide|contraindicated|contraindications?|precautions?|"
    r"may cause|can cause|could cause|may increase|do not (?:take|use)|don't (?:take|use)|"
    r"should not (?:take|use)|not for (?:use|everyone)|serious|allergic reactions?|adverse reactions?|"
    r"tell your (?:doctor|provider)|"
    # Risks in plain words: "some people get a dry mouth", "don't use it on an arm with an IV line".
    r"some (?:people|patients|users) (?:get|have|feel|notice|develop|experience)|"
    r"(?:the )?most common (?:problems|issues|complaints|side effects|adverse events|reactions) "
    r"(?:were|are|included?)|"
    r"(?:don'?t|do not|never) use (?:it|this|them|\w+) (?:on|if|with|while|during|in)|"
    r"(?:readings?|results?|numbers?) (?:can|may|could) be (?:wrong|inaccurate|off|misleading)|"
    r"(?:check|talk|speak) (?:with|to) your (?:doctor|provider|specialist) (?:first|before)"
)

# --- adverse events -------------------------------------------------------------------------------

SYMPTOMS = (
    r"nightmares?|(?:dark|suicidal|strange|scary) thoughts|hallucinat\w+|infected|infections?|pus|fevers?|"
    r"rash(?:es)?|hives|welts|itch(?:ing|y)|peel(?:ing|ed|s)?|bleed(?:ing|s)?|bled|blister(?:s|ing|ed)?|"
    r"cracks|cracked skin|swell(?:ing|ed|s)?|swollen|diarrh(?:o)?ea|constipat\w+|vomit\w*|throwing up|"
    r"nause\w+|dehydrat\w+|faint(?:ed|ing)?|passed out|dizz\w+|light-?headed|headaches?|migraines?|"
    r"seizures?|convulsions?|cramp(?:s|ing|ed)?|burn(?:s|ing|ed)?|sting(?:s|ing)?|blurr(?:y|ed)(?: vision)?|"
    r"vision loss|lost (?:my |his |her )?(?:vision|sight|hearing)|numb(?:ness)?|tingl\w+|"
    r"palpitations?|heart (?:races|racing|raced|skipping|skipped|pounding|pounded|flutter\w*)|"
    r"chest pains?|short(?:ness)? of breath|(?:can't|couldn't|could not) breathe|wheez\w+|shingles|"
    r"ulcers?|sores?|(?:teeth|tooth) (?:feel |feels |are |is |became )?loose|loose (?:teeth|tooth)|"
    r"exposed (?:jaw)?bone|osteonecrosis|jaw pain|allergic reactions?|anaphyla\w+|"
    r"(?:no|zero|without any) memory|memory loss|blacked out|sleep-?(?:walk|driv|eat)\w*|insomnia|"
    r"drows\w+|grogg\w+|exhaust(?:ed|ion)|fatigue|hair (?:loss|fell out|falling out)|weight gain|"
    r"jaundice|(?:kidney|liver|heart) (?:failure|damage)|stroke|heart attack|pain(?:ful)?|aches?|"
    r"depress(?:ed|ion)|anxiety|panic attacks?|mood swings|tremors?|shaking|bruis\w+|"
    r"doubles? me over|knocked (?:me|him|her) (?:flat|out)|hospitali[sz]ed|(?:sent|rushed) to the er"
)
DEVICE_PROBLEMS = (
    r"poking (?:through|out)|extru\w+|misfir\w+|fired into|malfunction\w*|stopped working|quit working|"
    r"broke|broken|snapped|cracked|popped out|scratch(?:ed|es)|leak(?:s|ed|ing)?|moved into|migrat\w+|"
    r"dislodg\w+|perforat\w+|"
    r"(?:can't|couldn't|could not|cannot) (?:find|feel) the strings|fell out|came out|came loose|"
    r"defective|faulty|error (?:code|message)|failed to (?:fire|deliver|inject|work)|jammed|"
    r"overheat\w*|shocked me|gave me (?:a|an) (?:shock|burn)"
)
# A vital or lab value reported out of range: "potassium 6.3", "BP from 128/80 to 165/100".
ABNORMAL_VALUE = (
    r"(?:potassium|sodium|glucose|blood sugar|a1c|creatinine|bp|blood pressure|heart rate|pulse|inr|"
    r"liver enzymes|alt|ast|platelets|white count|hemoglobin|calcium|ck|cpk)"
    r"(?:\s+(?:of|was|is|at|went|shot|jumped|spiked|rose|dropped|fell|up|to|from|reading|levels?)){0,3}"
    r"\s*(?:\d+(?:\.\d+)?(?:/\d+)?)(?:\s+to\s+\d+(?:\.\d+)?(?:/\d+)?)?"
    r"|(?:high|elevated|low|spiked|dangerous(?:ly)? (?:high|low))\s+(?:potassium|sodium|blood sugar|bp|"
    r"blood pressure|heart rate|liver enzymes)"
)

# ConText modifiers beyond medspaCy's defaults: (phrase, category, direction).
CONTEXT_MODIFIERS: list[tuple[str, str, str]] = [
    ("may", "HYPOTHETICAL", "FORWARD"),
    ("might", "HYPOTHETICAL", "FORWARD"),
    ("can", "HYPOTHETICAL", "FORWARD"),
    ("could", "HYPOTHETICAL", "FORWARD"),
    ("can't promise", "NEGATED_EXISTENCE", "FORWARD"),
    ("cannot promise", "NEGATED_EXISTENCE", "FORWARD"),
    ("don't have", "NEGATED_EXISTENCE", "FORWARD"),
    ("do not have", "NEGATED_EXISTENCE", "FORWARD"),
    ("isn't", "NEGATED_EXISTENCE", "FORWARD"),
    ("is not", "NEGATED_EXISTENCE", "FORWARD"),
    ("not a", "NEGATED_EXISTENCE", "FORWARD"),
    ("no", "NEGATED_EXISTENCE", "FORWARD"),
    ("never", "NEGATED_EXISTENCE", "FORWARD"),
    ("zero", "NEGATED_EXISTENCE", "FORWARD"),
    ("gone", "NEGATED_EXISTENCE", "BACKWARD"),
    ("went away", "NEGATED_EXISTENCE", "BACKWARD"),
    ("cleared up", "NEGATED_EXISTENCE", "BACKWARD"),
    ("no more", "NEGATED_EXISTENCE", "FORWARD"),
    ("relief", "NEGATED_EXISTENCE", "BIDIRECTIONAL"),
    ("relieves", "NEGATED_EXISTENCE", "FORWARD"),
    ("treats", "NEGATED_EXISTENCE", "FORWARD"),
    ("risk", "HYPOTHETICAL", "FORWARD"),
    ("risks", "HYPOTHETICAL", "FORWARD"),
    ("risk of", "HYPOTHETICAL", "FORWARD"),
    ("warning", "HYPOTHETICAL", "FORWARD"),
    ("warnings", "HYPOTHETICAL", "FORWARD"),
    ("side effect", "HYPOTHETICAL", "FORWARD"),
    ("side effects", "HYPOTHETICAL", "FORWARD"),
    ("include", "HYPOTHETICAL", "FORWARD"),
    ("includes", "HYPOTHETICAL", "FORWARD"),
    ("including", "HYPOTHETICAL", "FORWARD"),
    ("such as", "HYPOTHETICAL", "FORWARD"),
    ("cause", "HYPOTHETICAL", "FORWARD"),
    ("causes", "HYPOTHETICAL", "FORWARD"),
    ("watch for", "HYPOTHETICAL", "FORWARD"),
    ("signs of", "HYPOTHETICAL", "FORWARD"),
    ("symptoms of", "HYPOTHETICAL", "FORWARD"),
    ("in case of", "HYPOTHETICAL", "FORWARD"),
    ("searching for", "HYPOTHETICAL", "FORWARD"),
    ("search for", "HYPOTHETICAL", "FORWARD"),
    ("hope", "HYPOTHETICAL", "FORWARD"),
    ("hoping", "HYPOTHETICAL", "FORWARD"),
    ("toward", "HYPOTHETICAL", "FORWARD"),
    ("towards", "HYPOTHETICAL", "FORWARD"),
    ("until", "HYPOTHETICAL", "FORWARD"),
    ("research", "HYPOTHETICAL", "FORWARD"),
    ("yet", "NEGATED_EXISTENCE", "BACKWARD"),
]

# --- adverse events in everyday words -------------------------------------------------------------
# How patients and families describe side effects and device trouble without medical terms
# (consumer health vocabulary): body parts with what went wrong, everyday symptom words, readings
# that were wrong, devices that misbehaved. General phrasing, not any corpus's sentences.
BODY_PARTS = (
    r"(?:eyes?|skin|tongue|mouth|lips?|throat|voice|chest|head|stomach|belly|tummy|gut|back|legs?|"
    r"thighs?|arms?|hands?|feet|foot|toes?|fingers?|joints?|muscles?|urine|pee|stools?|poop|liver|"
    r"kidneys?|heart|face|gums?|teeth|ears?|nose|period|injection site|site|scalp|nails?)"
)
CONSUMER_SYMPTOMS = (
    r"cough(?:s|ing|ed)?|(?:night )?sweats|sweaty|clammy|shaky|shak(?:es|ing)|"
    r"(?<!i'm )(?<!i am )confus(?:ed|ion)|"
    r"(?:bad|severe|serious|awful|terrible|scary) reactions?|"
    r"(?:can'?t|couldn'?t|cannot|could not) (?:sleep|eat|stand|walk|breathe|wake|focus|feel)|"
    r"hard to wake|up (?:till|until) \d+\s?(?:am|pm)?|"
    r"barely (?:eat\w*|sleep\w*|get up|walk\w*|stand\w*|move\w*)|"
    r"no appetite|lost (?:my|his|her|their) appetite|upset stomach|heartburn|dry mouth|metallic taste|"
    r"ringing in (?:my|his|her) ears|brain fog|foggy|zombie|(?:emotionally )?flat|wiped out|"
    r"no energy|weak(?:ness)?|achy|ach(?:e|es|ed|ing) (?:constantly|all (?:day|night|the time))|"
    r"sore(?:ness)?|"
    r"lumps?|patch(?:es)?|thrush|yellow(?:ish)?|jaundiced|watering|watery|gritty|hoarse|raspy|"
    r"woke up on the (?:\w+ )?(?:floor|ground)|collaps\w+|out cold|fell (?:down|over)|"
    r"tight(?:ness)?|heavy (?:period|bleeding|legs?)|soak(?:ing|ed) through|nosebleeds?|gallstones?|"
    r"kidney stones?|through the roof|tripled|doubled|skyrocket\w*|shot up|flare(?:s|d|-ups?)?|"
    r"crawling|pins and needles|zapp\w+|jolt\w*|(?:shocks?|shocked) (?:me|him|her)|"
    r"crying|not waking up|(?:want(?:ed)? to|wanting to) die|"
    # Swelling, hallucinations, impulse-control and next-day sedation told in everyday words.
    r"puff(?:y|ed up|ing up|s up)|swelled up|ballooned|"
    r"(?:seeing|hearing|sees|hears|saw|heard) (?:things|people|voices|stuff|bugs)|"
    r"gambl(?:e|ed|es|ing)|scratch(?:-off)? tickets|(?:shopping|spending|eating) (?:sprees?|binges?)|"
    r"binge[- ](?:eat\w*|shopp\w*)|"
    r"hangover|groggy|remember(?:ed)? nothing|(?:don'?t|do not|didn'?t|can'?t) remember (?:anything|a thing)|"
    r"hair (?:is |was )?(?:coming|came|falling) out|(?:coming|came|fell) out in clumps|"
    r"(?:fell|falls|falling) asleep (?:mid-\w+|in the middle|while|at|during|behind)\b|sky[- ]high|"
    r"(?:rhythm|heartbeat|heart beat) (?:was |is |went )?(?:off|irregular|all over the place)|"
    r"(?:can'?t|couldn'?t|could not|cannot) keep (?:my|his|her|their) eyes open|"
    r"nodd(?:ed|ing) off|(?:fell|falling) asleep (?:at the wheel|while driving|driving|at work)|"
    r"drift(?:ed|ing) (?:into|out of|across) (?:the |my )?(?:next |other |oncoming )?lane|"
    rf"(?:{BODY_PARTS}|pressure|sugar|heart rate|pulse|numbers?|levels?|bp) (?:\w+ ){{0,2}}"
    r"(?:shoot|shoots|shot|went|spiked|jumped) (?:way |right |straight )?up|"
    rf"{BODY_PARTS} (?:hurts?|hurting|burns?|burning|itch\w*|throbb\w+|pound\w*|swoll\w*|feel(?:s|ing)?|"
    r"felt|look\w* (?:kinda |really |so )?\w+|turned \w+|(?:is|are|was|were) (?:swollen|red|hot|"
    r"purple|black|dark|yellow|killing me|on fire))|"
    rf"(?:dark|brown|red|bloody|black|cola[- ]colou?red) {BODY_PARTS}"
)
DEVICE_TROUBLE = (
    r"stuck (?:on|at|in)|won'?t (?:connect|turn off|stop|pair|charge)|keeps? (?:alarming|beeping|"
    r"shocking|restarting|disconnecting)|(?:alarm|alert)s? (?:didn'?t|did not|never|failed to) "
    r"(?:go off|sound|come|fire)|no (?:alarms?|alerts?|warning)|read(?:s|ing)? (?:high|low|hi|lo|wrong)|"
    r"way off|(?:reading|readings|sensor|meter|number|numbers) (?:was|were|is|are) (?:off|wrong)|"
    r"wrong (?:reading|dose|number|amount)s?|double (?:bolus|dose)|extra (?:dose|bolus|insulin)|"
    r"split (?:in half|in two|apart)|randomly (?:spikes|shocks|turns|stops)|spikes? to max\w*|"
    r"(?:says|said|showed|shows|read) \d+ (?:but|when|while)"
)

# --- FDA: more of what promotion may not say --------------------------------------------------------
# Claim classes beyond the basic ones: superiority with no comparator or evidence, absolutes of
# efficacy and permanence, safety absolutes about interactions and monitoring, the absence of a
# side effect, telling people to drop their therapy, and use beyond the approved indication.
MORE_CLAIMS: list[tuple[str, str, str]] = [
    (
        "superiority",
        # A comparison with a named control ("than placebo") is evidence, not a superiority claim.
        r"\b(?:better|faster|safer|stronger|gentler|quicker|more effective)(?: and \w+er)? than\b"
        r"(?!\s+(?:a\s+)?(?:placebo|sugar pills?|no treatment|baseline|before)\b)|"
        r"\bthe (?:best|safest|fastest|strongest|most (?:effective|advanced|powerful|innovative|complete|"
        r"trusted|proven)|only real|leading|#1|number one)\b(?:\s+[\w-]+){0,3}?\s+"
        r"(?:on the market|ever(?: made)?|available(?: today| now)?|in the world|there is|out there)\b|"
        r"\bthe only\b(?:\s+[\w-]+){0,4}?\s+(?:you'?ll|you will|you'?d|you) ever need\b|"
        r"\bmore [\w-]+ than (?:other|any other|all other|competing|leading|the rest|older)\b|"
        r"\bthan (?:any|every|all) other\b|\bthan (?:anything|anyone) else\b|"
        r"\b\w+er\b(?:,?\s+\w+er\b)?(?:\s+[\w-]+){0,3}?\s+than (?:older|existing|traditional|conventional|"
        r"standard|other|current)\b|"
        r"\bthe (?!(?:oldest|youngest|tiniest|littlest|bravest|sweetest|proudest|happiest|latest|newest|"
        r"earliest)\b)\w+est\b(?:\s+[\w-]+){0,3}?\s+(?:ever(?: made| built)?|on the market|available|"
        r"in the world)\b|"
        r"\b(?:doctors|clinicians|physicians|experts|nurses|pharmacists|moms|patients) trust (?:most|more)\b|"
        r"\bmost[- ]trusted\b|\b(?:#1|number one)\b|"
        r"\bonly (?-i:[A-Z])[\w-]+ (?:does|works|can)\b|\bunlike (?:non-?)?[\w-]+s\b|\bnot even close\b",
        "makes a superiority claim without head-to-head evidence",
    ),
    (
        "absolute_efficacy",
        r"\bworks every (?:single )?time\b|\b100\s?%\s+[\w-]+(?:\s+[\w-]+)?(?=\s*[!.]|\s*$)|"
        r"\b(?:gone|clear|cured|healed) in (?:just |only )?\d+ (?:days?|weeks?|hours?)\b",
        "claims absolute or instant efficacy",
    ),
    (
        "permanent_result",
        r"\bnever (?:\w+ ){1,5}again\b|\bno (?:more )?[\w-]+[,.]?\s+ever\b|"
        r"\b(?:off|free of|rid of|done with)\b(?:\s+[\w-]+){1,3}\s+for good\b|"
        r"\bpermanent(?:ly)? (?:remission|cure|relief|results?|fix)\b|\bcures? (?:it|them) for good\b",
        "promises a permanent result",
    ),
    (
        "absolute_safety",
        r"\bno (?:\w+ )?interactions\b|\bneeds? no (?:\w+ )?monitoring\b|"
        r"\bskip (?:\w+ ){0,2}(?:screening|testing|monitoring|blood tests)\b|"
        r"\bsafe (?:during|in|while|for) (?:pregnancy|pregnant|breastfeeding|nursing)\b|\bno need to stop\b|"
        r"\b(?:spot|predict|detect|catch)s?\b[^.!?]{0,40}?\bbefore (?:it|they) happens?\b",
        "claims absolute safety",
    ),
    (
        "no_side_effects",
        r"\b(?:none of the|without the|and none of the)\s+(?:[\w-]+\s+)?(?:side[- ]effects?|aches|"
        r"hypoglycemia|lows|nausea|weight gain|withdrawal|crash(?:es)?|jitters|drowsiness)\b",
        "claims a known side effect is absent",
    ),
    (
        "against_therapy",
        r"\b(?:throw (?:out|away)|ditch|stop taking|get off|quit) (?:your|all|the|those) (?:pills|meds|"
        r"medications?|insulin|inhalers?|prescriptions?)\b|\bwho needs (?:biologics|meds|pills|insulin|"
        r"surgery|medication|drugs)\b",
        "tells people to drop approved therapy",
    ),
    (
        "off_label",
        r"\b(?:isn'?t|is not|aren'?t|not) just for\b|\bemerging (?:practice|use)\b|"
        r"\b(?:also|now|increasingly) (?:use|uses|using|recommend|recommends|prescribe|prescribes|fit|fits)\b"
        r"|\bwe (?:also )?(?:fit|use it|prescribe it|recommend it) (?:for|in|to)\b|\bwe fit \w+ too\b"
        # "works great for jet lag too", "works just as well for men": a use the label does not name.
        r"|\bworks? (?:great|well|wonders|so well|just as well) for\b[^.!?]{0,40}?\b(?:too|as well)\b"
        r"|\bjust as well for\b"
        r"|\b(?:using|uses|use|used|prescribing|prescribe) (?:it|them|this) (?:for|in|to treat)\b"
        r"[^.!?]{0,40}?\b(?:too|as well)\b"
        r"|\b(?:is|are) (?:also|even) (?:great|good|used|approved|effective) for\b"
        r"|\balso (?:helps|treats|works (?:for|on)|fixes|good for)\b|"
        r"\b(?:using|use|prescribing) it that way\b"
        r"|\b(?:excellent|great|strong|impressive|amazing) results with \w+ (?:in|for)\b"
        r"|\bnatural fit for\b[^.!?]{0,40}?\b(?:too|as well)\b"
        r"|\b(?:more and more|many|lots of|plenty of) (?:clinicians|doctors|docs|physicians|prescribers)\b"
        r"[^.!?]{0,20}?\b(?:reach for|turn to|using|use|prescribe|prescribing)\b"
        r"|"
        r"\b(?:gentle|safe|fine|okay|ok|totally fine) (?:enough )?for your\b[^.!?]{0,40}?\b(?:too|as well)\b",
        "promotes a use beyond the approved indication",
    ),
]
# A pointer or a vague phrase stands in for risk information but is not any.
RISK_POINTER = re.compile(
    r"\b(?:see|visit|at|in|read)\b[^.!?]{0,30}(?:prescribing information|full pi|\bpi\b|safety information|"
    r"medication guide|isi|link|site|website)|\bside effects (?:may|can) (?:occur|happen)\b|"
    r"\brisks? (?:apply|exist)\b|\bnot for everyone\b|"
    r"\b(?:full |complete )?(?:prescribing|safety) information\s*(?:[:\u2013\u2014-]|at|here|online)\s*\S*",
    IGNORE_CASE,
)
# Who an indication is for, and words naming another population.
POPULATIONS = {
    "adults": re.compile(
        r"\b(?:kids|children|child|teens?|teenagers?|pediatric|toddlers?|babies|infants)\b", IGNORE_CASE
    ),
    "children": re.compile(r"\badults?\b|\bgrown-?ups\b", IGNORE_CASE),
    "women": re.compile(r"\b(?:men|males?|guys|husbands|boys)\b", IGNORE_CASE),
}
# Not promotion though a product is named: formulary and coverage notes, safety checklists, notices.
NOT_PROMOTION = re.compile(
    r"\b(?:formulary|tier \d|prior auth\w*|coverage|(?:is|are|now|not|be) covered|covered (?:by|under)|"
    r"recall\w*|shortage|back in stock|lot number|"
    r"before each dose|ask yourself|lost (?:&|and) found|labeled for|refills?|appointments?|mailed|pick ?up|"
    r"classes|support line|staffed|trainers?|specimen|expiration date|(?:is|are|we'?re) hiring|careers?|"
    r"job openings?|drop[- ]?box|return (?:bins?|boxes|kits?|labels?)|you'?re all set|"
    r"see you (?:then|soon)|revenue|earnings|(?:third|second|first|fourth)[- ]quarter|investors?|"
    r"will present|presenting|congress|annual meeting|service center|we'?ll cover|"
    r"results are (?:back|in|ready))\b",
    IGNORE_CASE,
)
# The organization speaking in a comment thread: a signature, "DM us", "our clinic".
ORGANIZATION_REPLY = re.compile(
    r"[\u2013\u2014]\s*(?:the\s+)?[A-Z][\w&'.]*(?:\s+[A-Z&][\w&'.]*){0,4}(?:\s+team)?\s*[\W]*$|"
    r"(?i:\b(?:dm us|call us at|message us|book with us|visit us at|our (?:clinic|team|office|pharmacy|"
    r"patients|staff|nurses|providers|practice))\b)",
)
# A person's own appointment or visit, told to them: "you're all set for your injection on the 14th".
APPOINTMENT = re.compile(
    r"\byou'?re (?:all )?(?:set|scheduled|booked|confirmed)\b|\byour (?:\w+ )?(?:appointment|visit|injection|"
    r"infusion|procedure|surgery|scan|colonoscopy|biopsy|mri|consult)\b[^.!?]{0,40}?\b(?:on|at|is|for)\b|"
    r"\b(?:is|are) (?:still )?(?:on|scheduled|booked|confirmed) for\b|\bsee you (?:then|on|at|tomorrow)\b|"
    r"\b(?:we'?ve |we have )?(?:moved|rescheduled|changed) your\b|"
    r"\byour (?:\w+ )?results are (?:back|in|ready)\b|"
    r"\bplease (?:come back|view your results|call us back)\b",
    IGNORE_CASE,
)
# A text that addresses a person or posts a notice about one discloses (PHI); it tells no story.
ADDRESSED_OR_NOTICE = re.compile(
    r"^\s*@\w+|\b(?:hi|hello|hey|dear)\s+[A-Z]|\b(?:great|good) question,?\s+[A-Z]|"
    r"\bplease (?:come back|call us|view your)\b|^\s*to the (?:patient|owner|family)\b|"
    r"\b(?:labell?ed for|specimen for|lost (?:&|and) found|"
    r"owner of|notice|we(?:'ve| have)? (?:moved|updated|mailed|rescheduled))\b",
    IGNORE_CASE,
)

"""Rebuild `data/person_names.txt`, the given names and surnames the person-name recognizer knows.

    python -m services.review.screening.build_names

The names come from Faker's person providers and from gender-guesser's name dictionary (Jörg
Michael's `nam_dict.txt`: about 45,000 given names, nicknames and short forms from 54 countries,
which Faker's lists lack: "Walt", "Gus", "Jalen"). Both are dev dependencies; the screener itself
only reads the file written here, so nothing is fetched or generated at run time. Many locales,
because patients' names are not only English ones.

A name that is also a common English word ("Will", "May", "Rose", "Hope") is left out: a
capitalized common word at a sentence start is not evidence of a person. Faker's lists are curated,
so a short list of such words (COMMON_WORDS) is enough there; the dictionary's are not, so a
dictionary name that is also an English word goes unless English also uses it as a proper noun:
Debian's `wamerican` word list (`apt install wamerican`, needed only to rebuild) has "hazel" and
"port" only in lower case, so "Hazel" and "Port" go, and "Cyrus" capitalized, so it stays.
"""

from __future__ import annotations

import importlib
import re
from importlib.resources import files
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS

LOCALES = (
    "en_US en_GB en_IE en_IN en_NZ en_CA en_AU es_ES es_MX pt_BR pt_PT fr_FR de_DE it_IT nl_NL pl_PL "
    "sv_SE da_DK no_NO fi_FI cs_CZ hu_HU ro_RO ru_RU uk_UA el_GR tr_TR ar_AA fa_IR he_IL hi_IN ja_JP "
    "ko_KR zh_CN vi_VN th_TH id_ID yo_NG zu_ZA tw_GH ga_IE"
).split()
NAME = re.compile(r"[A-Z][a-zà-ÿ'-]{1,}")
OUT = Path(__file__).with_name("data") / "person_names.txt"
WORD_LIST = Path("/usr/share/dict/american-english")
# Capitalized words that Faker lists as names but that are ordinary English words or months in posts.
COMMON_WORDS = {
    "will",
    "may",
    "june",
    "april",
    "august",
    "rose",
    "hope",
    "faith",
    "joy",
    "grace",
    "page",
    "mark",
    "bill",
    "art",
    "major",
    "king",
    "young",
    "white",
    "black",
    "brown",
    "green",
    "gray",
    "grey",
    "long",
    "rich",
    "love",
    "day",
    "price",
    "rice",
    "wood",
    "hill",
    "lane",
    "street",
    "park",
    "church",
    "hall",
    "north",
    "south",
    "west",
    "east",
    "summer",
    "winter",
    "spring",
    "autumn",
    "dawn",
    "sky",
    "star",
    "care",
    "health",
    "baby",
    "happy",
    "guy",
    "sunny",
    "ray",
    "can",
    "lee",
    "jan",
    "dean",
    "chase",
    "hunter",
    "cook",
    "baker",
    "miller",
    "carter",
    "walker",
    "mason",
    "clay",
    "reed",
    "stone",
    "frank",
    "pat",
    "sue",
    "ben",
    "ty",
    "bo",
    "al",
    "ed",
    "ali",
    "dot",
    "patience",
    "hero",
    "sage",
    "mercy",
    "honor",
    "trinity",
    "destiny",
    "harmony",
    "liberty",
    "justice",
    "victory",
    "glory",
    "heart",
    "doctor",
    "nurse",
    "wolf",
    "fox",
    "bird",
    "bush",
    "gold",
    "silver",
    "money",
    "cash",
    "nova",
    "sun",
    "moon",
    "ocean",
    "river",
    "field",
    "fields",
    "house",
    "rock",
    "strong",
    "still",
    "so",
    "do",
    "man",
    "sing",
    "tran",
    "le",
    "ha",
    "ma",
    "mo",
    "jo",
}


def dictionary_names() -> set[str]:
    """Given names from gender-guesser's nam_dict.txt: a gender code, then the name in columns 3-29
    (`+` joins the parts of a compound name, which are left out), then frequencies by country."""
    text = files("gender_guesser").joinpath("data", "nam_dict.txt").read_text(encoding="iso-8859-1")
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#") or line.startswith("=") or len(line) < 30:
            continue
        name = line[3:29].strip()
        if NAME.fullmatch(name):
            names.add(name)
    return names


def ordinary_words() -> set[str]:
    """Lower-case English words with no capitalized (proper noun) entry of the same spelling."""
    if not WORD_LIST.is_file():
        raise SystemExit(f"{WORD_LIST} is missing: install Debian's wamerican package to rebuild the names")
    words = WORD_LIST.read_text(encoding="utf-8").split()
    proper = {w.lower() for w in words if w[:1].isupper()}
    return {w for w in words if w.islower() and w not in proper}


def collect() -> list[str]:
    names = dictionary_names() - ordinary_words()
    for locale in LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        for attribute in ("first_names", "first_names_female", "first_names_male", "last_names"):
            values = getattr(provider, attribute, None) or ()
            names |= {str(v) for v in values if NAME.fullmatch(str(v))}
    return sorted(
        n for n in names if n.lower() not in STOP_WORDS and n.lower() not in COMMON_WORDS and len(n) >= 3
    )


def main() -> None:
    OUT.parent.mkdir(exist_ok=True)
    names = collect()
    OUT.write_text("\n".join(names) + "\n")
    print(f"{len(names)} names -> {OUT.name}")


if __name__ == "__main__":
    main()

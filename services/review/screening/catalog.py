"""Finding the organization's catalog products in a text, as people actually type them.

Brand, generic and alias names match case-insensitively and ignoring hyphens and spaces
("lumi-dry" is Lumidry); a brand name of seven letters or more also matches with one typo
("clarrelle") when the first letter agrees, and two when both are eight letters or more and the
first two letters and the last agree ("dorsolin" for Dorsalyn). The catalog and its format come
from the policy (or `--products`).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from services.review.policy import Product

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
FUZZY_MIN_LENGTH = 7
TWO_EDITS_MIN_LENGTH = 8
# Words that name a product's form or edition rather than the product: people write "Sanoflo" for
# "Sanoflo Pen" and "Kalmira" for "Kalmira Inhaler", so the brand before them names it too.
FORM_WORDS = frozenset(
    "pen pens inhaler inhalers home plus pro max mini system kit device monitor monitors meter pump "
    "patch patches spray nasal cream gel ointment tablet tablets tabs capsule capsules injection "
    "injector autoinjector auto solution drops xr er sr cr la xl odt hfa respimat diskus flexpen "
    "kwikpen starter pack cpap sensor".split()
)
BASE_MIN_LENGTH = 5


@dataclass(frozen=True)
class ProductMention:
    product: Product
    start: int
    end: int
    text: str
    how: str  # exact | joined | typo


def _key(value: str) -> str:
    return re.sub(r"[^a-z0-9]", "", value.lower())


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance with adjacent swaps, giving up (limit + 1) once it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _within_one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) > len(b):
        a, b = b, a
    i = j = edits = 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            i += 1
            j += 1
            continue
        edits += 1
        if edits > 1:
            return False
        if len(a) == len(b):
            i += 1
        j += 1
    return edits + (len(b) - j) + (len(a) - i) <= 1


class ProductMatcher:
    def __init__(self, catalog: list[Product], *, two_edits: bool = True) -> None:
        self._two_edits = two_edits
        self._by_key: dict[str, Product] = {}
        for product in catalog:
            for name in product.names:
                self._by_key.setdefault(_key(name), product)
        for product in catalog:
            for name in product.names:
                words = _WORD.findall(name)
                # The brand without its form words ("Sanoflo" of "Sanoflo Pen"), unless another
                # product or name already owns that key.
                while len(words) > 1 and words[-1].lower() in FORM_WORDS:
                    words.pop()
                base = _key(" ".join(words))
                if len(base) >= BASE_MIN_LENGTH and base != _key(name):
                    self._by_key.setdefault(base, product)
        self._max_words = max((len(_WORD.findall(n)) for p in catalog for n in p.names), default=1) + 1

    def find(self, text: str) -> list[ProductMention]:
        words = list(_WORD.finditer(text))
        mentions: list[ProductMention] = []
        i = 0
        while i < len(words):
            found = None
            # Longest run of adjacent words (joined by nothing, a hyphen or a space) naming a product.
            for n in range(min(self._max_words, len(words) - i), 0, -1):
                run = words[i : i + n]
                if any(
                    not re.fullmatch(r"[\s-]?", text[a.end() : b.start()]) for a, b in itertools.pairwise(run)
                ):
                    continue
                start, end = run[0].start(), run[-1].end()
                product = self._by_key.get(_key(text[start:end]))
                if product is not None:
                    found = ProductMention(
                        product, start, end, text[start:end], "exact" if n == 1 else "joined"
                    )
                    i += n
                    break
            if found is None:
                word = words[i].group(0)
                product = self._typo(word)
                if product is not None:
                    found = ProductMention(product, words[i].start(), words[i].end(), word, "typo")
                i += 1
            if found is not None:
                mentions.append(found)
        return mentions

    def _typo(self, word: str) -> Product | None:
        key = _key(word)
        if len(key) < FUZZY_MIN_LENGTH:
            return None
        for name_key, product in self._by_key.items():
            if len(name_key) < FUZZY_MIN_LENGTH or name_key[0] != key[0]:
                continue
            if _within_one_edit(key, name_key):
                return product
            # Two slips in a long name ("dorsolin" for Dorsalyn): same start and end, two edits.
            if (
                self._two_edits
                and min(len(key), len(name_key)) >= TWO_EDITS_MIN_LENGTH
                and key[:2] == name_key[:2]
                and key[-1] == name_key[-1]
                and _edit_distance(key, name_key, 2) <= 2
            ):
                return product
        return None


_CATALOG = TypeAdapter(list[Product])


class CatalogError(ValueError):
    """A products file that cannot be read; the message says which and why."""


def parse_catalog(document: Any, *, source: str = "catalog") -> list[Product]:
    """`{"products": [...]}` (the corpus format) or a bare list of products; extra fields allowed."""
    items = document.get("products") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise CatalogError(f'{source}: expected {{"products": [...]}} or a list of products')
    try:
        return _CATALOG.validate_python(items)
    except ValidationError as exc:
        problems = "; ".join(
            f"products.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise CatalogError(f"{source}: {problems}") from exc


def catalog_beside(corpus: Path) -> Path:
    """The catalog named like a labeled corpus: screening-dev-2.jsonl -> products-dev-2.json."""
    return corpus.with_name(corpus.stem.replace("screening", "products", 1) + ".json")


def load_catalog_file(path: Path) -> list[Product]:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the products file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: not valid JSON: {exc}") from exc
    return parse_catalog(document, source=str(path))

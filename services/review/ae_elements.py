"""The four minimum elements of a valid adverse-event report, as a comment shows them (pure):
an identifiable reporter, an identifiable patient, a suspect product and an adverse event.
Each is what the text showed, or None when it is missing (the case lists what is missing, and a
follow-up asks for it)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

REPORTER, PATIENT, PRODUCT, EVENT = "reporter", "patient", "product", "event"
ELEMENTS = (REPORTER, PATIENT, PRODUCT, EVENT)

_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|me|my|myself)\b", re.IGNORECASE)
_RELATIVE = re.compile(
    r"\bmy\s+(son|daughter|child|kid|baby|mother|mom|mum|father|dad|husband|wife|partner|brother|"
    r"sister|grandmother|grandma|grandfather|grandpa|friend|aunt|uncle|niece|nephew|patient)\b",
    re.IGNORECASE,
)


def minimum_elements(
    *,
    author: str,
    network: str,
    text: str,
    findings: Sequence[Mapping[str, Any]],
    products: Sequence[str],
    drugs: Sequence[str],
) -> dict[str, str | None]:
    relative = _RELATIVE.search(text)
    names = [str(f["text"]) for f in findings if f.get("rule") == "phi.patient_name"]
    if names:
        patient: str | None = names[0] + (
            f" (the reporter's {relative.group(1).lower()})" if relative else ""
        )
    elif relative:
        patient = f"the reporter's {relative.group(1).lower()}"
    elif _FIRST_PERSON.search(text):
        patient = "the reporter (first person)"
    else:
        patient = None
    suspects = list(dict.fromkeys([*products, *drugs]))
    events = [str(f["text"]) for f in findings if f.get("category") == "adverse_event"]
    return {
        REPORTER: f"{author} on {network}" if author.strip() else None,
        PATIENT: patient,
        PRODUCT: ", ".join(suspects) or None,
        EVENT: "; ".join(dict.fromkeys(events)) or None,
    }


def missing(elements: Mapping[str, str | None]) -> list[str]:
    return [name for name in ELEMENTS if not elements.get(name)]

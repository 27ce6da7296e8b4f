"""Screening every rendition: what each network shows of a post before it cuts the text off
behind "more" must carry its fair balance too.

FDA expects risk information to be presented with the benefit claim, not only after a click. A
post whose safety statement is in the text but falls after a network's fold (Instagram shows about
125 characters of a caption, LinkedIn about 210, Facebook about 480) fails `fda_fair_balance` for
that network: the visible part is screened as its own text and each fair-balance finding there
that the whole text does not have becomes a finding naming the network and channel.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.review.channels_client import Rendition
from services.review.screening.engine import Screener
from services.review.screening.findings import Finding

FAIR_BALANCE = "fda_fair_balance"
RULE = "fair_balance.before_fold"


def rendition_findings(
    screener: Screener,
    *,
    title: str,
    body: str,
    renditions: Sequence[Rendition],
    whole: Sequence[Finding],
    patient_content: bool,
    consent_on_file: bool,
) -> list[Finding]:
    """Fair-balance findings of what each folded network shows, in the offsets of `title\\nbody`."""
    already = {(f.start, f.end) for f in whole if f.category == FAIR_BALANCE}
    offset = len(title) + 1
    found: list[Finding] = []
    seen: set[tuple[int, int, str]] = set()
    for rendition in renditions:
        if rendition.fold is None or len(body) <= rendition.fold:
            continue
        shown = body[: rendition.fold]
        outcome = screener.screen(
            shown, patient_content=patient_content, consent_on_file=consent_on_file, kind="post"
        )
        for finding in outcome.findings:
            start, end = finding.start + offset, finding.end + offset
            if finding.category != FAIR_BALANCE or (start, end) in already:
                continue
            if (start, end, rendition.network) in seen:
                continue
            seen.add((start, end, rendition.network))
            found.append(
                Finding(
                    FAIR_BALANCE,
                    finding.severity,
                    start,
                    end,
                    finding.text,
                    RULE,
                    f"On {rendition.network} ({rendition.channel}) the feed shows only the first "
                    f'{rendition.fold} characters before "more"; the risk information this claim needs '
                    "comes after them. Move the safety statement up, or shorten what comes before it.",
                )
            )
    return found

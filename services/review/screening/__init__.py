"""Automated screening: patient data, consent, FDA fair balance and claims, adverse events.

`engine.Screener` is the engine; `findings` its result types; `recognizers`, `lexicon`, `catalog`
and `nlp` its parts; `eval` and `bench` measure it. Import from the submodules: this package
module stays light so that the presidio-only baseline in `bench` loads nothing else.
"""

import os

# tldextract (used by presidio's e-mail and URL recognizers) must use its bundled suffix list,
# never fetch one: set before any submodule imports presidio.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

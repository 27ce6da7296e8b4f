"""The publisher's own series on /metrics: posts a channel took, and attempts it refused or missed."""

from __future__ import annotations

from prometheus_client import Counter

PUBLICATIONS = Counter("clearpost_publications", "Posts a channel took, per channel.", ["channel"])
PUBLISH_FAILURES = Counter(
    "clearpost_publish_failures",
    "Publish attempts that failed, per channel: `rejected` ends the post as publish_failed,"
    " `unavailable` is retried by Temporal until the publish deadline.",
    ["channel", "kind"],
)

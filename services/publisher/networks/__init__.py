"""The six network adapters, by network name, built from the deployment's settings."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from services.publisher.networks.base import NetworkAdapter, NetworkConfig
from services.publisher.networks.bluesky import BlueskyAdapter
from services.publisher.networks.facebook import FacebookAdapter
from services.publisher.networks.instagram import InstagramAdapter
from services.publisher.networks.linkedin import LinkedInAdapter
from services.publisher.networks.mastodon import MastodonAdapter
from services.publisher.networks.x import XAdapter

ADAPTERS: dict[str, type] = {
    "facebook": FacebookAdapter,
    "instagram": InstagramAdapter,
    "linkedin": LinkedInAdapter,
    "x": XAdapter,
    "mastodon": MastodonAdapter,
    "bluesky": BlueskyAdapter,
}
# Where each network's API is when the deployment does not say (Mastodon: each account's instance).
DEFAULT_API_URLS = {
    "facebook": "https://graph.facebook.com",
    "instagram": "https://graph.facebook.com",
    "linkedin": "https://api.linkedin.com",
    "x": "https://api.x.com",
    "mastodon": "",
    "bluesky": "https://bsky.social",
}


def build_adapters(
    configs: Mapping[str, NetworkConfig], *, transport: httpx.AsyncBaseTransport | None = None
) -> dict[str, NetworkAdapter]:
    """One adapter per network; a network without settings uses its public defaults."""
    adapters: dict[str, NetworkAdapter] = {}
    for network, adapter_type in ADAPTERS.items():
        config = configs.get(network) or NetworkConfig(api_base_url=DEFAULT_API_URLS[network])
        adapters[network] = adapter_type(config, transport=transport)
    return adapters

"""What the channel end-to-end tests share: the six network fakes' world, the publisher settings
that point at them, and connecting accounts the way an admin does (Mastodon and Bluesky with
POST /api/v1/channel-accounts; the OAuth networks through the browser flow: authorize -> the
fake's consent page, which approves at once -> the callback through the gateway). The fixtures
are in channel_fixtures.py.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import httpx
from PIL import Image

from tests.fakes.networks.bluesky import FakePds
from tests.fakes.networks.linkedin import FakeLinkedInState
from tests.fakes.networks.mastodon import FakeMastodon
from tests.fakes.networks.meta_state import FakeMeta
from tests.fakes.networks.x import FakeXState
from tests.system import RunningSystem

MASTODON_TOKEN = "token-of-riverside-clinic"
BLUESKY_HANDLE = "riverside.clinic.example"
BLUESKY_PASSWORD = "abcd-efgh-ijkl-mnop"
PAGE_ID = "1001"
IG_PAGE_ID = "3003"
IG_USER_ID = "17841400000000001"
LINKEDIN_ORG = "2414183"
# The timeout the publisher gives Facebook calls: the ambiguous-timeout test hangs longer than this.
FACEBOOK_TIMEOUT_SECONDS = 2.0
NETWORKS = ("mastodon", "bluesky", "facebook", "instagram", "linkedin", "x")
OAUTH_TARGETS = {"facebook": PAGE_ID, "instagram": IG_USER_ID, "linkedin": LINKEDIN_ORG, "x": None}


@dataclass
class NetworkFakes:
    mastodon: FakeMastodon
    bluesky: FakePds
    facebook: FakeMeta
    instagram: FakeMeta
    linkedin: FakeLinkedInState
    x: FakeXState
    urls: dict[str, str]
    mastodon_account_id: str
    bluesky_did: str

    def publisher_env(self) -> dict[str, str]:
        meta_client = {"client_id": "fake-app-id", "client_secret": "fake-app-secret"}
        networks = {
            "bluesky": {"api_base_url": self.urls["bluesky"]},
            "facebook": {
                "api_base_url": self.urls["facebook"],
                "auth_base_url": self.urls["facebook"],
                "timeout_seconds": FACEBOOK_TIMEOUT_SECONDS,
                **meta_client,
            },
            "instagram": {
                "api_base_url": self.urls["instagram"],
                "auth_base_url": self.urls["instagram"],
                **meta_client,
            },
            "linkedin": {
                "api_base_url": self.urls["linkedin"],
                "auth_base_url": self.urls["linkedin"],
                "client_id": "li-client",
                "client_secret": "li-secret",
            },
            "x": {
                "api_base_url": self.urls["x"],
                "auth_base_url": self.urls["x"],
                "client_id": "x-client",
                "client_secret": "x-secret",
            },
        }
        return {"CLEARPOST_PUBLISHER_NETWORKS": json.dumps(networks)}


def callback_url(system: RunningSystem, network: str) -> str:
    return f"{system.gateway}/api/v1/channel-accounts/{network}/callback"


def account_name(network: str) -> str:
    return f"riverside-{network}"


async def connect_direct(
    system: RunningSystem, fakes: NetworkFakes, network: str, name: str, *, token: str = MASTODON_TOKEN
) -> httpx.Response:
    """Connect a Mastodon account (with `token`) or the Bluesky account, as an admin."""
    body: dict[str, str] = {"network": network, "name": name, "base_url": fakes.urls[network]}
    if network == "mastodon":
        body["access_token"] = token
    else:
        body |= {"identifier": BLUESKY_HANDLE, "app_password": BLUESKY_PASSWORD}
    async with system.client("admin@demo") as admin:
        return await admin.post("/api/v1/channel-accounts", json=body)


async def connect_through_browser(
    system: RunningSystem, network: str, name: str, *, target: str | None = None
) -> httpx.Response:
    """What the admin's browser does: start, let the network's page approve, come back. `target`:
    the page / Instagram user / organization to post as (the seeded one unless given)."""
    target = target or OAUTH_TARGETS[network]
    params = {"name": name, **({"target": target} if target else {})}
    async with system.client("admin@demo") as admin:
        started = await admin.get(f"/api/v1/channel-accounts/{network}/authorize", params=params)
    assert started.status_code == 200, started.text
    async with httpx.AsyncClient(trust_env=False, timeout=30) as browser:
        consent = await browser.get(started.json()["authorization_url"])
        assert consent.status_code == 302, consent.text
        back = consent.headers["location"]
        assert back.startswith(callback_url(system, network)), back
        return await browser.get(back)


def small_jpeg(seed: int = 0) -> bytes:
    """A real (tiny, faceless) JPEG the drafts service accepts and sanitizes."""
    image = Image.new("RGB", (48, 32), (40 + seed, 120, 200))
    for column in range(0, 48, 6):
        for row in range(32):
            image.putpixel((column, row), (250, 250, 250))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()

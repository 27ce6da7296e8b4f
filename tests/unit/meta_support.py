"""What Meta adapter tests import: the world's ids, a clock that only moves when the adapter
sleeps, the adapter's config. Load the fixtures with `pytest_plugins = ["tests.unit.meta_fixtures"]`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from services.publisher.networks.base import NetworkConfig
from tests.fakes.networks.meta_state import IG_PERMISSIONS, PAGE_PERMISSIONS, FakeMeta
from tests.fakes.serve import ServedApp

PAGE_ID = "1001"
IG_ID = "17841400000000001"
OTHER_PAGE_ID = "2002"
REDIRECT_URI = "http://127.0.0.1:9/callback"
ALL_SCOPES = PAGE_PERMISSIONS | IG_PERMISSIONS | {"pages_show_list"}


@dataclass
class FakeClock:
    """Unix time that advances only by what the code under test sleeps (recorded in `slept`)."""

    now_value: float = field(default_factory=time.time)
    slept: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.now_value

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now_value += max(0.0, seconds)


@dataclass
class MetaWorld:
    fake: FakeMeta
    served: ServedApp
    clock: FakeClock

    def config(self, *, timeout_seconds: float = 5.0, max_wait_seconds: float = 60.0) -> NetworkConfig:
        return NetworkConfig(
            api_base_url=self.served.url,
            auth_base_url=self.served.url,
            client_id=self.fake.client_id,
            client_secret=self.fake.client_secret,
            timeout_seconds=timeout_seconds,
            max_wait_seconds=max_wait_seconds,
        )

    def user_token(self, scopes: set[str] | frozenset[str] = ALL_SCOPES) -> str:
        """A fresh (short-lived) user token, as the login dialog's code exchange gives."""
        return self.fake.issue_token("user-1", scopes).value


@dataclass
class MediaHost:
    """The publisher's public media URLs, as Instagram fetches them."""

    images: dict[str, tuple[bytes, str]]
    served: ServedApp
    fetched: list[str]  # the names Instagram (the fake) fetched

    def url(self, name: str) -> str:
        return f"{self.served.url}/media/{name}"


def jpeg(seed: int) -> bytes:
    """Bytes that look like a JPEG (the fakes do not decode images)."""
    return b"\xff\xd8\xff\xe0" + bytes([seed]) * 64 + b"\xff\xd9"

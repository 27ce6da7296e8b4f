"""Fixtures for Meta adapter tests: the Graph fake's world (one admin, one Page linked to one
Instagram business account) and a host for the public media URLs Instagram fetches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.networks.meta import create_app, create_media_app
from tests.fakes.networks.meta_state import FakeMeta
from tests.fakes.serve import ServedApp
from tests.unit.meta_support import (
    IG_ID,
    OTHER_PAGE_ID,
    PAGE_ID,
    REDIRECT_URI,
    FakeClock,
    MediaHost,
    MetaWorld,
)


@pytest.fixture
def meta_world() -> Iterator[MetaWorld]:
    clock = FakeClock()
    fake = FakeMeta(clock=clock.now, redirect_uris=(REDIRECT_URI,))
    fake.add_user("user-1")
    fake.add_page(PAGE_ID, "Riverside Clinic", ig_user_id=IG_ID, ig_username="riverside.clinic")
    fake.add_page(OTHER_PAGE_ID, "Other Practice")
    with ServedApp(create_app(fake)) as served:
        yield MetaWorld(fake, served, clock)


@pytest.fixture
def media_host() -> Iterator[MediaHost]:
    images: dict[str, tuple[bytes, str]] = {}
    app = create_media_app(images)
    with ServedApp(app) as served:
        yield MediaHost(images, served, app.state.fetched)

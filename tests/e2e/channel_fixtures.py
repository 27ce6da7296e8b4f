"""Fixtures for the channel end-to-end tests: the six network fakes, served on loopback before the
system starts (so their addresses go into the publisher's CLEARPOST_PUBLISHER_NETWORKS, with each
OAuth fake's client id and secret), a system of the module's own, and one connected account per
network. Load with `pytest_plugins = ["tests.e2e.channel_fixtures"]`; helpers are in channel_support.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.database import postgres_answers
from tests.e2e.channel_support import (
    BLUESKY_HANDLE,
    BLUESKY_PASSWORD,
    IG_PAGE_ID,
    IG_USER_ID,
    MASTODON_TOKEN,
    NETWORKS,
    PAGE_ID,
    NetworkFakes,
    account_name,
    callback_url,
    connect_direct,
    connect_through_browser,
)
from tests.fakes.networks import bluesky, linkedin, mastodon, meta, x
from tests.fakes.networks.bluesky import FakePds
from tests.fakes.networks.mastodon import FakeMastodon
from tests.fakes.networks.meta_state import FakeMeta
from tests.fakes.serve import ServedApp
from tests.system import RunningSystem, start_system


@pytest.fixture(scope="module")
def network_fakes() -> Iterator[NetworkFakes]:
    mastodon_app = mastodon.create_app(domain="mastodon.example")
    toots: FakeMastodon = mastodon_app.state.fake
    account_id = toots.add_account("riverside", MASTODON_TOKEN)
    pds_app = bluesky.create_app()
    pds: FakePds = pds_app.state.fake
    did = pds.add_account(BLUESKY_HANDLE, BLUESKY_PASSWORD)
    # Facebook and Instagram are one Graph API; each has its own fake here, so that what each shows
    # is only what was posted to that network.
    facebook = FakeMeta(container_polls=0)
    facebook.add_user("user-1")
    facebook.add_page(PAGE_ID, "Riverside Clinic")
    instagram = FakeMeta(container_polls=0)
    instagram.add_user("user-1")
    instagram.add_page(
        IG_PAGE_ID, "Riverside Clinic IG", ig_user_id=IG_USER_ID, ig_username="riverside.clinic"
    )
    linkedin_app = linkedin.create_app()
    x_app = x.create_app()
    apps = {
        "mastodon": mastodon_app,
        "bluesky": pds_app,
        "facebook": meta.create_app(facebook),
        "instagram": meta.create_app(instagram),
        "linkedin": linkedin_app,
        "x": x_app,
    }
    with ExitStack() as stack:
        urls = {name: stack.enter_context(ServedApp(app)).url for name, app in apps.items()}
        yield NetworkFakes(
            mastodon=toots,
            bluesky=pds,
            facebook=facebook,
            instagram=instagram,
            linkedin=linkedin_app.state.fake,
            x=x_app.state.fake,
            urls=urls,
            mastodon_account_id=account_id,
            bluesky_did=did,
        )


@pytest.fixture(scope="module")
def channels_system(
    network_fakes: NetworkFakes,
    temporal_dev_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningSystem]:
    """A system of its own whose publisher posts to the fakes. One system, to keep the suite's time:
    on PostgreSQL where it answers (it enforces what SQLite lets pass, such as column lengths),
    otherwise on SQLite files."""
    kind = "postgresql" if postgres_answers() else "sqlite"
    with start_system(
        kind, temporal_dev_server, tmp_path_factory, extra_env=network_fakes.publisher_env()
    ) as running:
        for network in ("facebook", "instagram"):
            fake: FakeMeta = getattr(network_fakes, network)
            fake.redirect_uris = (callback_url(running, network),)
        yield running


@pytest.fixture(scope="module")
async def connected_accounts(channels_system: RunningSystem, network_fakes: NetworkFakes) -> dict[str, str]:
    """One connected account per network, by network: the names drafts put in `channels`."""
    names = {network: account_name(network) for network in NETWORKS}
    for network in ("mastodon", "bluesky"):
        connected = await connect_direct(channels_system, network_fakes, network, names[network])
        assert connected.status_code == 201, connected.text
    for network in ("facebook", "instagram", "linkedin", "x"):
        finished = await connect_through_browser(channels_system, network, names[network])
        assert finished.status_code == 200, finished.text
        assert finished.json()["status"] == "ok", finished.json()
    return names

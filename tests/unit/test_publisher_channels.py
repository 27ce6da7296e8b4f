from __future__ import annotations

from pathlib import Path

import pytest

from services.publisher.channels import OutgoingPost, SandboxChannel, UnknownChannelError, build_channels
from tests.unit.publisher_fixtures import outbox_lines


def outgoing(publication_id: str) -> OutgoingPost:
    return OutgoingPost(
        publication_id=publication_id,
        draft_id="d-1",
        version=1,
        channel="sandbox",
        content_hash="a" * 64,
        title="Title",
        body="Body ünïcode",
    )


async def test_sandbox_reports_what_it_already_has(tmp_path: Path) -> None:
    sandbox = SandboxChannel(tmp_path / "outbox")
    assert await sandbox.already_posted("p-1") is None

    external_id = await sandbox.post(outgoing("p-1"))

    assert await sandbox.already_posted("p-1") == external_id
    assert await sandbox.already_posted("p-2") is None
    [line] = outbox_lines(sandbox.path)
    assert line["body"] == "Body ünïcode"


async def test_sandbox_post_is_idempotent_on_the_publication_id(tmp_path: Path) -> None:
    sandbox = SandboxChannel(tmp_path)

    first = await sandbox.post(outgoing("p-1"))
    second = await sandbox.post(outgoing("p-1"))
    await sandbox.post(outgoing("p-2"))

    assert first == second
    assert [line["publication_id"] for line in outbox_lines(sandbox.path)] == ["p-1", "p-2"]


async def test_sandbox_skips_a_torn_last_line(tmp_path: Path) -> None:
    sandbox = SandboxChannel(tmp_path)
    await sandbox.post(outgoing("p-1"))
    with sandbox.path.open("a") as fh:
        fh.write('{"publication_id": "p-2", "tit')  # a crash mid-append

    assert await sandbox.already_posted("p-2") is None
    await sandbox.post(outgoing("p-2"))

    lines = sandbox.path.read_text().splitlines()
    assert len(lines) == 3
    assert await sandbox.already_posted("p-2") == SandboxChannel.external_id_for("p-2")


def test_a_configured_channel_without_an_implementation_is_an_error(tmp_path: Path) -> None:
    assert list(build_channels(["sandbox"], outbox_dir=tmp_path)) == ["sandbox"]
    with pytest.raises(UnknownChannelError, match="'twitter'"):
        build_channels(["sandbox", "twitter"], outbox_dir=tmp_path)

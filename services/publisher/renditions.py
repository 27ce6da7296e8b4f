"""What each channel will show of a post, measured as that network measures it, before review.

Clearpost never rewrites or truncates approved text: every network shows the body exactly as the
reviewers approved it (the content hash covers it and the channel list). So a rendition that does
not fit (X's weighted 280, Bluesky's 300 graphemes, Instagram's 2,200 characters and 30 hashtags
and its required image, LinkedIn's 3,000, a Mastodon instance's own limit) is an error for the
author at the time they write, not a surprise at publishing time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.publisher.account_channel import AccountChannel
from services.publisher.directory import ChannelDirectory

HASHTAG = re.compile(r"(?<![\w&])#\w+")


@dataclass(frozen=True)
class RenditionCheck:
    channel: str
    network: str
    text: str
    length: int
    max_length: int
    unit: str
    fold: int | None
    problems: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.problems


async def check_renditions(
    directory: ChannelDirectory, *, body: str, channels: Sequence[str], media_count: int
) -> list[RenditionCheck]:
    """Each channel's rendition of `body` with `media_count` images, and what keeps it from fitting."""
    resolved = await directory.resolve(list(channels))
    checks = []
    for name, channel in resolved.items():
        length = channel.measure(body)
        problems = []
        if length > channel.max_length:
            problems.append(f"{length} of {channel.max_length} allowed")
        network, unit, fold = name, "characters", None
        if isinstance(channel, AccountChannel):
            limits = channel.limits
            network, unit, fold = channel.network, limits.unit, limits.fold
            problems = (
                [f"{length} {unit} of {limits.max_length} allowed"] if length > limits.max_length else []
            )
            hashtags = len(HASHTAG.findall(body))
            if limits.max_hashtags is not None and hashtags > limits.max_hashtags:
                problems.append(f"{hashtags} hashtags of {limits.max_hashtags} allowed")
            if media_count > limits.max_images:
                problems.append(f"{media_count} images of {limits.max_images} allowed")
            if limits.requires_image and media_count == 0:
                problems.append("needs at least one image")
        checks.append(RenditionCheck(name, network, body, length, channel.max_length, unit, fold, problems))
    return checks

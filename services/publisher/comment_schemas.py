"""The comment API's shapes (pydantic at the edge)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CommentOut(BaseModel):
    id: str
    network: str
    account: str
    publication_id: str
    draft_id: str
    external_id: str
    in_reply_to: str | None
    author: str
    url: str | None
    text: str
    created_at: datetime | None
    read_at: datetime
    screening_id: str | None
    categories: list[str]
    moderation: str | None
    moderated_at: datetime | None
    # An approved private-reply template for what was found (PHI, adverse event), if any.
    suggested_reply: str | None = None
    can_hide: bool = False


class CommentList(BaseModel):
    comments: list[CommentOut]


class HideIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500)


class ListeningOut(BaseModel):
    accounts: list[str]

"""Who may decide a stage: any holder of its roles, or its named people and, while one is away,
their delegate; never the draft's author. Pure: the caller passes the delegations in force."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.kit.tokens import Principal
from services.review.models import ReviewDelegation, ReviewTask


def names_of(principal: Principal) -> set[str]:
    """A named list may name a person by user id or by username."""
    return {principal.user_id, principal.username}


def stands_for(
    principal: Principal, deciders: Sequence[str], delegations: Sequence[ReviewDelegation], at: datetime
) -> list[str]:
    """The named deciders `principal` decides for: themselves, if named, and each named person
    whose delegation to them is in force at `at`."""
    me = names_of(principal)
    slots = [d for d in deciders if d in me]
    for delegation in delegations:
        if delegation.active(at) and delegation.delegate in me:
            slots += [d for d in deciders if d in delegation.names() and d not in slots]
    return slots


def refusal(
    task: ReviewTask, principal: Principal, delegations: Sequence[ReviewDelegation], at: datetime
) -> str | None:
    """Why `principal` may not decide `task` (None when they may)."""
    if not principal.has_any(*task.roles):
        return (
            f"the {task.stage} stage is decided by {', '.join(task.roles)}; your roles are "
            f"{', '.join(sorted(principal.roles)) or 'none'}"
        )
    if task.author_id == principal.user_id:
        return "authors do not review their own drafts"
    if task.deciders and not stands_for(principal, task.deciders, delegations, at):
        return (
            f"the {task.stage} stage is decided by {', '.join(task.deciders)} (or their delegates "
            "while they are away)"
        )
    return None

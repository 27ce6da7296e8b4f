"""The draft page: built for its GET, and again when a form on it is refused (with the refusal shown
and what the user typed kept)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import utcnow
from services.kit.deps import SessionDep
from services.kit.errors import ClearpostError
from services.kit.tokens import Principal
from services.review.models import Screening, ScreeningMark
from services.review.policy import REVIEW_ROLES, SCREENING_CATEGORIES, LoadedPolicy
from services.review.repository import ReviewRepository
from services.review.schemas import ALLOW_LIST_KINDS
from services.review.ui.deps import (
    ClaimServiceDep,
    CommentServiceDep,
    UiRepositoryDep,
    UiState,
    UiStateDep,
)
from services.review.ui.presenters import channel_previews, highlight, referenced_products, word_diff
from services.review.ui.render import CONSENT_ROLES, TAKEDOWN_ROLES, page
from services.review.ui.repository import UiRepository
from services.review.ui.security import UI_PREFIX
from services.review.ui.service import ClaimService, CommentService
from services.review.ui.sessions import SignedIn
from services.review.ui.upstream import MAX_FILE_BYTES, HistoryUnavailable

# The drafts service lets the author change a draft (text, consents, images) only in these states.
EDITABLE = ("draft", "changes_requested")
# A draft whose post is (or may still be) on its networks: a takedown can be asked for.
LIVE = ("published", "takedown_required", "takedown_failed")


def draft_url(draft_id: str) -> str:
    return f"{UI_PREFIX}/drafts/{quote(draft_id, safe='')}"


def policy_of(request: Request) -> LoadedPolicy:
    policy: LoadedPolicy = request.app.state.policy
    return policy


def consent_ids_text(draft: dict[str, Any]) -> str:
    ids = draft.get("consent_ids") or ([draft["consent_id"]] if draft.get("consent_id") else [])
    return ", ".join(ids)


async def _stage_rows(
    session: AsyncSession,
    repo: UiRepository,
    claims: ClaimService,
    draft: dict[str, Any],
    principal: Principal,
) -> list[dict[str, Any]]:
    """Each stage of the draft: its status and decisions, and whether this user may decide it now."""
    review_repo = ReviewRepository(session)
    decided = (await review_repo.stages_decided_by(principal.user_id)).get(draft["id"], set())
    tasks = {
        t.stage: t for t in await review_repo.open_tasks_for(draft["id"]) if t.version == draft["version"]
    }
    held = await claims.active_claims([draft["id"]], utcnow())
    rows = []
    for stage in draft.get("stages", []):
        name = stage["stage"]
        task = tasks.get(name)
        may_decide = bool(
            task is not None
            and principal.has_any(*task.roles)
            and task.author_id != principal.user_id
            and not (decided - {name})
        )
        rows.append(
            {
                **stage,
                "open": task is not None,
                "may_decide": may_decide,
                "claim": held.get((draft["id"], name)),
            }
        )
    return rows


async def _draft_consents(
    ui: UiState, token: str, draft: dict[str, Any]
) -> tuple[dict[str, Any] | None, str]:
    """The consents the draft relies on, when it names any (each read is an audit event)."""
    named = list(draft.get("consent_ids") or []) + [
        m["consent_id"] for m in draft.get("media", []) if m.get("consent_id")
    ]
    if not named:
        return None, ""
    try:
        return await ui.user_api.draft_consents(token, draft["id"]), ""
    except ClearpostError as exc:
        return None, exc.detail


async def _publications(ui: UiState, token: str, draft: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Where the draft went (network, URL, status, removal evidence): asked whatever the status, as a
    draft sent back to review when its lifetime ended keeps the records of its earlier post."""
    if draft["status"] == "draft":
        return [], ""
    try:
        return await ui.user_api.publications(token, draft["id"]), ""
    except ClearpostError as exc:
        return [], exc.detail


async def _marks_by_finding(
    repo: ReviewRepository, draft_id: str, screening: Screening | None
) -> dict[str, Any]:
    """This screening's marks: "wrong" ones by finding number (as the page numbers them), and the
    missed passages."""
    wrong: dict[int, list[ScreeningMark]] = {}
    missed: list[ScreeningMark] = []
    if screening is not None:
        for mark in await repo.marks_for_draft(draft_id):
            if mark.screening_id != screening.id:
                continue
            if mark.mark == "wrong" and mark.finding_index is not None:
                wrong.setdefault(mark.finding_index + 1, []).append(mark)
            elif mark.mark == "missed":
                missed.append(mark)
    return {"wrong": wrong, "missed": missed}


@dataclass
class DraftPage:
    request: Request
    ui: UiState
    session: AsyncSession
    repo: UiRepository
    claims: ClaimService
    comments: CommentService

    async def render(
        self,
        signed: SignedIn,
        draft_id: str,
        *,
        status_code: int = 200,
        revise_error: str = "",
        revision: dict[str, Any] | None = None,
        media_error: str = "",
        upload: dict[str, Any] | None = None,
        takedown_error: str = "",
        takedown_reason: str = "",
        takedown_started: bool = False,
        feedback_error: str = "",
        feedback: dict[str, Any] | None = None,
        mark_recorded: str = "",
    ) -> Response:
        """The page. A refused form passes its reason (`revise_error`, `media_error`, `takedown_error`)
        and what was typed (`revision`: the new version's fields; `upload`: the image form's;
        `takedown_reason`; `feedback`: a "Not right" or "missed passage" form's fields), shown in place."""
        principal, ui = signed.principal, self.ui
        # The drafts service decides who may see the draft; nothing below is shown unless it agrees.
        draft = await ui.user_api.draft(signed.token, draft_id)
        versions = await ui.user_api.versions(signed.token, draft_id)
        try:
            limits = await ui.user_api.channel_limits(signed.token)
            renditions = await ui.user_api.renditions(
                signed.token, draft["body"], list(draft["channels"]), len(draft.get("media", []))
            )
            limits_error = ""
        except ClearpostError as exc:
            limits, renditions, limits_error = {}, [], exc.detail
        review_repo = ReviewRepository(self.session)
        screening = await review_repo.latest_screening(draft_id, draft["version"])
        marks = await _marks_by_finding(review_repo, draft_id, screening)
        marked = highlight(draft["title"], draft["body"], screening.findings if screening else [])
        previous = next((v for v in versions if v["version"] == draft["version"] - 1), None)
        try:
            history: list[dict[str, Any]] | None = sorted(
                await ui.history.events(draft_id, principal), key=lambda e: e.get("seq", 0), reverse=True
            )
            history_error = ""
        except HistoryUnavailable as exc:
            history, history_error = None, str(exc)
        await self.claims.touch(draft_id, principal, utcnow())
        change_requests = [
            {"stage": s["stage"], **d}
            for s in draft.get("stages", [])
            for d in s.get("decisions", [])
            if d.get("decision") == "request_changes"
        ]
        is_author = draft["author_id"] == principal.user_id
        may_mark = screening is not None and principal.has_any(*REVIEW_ROLES) and not is_author
        consents, consents_error = await _draft_consents(ui, signed.token, draft)
        publications, publications_error = await _publications(ui, signed.token, draft)
        return page(
            self.request,
            "draft.html",
            {
                "draft": draft,
                "stages": await _stage_rows(self.session, self.repo, self.claims, draft, principal),
                "previews": channel_previews(draft["body"], draft["channels"], renditions),
                "limits_error": limits_error,
                "text": marked,
                "screening": screening,
                "products": referenced_products(
                    policy_of(self.request), screening.products if screening else []
                ),
                "previous": previous,
                "title_diff": word_diff(previous["title"], draft["title"]) if previous else [],
                "body_diff": word_diff(previous["body"], draft["body"]) if previous else [],
                "comments": await self.comments.thread(draft_id),
                "history": history,
                "history_error": history_error,
                "change_requests": change_requests,
                "can_revise": is_author and draft["status"] in EDITABLE,
                "known_channels": sorted(set(limits) | set(draft["channels"])),
                "consents": consents,
                "consents_error": consents_error,
                "media": draft.get("media", []),
                "may_read_forms": principal.has_any(*CONSENT_ROLES),
                "may_confirm_media": principal.has_any("compliance") and not is_author,
                "revise_error": revise_error,
                "revision": revision
                or {
                    "title": draft["title"],
                    "body": draft["body"],
                    "channels": draft["channels"],
                    "patient_content": draft["patient_content"],
                    "consent_ids": consent_ids_text(draft),
                },
                "media_error": media_error,
                "upload": upload or {"staff_stock": False, "consent_id": ""},
                "max_file_mb": MAX_FILE_BYTES // (1024 * 1024),
                "publications": publications,
                "publications_error": publications_error,
                "may_take_down": principal.has_any(*TAKEDOWN_ROLES)
                and draft["status"] in LIVE
                and any(p["status"] == "published" for p in publications),
                "takedown_error": takedown_error,
                "takedown_reason": takedown_reason,
                "takedown_started": takedown_started,
                "may_mark": may_mark,
                "marks": marks,
                "feedback_error": feedback_error,
                "feedback": feedback or {},
                "mark_recorded": mark_recorded,
                "allow_list_kinds": ALLOW_LIST_KINDS,
                "screening_categories": SCREENING_CATEGORIES,
            },
            status_code=status_code,
        )


def draft_page(
    request: Request,
    ui: UiStateDep,
    session: SessionDep,
    repo: UiRepositoryDep,
    claims: ClaimServiceDep,
    comments: CommentServiceDep,
) -> DraftPage:
    return DraftPage(request, ui, session, repo, claims, comments)


DraftPageDep = Annotated[DraftPage, Depends(draft_page)]

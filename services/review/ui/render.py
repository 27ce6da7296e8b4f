"""Jinja2 templates (autoescaped) and the HTML answers of the review UI."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from services.review.ae_cases import CASE_READERS
from services.review.crisis import CRISIS_READERS
from services.review.flow_report import FLOW_ROLES
from services.review.ui.presenters import (
    DECISION_LABELS,
    NAME_USE_LABELS,
    REVOCATION_ACTIONS,
    purpose_label,
    status_label,
    status_symbol,
)

HERE = Path(__file__).resolve().parent
# Who may see consent records and signed forms (the drafts service enforces it; the UI hides the rest).
CONSENT_ROLES = ("compliance", "admin")
# The publisher's rules, mirrored so pages offer only what it would allow (it enforces them).
CHANNEL_READER_ROLES = ("admin", "publisher", "compliance")
MODERATION_ROLES = ("publisher", "compliance", "pharmacovigilance", "admin")
TAKEDOWN_ROLES = ("publisher", "compliance", "admin")
PAUSE_ROLES = ("compliance", "admin")
# Who sees the allow-list proposals (only compliance decides them: services/review/feedback.py).
ALLOW_LIST_ROLES = ("compliance", "auditor", "admin")
# Who may read the publishing state and live posts: the calendar and the pause banner.
STAFF_ROLES = ("publisher", "compliance", "legal", "medical", "auditor", "admin")

STATIC_DIR = HERE / "static"

environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["status_label"] = status_label
environment.filters["purpose_label"] = purpose_label
environment.filters["status_symbol"] = status_symbol
environment.filters["decision_label"] = lambda d: DECISION_LABELS.get(d, d)
environment.filters["name_use"] = lambda v: NAME_USE_LABELS.get(v, v)
environment.filters["revocation_action"] = lambda v: REVOCATION_ACTIONS.get(v, v)
environment.filters["short_hash"] = lambda h: (h or "")[:12]
environment.filters["urlpart"] = lambda v: quote(str(v), safe="")
environment.filters["when"] = lambda t: (
    t.strftime("%Y-%m-%d %H:%M:%S UTC") if hasattr(t, "strftime") else str(t)
)


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    signed = getattr(request.state, "signed_in", None)
    base = {
        "request": request,
        "user": signed.principal if signed else None,
        "csrf_token": signed.session.csrf_token if signed else "",
        "is_reviewer": bool(signed and signed.principal.has_any("legal", "compliance", "medical")),
        "is_author": bool(signed and signed.principal.has_any("author")),
        "may_manage_consents": bool(signed and signed.principal.has_any(*CONSENT_ROLES)),
        "may_view_channels": bool(signed and signed.principal.has_any(*CHANNEL_READER_ROLES)),
        "may_moderate": bool(signed and signed.principal.has_any(*MODERATION_ROLES)),
        "may_pause": bool(signed and signed.principal.has_any(*PAUSE_ROLES)),
        "may_review_allow_list": bool(signed and signed.principal.has_any(*ALLOW_LIST_ROLES)),
        "may_view_calendar": bool(signed and signed.principal.has_any(*STAFF_ROLES)),
        "may_view_flow": bool(signed and signed.principal.has_any(*FLOW_ROLES)),
        "may_view_crisis": bool(signed and signed.principal.has_any(*CRISIS_READERS)),
        "may_view_cases": bool(signed and signed.principal.has_any(*CASE_READERS)),
        # GET /api/v1/publishing as fetched for this request (deps.signed_in), for the pause banner.
        "publishing": getattr(request.state, "publishing", None),
        # The inbox's unread count for the navigation (deps.signed_in).
        "unread_notifications": getattr(request.state, "unread_notifications", 0),
    }
    html = environment.get_template(template).render({**base, **(context or {})})
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status_code: int, title: str, detail: str) -> HTMLResponse:
    return page(request, "error.html", {"title": title, "detail": detail}, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    """Only our own pages are redirect targets after sign-in (no open redirect)."""
    if target and target.startswith("/review/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/review/"

"""The authorization matrix: every route of every service x every role (and anonymous).

Generated from each app's route table at test time and compared with the table below: a route
without an entry fails the test (add it here, deciding who may call it), and so does a route
whose gate lets through someone the table does not name, or turns away someone it does.

"Got past auth" means any answer other than 401/403 (a 404 for a made-up id, a 422 for the empty
body sent, a 503 where Temporal is off): the gate under test is the service's authentication
and role check, not the handler's business rules, which its own API tests cover (a route marked
SIGNED_IN may still refuse a role inside the handler once the request is valid).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import iter_route_contexts

from services.gateway.proxy import METHODS
from services.kit.metrics import load_metrics_token
from tests.unit.security_support import INTERNAL_TOKEN, ROLES, SCIM_TOKEN, Services

pytest_plugins = ["tests.unit.security_fixtures"]

PUBLIC = "public"  # everyone, signed in or not
SIGNED_IN = "signed in"  # any valid token; anonymous gets 401
CREDENTIAL = (
    "service credential"  # /internal (service token) and SCIM (its own bearer): every user token gets 401
)
UI = "ui session"  # the review UI's cookie routes: a bearer token counts for nothing there
SCRAPE = "scrape credential"  # /metrics: every user token gets 401, the scrape credential gets in

# The gateway forwards these prefixes without authenticating (each service checks the token itself)
# and refuses /internal outright.
PROXIED = (
    "/api/v1/drafts",
    "/api/v1/consents",
    "/api/v1/takedowns",
    "/api/v1/reviews",
    "/api/v1/screenings",
    "/api/v1/policy",
    "/api/v1/notifications",
    "/api/v1/crisis",
    "/review",
    "/api/v1/publications",
    "/api/v1/channels",
    "/api/v1/channel-accounts",
    "/api/v1/publishing",
    "/api/v1/live-posts",
    "/api/v1/renditions",
    "/api/v1/comments",
    "/api/v1/ae-cases",
    "/public/v1/media",
    "/api/v1/audit",
)
FORWARDED = "forwarded"
CRISIS_READERS = {"admin", "auditor", "compliance", "crisis", "legal", "medical", "publisher"}
REFUSED = "refused"

EXPECTED: dict[str, Any] = {
    "gateway GET /openapi.json": PUBLIC,
    "gateway GET /docs": PUBLIC,
    "gateway GET /docs/oauth2-redirect": PUBLIC,
    "gateway GET /redoc": PUBLIC,
    "gateway GET /healthz": PUBLIC,
    "gateway GET /readyz": PUBLIC,
    "gateway POST /api/v1/auth/token": PUBLIC,
    "gateway POST /api/v1/auth/revoke": PUBLIC,
    "gateway GET /api/v1/auth/jwks": PUBLIC,
    "gateway GET /api/v1/auth/me": SIGNED_IN,
    "gateway GET /api/v1/users": {"admin"},
    "gateway POST /api/v1/users": {"admin"},
    "gateway PATCH /api/v1/users/{user_id}": {"admin"},
    "gateway GET /scim/v2/Users": CREDENTIAL,
    "gateway GET /scim/v2/Users/{user_id}": CREDENTIAL,
    "gateway PATCH /scim/v2/Users/{user_id}": CREDENTIAL,
    "gateway DELETE /scim/v2/Users/{user_id}": CREDENTIAL,
    "gateway GET /internal/v1/revocations": CREDENTIAL,
    # The identity provider's sign-in (docs/identity.md): anyone starts one; a signing request's
    # bearer token is checked by the service (a local account is refused, 409).
    "gateway GET /api/v1/auth/oidc/login": PUBLIC,
    "gateway GET /api/v1/auth/oidc/callback": PUBLIC,
    "gateway GET /api/v1/auth/oidc/logout": PUBLIC,
    "gateway POST /api/v1/auth/oidc/backchannel-logout": PUBLIC,  # the provider's signed logout token
    "gateway GET /api/v1/users/access-review": {"admin"},
    "gateway GET /scim/v2/Groups": CREDENTIAL,
    "gateway POST /scim/v2/Groups": CREDENTIAL,
    "gateway GET /scim/v2/Groups/{group_id}": CREDENTIAL,
    "gateway PUT /scim/v2/Groups/{group_id}": CREDENTIAL,
    "gateway PATCH /scim/v2/Groups/{group_id}": CREDENTIAL,
    "gateway DELETE /scim/v2/Groups/{group_id}": CREDENTIAL,
    "gateway POST /internal/v1/signing-reauthentications/redeem": CREDENTIAL,
    "drafts GET /openapi.json": PUBLIC,
    "drafts GET /docs": PUBLIC,
    "drafts GET /docs/oauth2-redirect": PUBLIC,
    "drafts GET /redoc": PUBLIC,
    "drafts GET /healthz": PUBLIC,
    "drafts GET /readyz": PUBLIC,
    "drafts POST /api/v1/drafts": SIGNED_IN,
    "drafts GET /api/v1/drafts": SIGNED_IN,
    "drafts GET /api/v1/drafts/{draft_id}": SIGNED_IN,
    "drafts GET /api/v1/drafts/{draft_id}/versions": SIGNED_IN,
    "drafts PUT /api/v1/drafts/{draft_id}": SIGNED_IN,
    "drafts POST /api/v1/drafts/{draft_id}/submit": SIGNED_IN,
    "drafts POST /api/v1/drafts/{draft_id}/withdraw": SIGNED_IN,
    "drafts POST /api/v1/drafts/{draft_id}/media": SIGNED_IN,
    "drafts GET /api/v1/drafts/{draft_id}/media/{digest}": SIGNED_IN,
    "drafts DELETE /api/v1/drafts/{draft_id}/media/{digest}": SIGNED_IN,
    "drafts PATCH /api/v1/drafts/{draft_id}/media/{digest}": SIGNED_IN,
    "drafts POST /api/v1/drafts/{draft_id}/media/{digest}/confirm-staff-stock": SIGNED_IN,
    "drafts GET /api/v1/drafts/{draft_id}/consents": SIGNED_IN,
    "drafts POST /api/v1/consents": {"admin", "compliance"},
    "drafts GET /api/v1/consents": {"admin", "compliance"},
    "drafts POST /api/v1/consents/search": {"admin", "compliance"},
    "drafts GET /api/v1/consents/{consent_id}": {"admin", "compliance"},
    "drafts POST /api/v1/consents/{consent_id}/revoke": {"admin", "compliance"},
    "drafts GET /api/v1/consents/{consent_id}/form": {"admin", "compliance"},
    "drafts GET /api/v1/takedowns": {"admin", "publisher"},
    "drafts POST /internal/v1/drafts/{draft_id}/live-state": CREDENTIAL,
    "drafts POST /api/v1/takedowns/{task_id}/complete": {"admin", "publisher"},
    "drafts GET /internal/v1/drafts/{draft_id}/versions/{version}": CREDENTIAL,
    "drafts POST /internal/v1/drafts/{draft_id}/versions/{version}/consent-check": CREDENTIAL,
    "drafts GET /internal/v1/drafts/{draft_id}/readers": CREDENTIAL,
    "drafts POST /internal/v1/drafts/from-template": CREDENTIAL,
    "drafts GET /internal/v1/media/{digest}": CREDENTIAL,
    "review GET /internal/v1/decisions/latest": CREDENTIAL,
    "review GET /openapi.json": PUBLIC,
    "review GET /docs": PUBLIC,
    "review GET /docs/oauth2-redirect": PUBLIC,
    "review GET /redoc": PUBLIC,
    "review GET /healthz": PUBLIC,
    "review GET /readyz": PUBLIC,
    "review GET /api/v1/reviews/keys": PUBLIC,
    "review GET /api/v1/reviews/queue": SIGNED_IN,
    "review POST /api/v1/reviews/{draft_id}/decisions": SIGNED_IN,
    "review GET /api/v1/reviews/{draft_id}/findings": SIGNED_IN,
    "review POST /api/v1/reviews/{draft_id}/overrides": SIGNED_IN,
    "review POST /api/v1/screenings": SIGNED_IN,
    "review POST /api/v1/reviews/{draft_id}/feedback": {"compliance", "legal", "medical"},
    "review GET /api/v1/reviews/{draft_id}/feedback": {"admin", "auditor", "compliance", "legal", "medical"},
    "review GET /api/v1/screenings/allow-list/proposals": {"admin", "auditor", "compliance"},
    "review POST /api/v1/screenings/allow-list/proposals/{proposal_id}/approve": {"compliance"},
    "review POST /api/v1/screenings/allow-list/proposals/{proposal_id}/reject": {"compliance"},
    "review GET /api/v1/policy": {"admin", "compliance", "legal", "medical"},
    "review POST /api/v1/reviews/delegations": {"compliance", "legal", "medical"},
    "review GET /api/v1/reviews/delegations": {"compliance", "legal", "medical"},
    "review DELETE /api/v1/reviews/delegations/{delegation_id}": {"compliance", "legal", "medical"},
    "review GET /api/v1/reviews/flow": {"admin", "auditor", "compliance", "legal", "medical"},
    # Each user's own preferences and inbox; webhook endpoints and dead letters are the admin's.
    "review GET /api/v1/notifications/preferences": SIGNED_IN,
    "review PUT /api/v1/notifications/preferences": SIGNED_IN,
    "review GET /api/v1/notifications/inbox": SIGNED_IN,
    "review POST /api/v1/notifications/inbox/{item_id}/read": SIGNED_IN,
    "review GET /api/v1/notifications/webhooks": {"admin"},
    "review POST /api/v1/notifications/webhooks": {"admin"},
    "review DELETE /api/v1/notifications/webhooks/{endpoint_id}": {"admin"},
    "review GET /api/v1/notifications/dead-letters": {"admin"},
    "review POST /api/v1/notifications/dead-letters/{delivery_id}/replay": {"admin"},
    # The crisis lane (docs/crisis-lane.md): crisis holders start and co-sign; oversight reads.
    "review POST /api/v1/crisis/posts": {"crisis"},
    "review POST /api/v1/crisis/posts/{crisis_id}/approvals": {"crisis"},
    "review GET /api/v1/crisis/posts": CRISIS_READERS,
    "review GET /api/v1/crisis/posts/{crisis_id}": CRISIS_READERS,
    "review GET /api/v1/crisis/report": CRISIS_READERS,
    # Pre-approved templates: crisis holders publish from them alone; oversight reads.
    "review GET /api/v1/crisis/templates": CRISIS_READERS,
    "review GET /api/v1/crisis/templates/{template_id}": CRISIS_READERS,
    "review POST /api/v1/crisis/templates/{template_id}/posts": {"crisis"},
    "review GET /review/login": UI,
    "review POST /review/login": UI,
    "review GET /review/login/oidc": UI,
    "review GET /review/login/oidc/callback": UI,
    "review GET /review/login/oidc/finish": UI,
    "review POST /review/logout": UI,
    "review GET /review/": UI,
    "review GET /review": UI,
    "review GET /review/queue": UI,
    "review POST /review/claims": UI,
    "review POST /review/claims/release": UI,
    "review GET /review/drafts/{draft_id}": UI,
    "review GET /review/drafts/{draft_id}/media/{digest}": UI,
    "review GET /review/consents/{consent_id}/form": UI,
    "review GET /review/consents": UI,
    "review GET /review/drafts/new": UI,
    "review POST /review/drafts": UI,
    "review GET /review/consents/new": UI,
    "review GET /review/consents/{consent_id}": UI,
    "review POST /review/consents": UI,
    "review POST /review/consents/search": UI,
    "review POST /review/consents/{consent_id}/revoke": UI,
    "review POST /review/drafts/{draft_id}/media": UI,
    "review POST /review/drafts/{draft_id}/media/{digest}": UI,
    "review POST /review/drafts/{draft_id}/media/{digest}/confirm-staff-stock": UI,
    "review POST /review/drafts/{draft_id}/media/{digest}/remove": UI,
    "review POST /review/drafts/{draft_id}/comments": UI,
    "review POST /review/drafts/{draft_id}/versions": UI,
    "review GET /review/my": UI,
    "review GET /review/drafts/{draft_id}/stages/{stage}/decide": UI,
    "review POST /review/drafts/{draft_id}/stages/{stage}/decide": UI,
    "review GET /review/channels": UI,
    "review GET /review/moderation": UI,
    "review POST /review/moderation/{comment_id}/hide": UI,
    "review GET /review/ae-cases": UI,
    "review GET /review/ae-cases/export.csv": UI,
    "review GET /review/ae-cases/{case_id}": UI,
    "review GET /review/ae-cases/{case_id}/export.json": UI,
    "review GET /review/ae-cases/{case_id}/export.pdf": UI,
    "review POST /review/ae-cases/{case_id}/follow-up": UI,
    "review POST /review/ae-cases/{case_id}/hand-off": UI,
    "review POST /review/ae-cases/{case_id}/close": UI,
    "review POST /review/channels/mastodon": UI,
    "review POST /review/channels/bluesky": UI,
    "review POST /review/channels/authorize": UI,
    "review POST /review/channels/{name}/check": UI,
    "review POST /review/channels/{name}/disconnect": UI,
    "review POST /review/drafts/{draft_id}/takedown": UI,
    "review GET /review/publishing": UI,
    "review POST /review/publishing/pause": UI,
    "review POST /review/publishing/resume": UI,
    "review GET /review/calendar": UI,
    "review GET /review/flow": UI,
    "review GET /review/crisis": UI,
    "review GET /review/crisis/report.csv": UI,
    "review POST /review/crisis/start": UI,
    "review POST /review/crisis/{crisis_id}/approve": UI,
    "review POST /review/crisis/templates/{template_id}/use": UI,
    "review POST /review/drafts/{draft_id}/findings/{index}/not-right": UI,
    "review POST /review/drafts/{draft_id}/missed": UI,
    "review GET /review/allow-list": UI,
    "review POST /review/allow-list/{proposal_id}/approve": UI,
    "review POST /review/allow-list/{proposal_id}/reject": UI,
    "review GET /review/notifications": UI,
    "review POST /review/notifications/{item_id}/read": UI,
    "review POST /review/notifications/preferences": UI,
    "publisher GET /openapi.json": PUBLIC,
    "publisher GET /docs": PUBLIC,
    "publisher GET /docs/oauth2-redirect": PUBLIC,
    "publisher GET /redoc": PUBLIC,
    "publisher GET /healthz": PUBLIC,
    "publisher GET /readyz": PUBLIC,
    "publisher GET /api/v1/publications": SIGNED_IN,
    "publisher GET /api/v1/channels": SIGNED_IN,
    "publisher POST /api/v1/renditions": SIGNED_IN,
    "publisher GET /api/v1/live-posts": {"admin", "auditor", "compliance", "legal", "medical", "publisher"},
    "publisher POST /api/v1/channel-accounts": {"admin"},
    "publisher GET /api/v1/channel-accounts": {"admin", "compliance", "publisher"},
    "publisher DELETE /api/v1/channel-accounts/{name}": {"admin"},
    "publisher POST /api/v1/channel-accounts/{name}/check": {"admin"},
    "publisher GET /api/v1/channel-accounts/{network}/authorize": {"admin"},
    # The network's redirect: the one-time `state` is the credential (400 without a valid one).
    "publisher GET /api/v1/channel-accounts/{network}/callback": PUBLIC,
    "publisher POST /api/v1/drafts/{draft_id}/takedown": {"admin", "compliance", "publisher"},
    "publisher POST /api/v1/publications/{publication_id}/removed-by-hand": {
        "admin",
        "compliance",
        "publisher",
    },
    "publisher GET /api/v1/publishing": {"admin", "auditor", "compliance", "legal", "medical", "publisher"},
    "publisher POST /api/v1/publishing/pause": {"admin", "compliance"},
    "publisher POST /api/v1/publishing/resume": {"admin", "compliance"},
    # An expiring, signed link is the credential (403 without a valid one).
    "publisher GET /public/v1/media/{digest}": PUBLIC,
    "publisher GET /internal/v1/channels": CREDENTIAL,
    "publisher POST /internal/v1/drafts/{draft_id}/takedown": CREDENTIAL,
    # Comments (issue #20): the moderation inbox, hiding, and the review service's read.
    "publisher GET /api/v1/comments": {"admin", "compliance", "pharmacovigilance", "publisher"},
    "publisher GET /api/v1/comments/{comment_id}": {"admin", "compliance", "pharmacovigilance", "publisher"},
    "publisher POST /api/v1/comments/listen": {"admin"},
    # Meta's push: the verify token and the body's HMAC are the credential (400/403 without them).
    "publisher GET /api/v1/comments/webhooks/meta": PUBLIC,
    "publisher POST /api/v1/comments/webhooks/meta": PUBLIC,
    "publisher POST /api/v1/comments/{comment_id}/hide": {"admin", "compliance", "publisher"},
    "publisher GET /internal/v1/comments/{comment_id}": CREDENTIAL,
    "review GET /api/v1/ae-cases": {"admin", "auditor", "compliance", "pharmacovigilance"},
    "review GET /api/v1/ae-cases/export": {"admin", "auditor", "compliance", "pharmacovigilance"},
    "review GET /api/v1/ae-cases/{case_id}": {"admin", "auditor", "compliance", "pharmacovigilance"},
    "review GET /api/v1/ae-cases/{case_id}/export.json": {
        "admin",
        "auditor",
        "compliance",
        "pharmacovigilance",
    },
    "review GET /api/v1/ae-cases/{case_id}/export.pdf": {
        "admin",
        "auditor",
        "compliance",
        "pharmacovigilance",
    },
    "review POST /api/v1/ae-cases/{case_id}/follow-ups": {"admin", "pharmacovigilance"},
    "review POST /api/v1/ae-cases/{case_id}/hand-off": {"admin", "pharmacovigilance"},
    "review POST /api/v1/ae-cases/{case_id}/close": {"admin", "pharmacovigilance"},
    "audit GET /openapi.json": PUBLIC,
    "audit GET /docs": PUBLIC,
    "audit GET /docs/oauth2-redirect": PUBLIC,
    "audit GET /redoc": PUBLIC,
    "audit GET /healthz": PUBLIC,
    "audit GET /readyz": PUBLIC,
    "audit POST /internal/v1/events": CREDENTIAL,
    "audit GET /internal/v1/events": CREDENTIAL,
    "audit GET /api/v1/audit/events": {"admin", "auditor"},
    "audit GET /api/v1/audit/verify": {"admin", "auditor"},
    "audit GET /api/v1/audit/export": {"admin", "auditor"},
    "audit GET /api/v1/audit/public-key": PUBLIC,
    "audit GET /api/v1/audit/tree-head": {"admin", "auditor"},
    "audit GET /api/v1/audit/consistency": {"admin", "auditor"},
    "audit GET /api/v1/audit/drafts/{draft_id}/approval-record.pdf": {"admin", "auditor"},
}
for _service in ("gateway", "drafts", "review", "publisher", "audit"):
    EXPECTED[f"{_service} GET /metrics"] = SCRAPE
# The proxy's routes take every method: probed with each of these.
for _prefix in PROXIED:
    for _method in METHODS:
        if _method != "HEAD":
            EXPECTED[f"gateway {_method} {_prefix}"] = FORWARDED
            EXPECTED[f"gateway {_method} {_prefix}/{{rest:path}}"] = FORWARDED
for _method in METHODS:
    if _method != "HEAD":
        EXPECTED[f"gateway {_method} /internal"] = REFUSED
        EXPECTED[f"gateway {_method} /internal/{{rest:path}}"] = REFUSED


def concrete(path: str) -> str:
    return re.sub(r"\{([^}:]+)(:path)?\}", lambda m: "x/y" if m.group(2) else f"probe-{m.group(1)}", path)


def routes(services: Services) -> list[tuple[str, str, str]]:
    found = []
    for name, app in services.apps.items():
        for route in iter_route_contexts(app.routes):
            path = route.path or ""
            methods = getattr(route, "methods", None)
            if (
                not methods
                and name == "gateway"
                and path.startswith(("/api", "/review", "/public", "/internal"))
            ):
                methods = METHODS  # the proxy (and its refusal of /internal) takes every method
            if not methods:
                continue  # mounted static files
            for method in sorted(set(methods) - {"HEAD"}):
                found.append((name, method, path))
    return found


def past_auth(status: int) -> bool:
    return status not in (401, 403)


async def test_every_route_has_an_entry_and_the_gates_match_it(services: Services) -> None:
    found = routes(services)
    keys = {f"{s} {m} {p}" for s, m, p in found}
    missing = sorted(keys - set(EXPECTED))
    assert not missing, f"routes without an entry in the authorization matrix: {missing}"
    stale = sorted(set(EXPECTED) - keys)
    assert not stale, f"entries for routes that no longer exist: {stale}"
    tokens = {role: services.token(role) for role in ROLES}
    problems: list[str] = []
    for service, method, path in found:
        key = f"{service} {method} {path}"
        expected = EXPECTED[key]
        url = concrete(path)
        outcomes: dict[str, int] = {}
        for who in ("anonymous", *ROLES):
            async with services.client(service, tokens.get(who)) as client:
                outcomes[who] = (await client.request(method, url, json={})).status_code
        for who, status in outcomes.items():
            if expected in (PUBLIC, FORWARDED, UI):
                ok = past_auth(status) and (expected != UI or status == outcomes["anonymous"])
            elif expected == REFUSED:
                ok = status == 404
            elif expected in (CREDENTIAL, SCRAPE):
                ok = status == 401
            elif expected == SIGNED_IN:
                ok = status == 401 if who == "anonymous" else past_auth(status)
            else:
                wanted = 401 if who == "anonymous" else None if who in expected else 403
                ok = past_auth(status) if wanted is None else status == wanted
            if not ok:
                problems.append(f"{key}: {who} got {status}, expected {expected}")
        if expected == SCRAPE:
            scrape = {"Authorization": f"Bearer {load_metrics_token(services.apps[service].state.settings)}"}
            async with services.client(service, **scrape) as client:
                status = (await client.request(method, url)).status_code
            if status != 200:
                problems.append(f"{key}: the scrape credential got {status}")
        if expected == CREDENTIAL:
            headers = (
                {"Authorization": f"Bearer {SCIM_TOKEN}"}
                if path.startswith("/scim/")
                else {"X-Clearpost-Service-Token": INTERNAL_TOKEN}
            )
            async with services.client(service, **headers) as client:
                status = (await client.request(method, url, json={})).status_code
            if not past_auth(status):
                problems.append(f"{key}: the right service credential got {status}")
    assert not problems, "\n".join(problems)

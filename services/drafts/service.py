"""Drafts and versions: create, revise, submit into the approval workflow, withdraw."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from temporalio.client import Client

from services.drafts.channels import ChannelCatalog
from services.drafts.consent_check import MediaFacts, media_coverage
from services.drafts.consents import version_facts
from services.drafts.media_store import MediaStore
from services.drafts.models import Draft, DraftMedia, DraftVersion, VersionConsent
from services.drafts.reads import RecentReads
from services.drafts.repository import ConsentRepository, DraftRepository
from services.drafts.schemas import (
    DraftIn,
    DraftOut,
    DraftReaders,
    DraftSummary,
    FromTemplateIn,
    MediaConsentOut,
    MediaOut,
    StageOut,
    VersionContent,
    VersionOut,
)
from services.kit.audit_client import AuditClient
from services.kit.canonical import content_hash
from services.kit.clock import utcnow
from services.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unprocessable,
)
from services.kit.tokens import Principal
from workflows.client import ApprovalWorkflowClient
from workflows.contracts import (
    DraftStateUpdate,
    PostApprovalInput,
    VersionSubmitted,
    WithdrawRequest,
)
from workflows.crisis_templates import (
    FROM_TEMPLATE_PURPOSE,
    POST_PURPOSE,
    TEMPLATE_PURPOSE,
    fill,
    placeholders,
    template_problems,
)

EDITABLE = ("draft", "changes_requested")
SUBMITTABLE = ("draft", "changes_requested")
# A post filled from a crisis template is made whole by the review service and goes out through
# the crisis lane: its author cannot change, submit or withdraw it.
FROM_TEMPLATE_STATUS = "from_template"
FINAL = (
    "published",
    "rejected",
    "withdrawn",
    "takedown_required",
    "taken_down",
    "takedown_failed",
    "template_approved",
    FROM_TEMPLATE_STATUS,
)
# Who submits a post again when its approved lifetime ends and the policy says `re_review`.
LIFETIME_ACTOR = Principal(user_id="system:lifetime", username="system", name="Clearpost (lifetime ended)")
READER_ROLES = ("legal", "compliance", "medical", "publisher", "auditor", "admin")


class DraftService:
    def __init__(
        self,
        session: Any,
        *,
        audit: AuditClient,
        temporal: Client | None,
        channels: ChannelCatalog,
        media_store: MediaStore | None = None,
        publish_deadline_seconds: int = PostApprovalInput.publish_deadline_seconds,
        reads: RecentReads | None = None,
    ) -> None:
        self._repo = DraftRepository(session)
        self._reads = reads or RecentReads()
        self._publish_deadline_seconds = publish_deadline_seconds
        self._consents = ConsentRepository(session)
        self._audit = audit
        self._approvals = ApprovalWorkflowClient(temporal)
        self._channels = channels
        self._media_store = media_store

    # --- reads -------------------------------------------------------------------------------

    async def _load(self, draft_id: str, *, for_update: bool = False) -> Draft:
        draft = await self._repo.get(draft_id, for_update=for_update)
        if draft is None:
            raise NotFound(f"draft {draft_id} does not exist")
        return draft

    def _check_can_read(self, draft: Draft, principal: Principal) -> None:
        if draft.author_id != principal.user_id and not principal.has_any(*READER_ROLES):
            raise Forbidden("only the author and reviewing staff may see this draft")

    async def readers(self, draft_id: str) -> DraftReaders:
        """The read rule of one draft, for another service to apply to its own signed-in caller."""
        draft = await self._load(draft_id)
        return DraftReaders(draft_id=draft.id, author_id=draft.author_id, reader_roles=list(READER_ROLES))

    async def _record_read(
        self, action: str, draft: Draft, principal: Principal, what: str, details: dict[str, Any]
    ) -> None:
        """Who read what of a draft, once per reader, draft, thing read and hour
        (services/drafts/reads.py). Without the event the read fails, as consent reads do."""
        key = self._reads.key(principal.user_id, draft.id, what, utcnow())
        if self._reads.seen(key):
            return
        await self._repo.release_connection()  # no pooled connection across another service's answer
        await self._audit.append(
            actor=principal,
            action=action,
            subject=f"draft:{draft.id}",
            details=details,
            idempotency_key=f"drafts:{action}:{key}",
        )
        self._reads.remember(key)

    async def get(self, draft_id: str, principal: Principal) -> DraftOut:
        draft = await self._load(draft_id)
        self._check_can_read(draft, principal)
        version = await self._repo.get_version(draft.id, draft.current_version)
        assert version is not None
        await self._record_read(
            "draft.read",
            draft,
            principal,
            f"v{version.version}",
            {"version": version.version, "content_hash": version.content_hash},
        )
        return self._out(draft, version, await self._repo.media(draft.id))

    async def readable(self, draft_id: str, principal: Principal) -> tuple[Draft, DraftVersion]:
        """The draft and its current version, for someone allowed to read it."""
        draft = await self._load(draft_id)
        self._check_can_read(draft, principal)
        version = await self._repo.get_version(draft.id, draft.current_version)
        assert version is not None
        return draft, version

    async def relied_consent_ids(self, draft: Draft, version: DraftVersion) -> list[str]:
        media = await self._repo.media(draft.id)
        named = [media[d].consent_id for d in version.media_digests if d in media and media[d].consent_id]
        return list(dict.fromkeys([*version.consent_ids, *(c for c in named if c)]))

    async def versions(self, draft_id: str, principal: Principal) -> list[VersionOut]:
        """Every version of a draft, oldest first, for whoever may read the draft."""
        draft = await self._load(draft_id)
        self._check_can_read(draft, principal)
        rows = await self._repo.versions(draft.id)
        await self._record_read(
            "version.read",
            draft,
            principal,
            f"versions-to:{rows[-1].version if rows else 0}",
            {"versions": [v.version for v in rows]},
        )
        return [
            VersionOut(
                version=v.version,
                title=v.title,
                body=v.body,
                channels=v.channels,
                patient_content=v.patient_content,
                consent_ids=list(v.consent_ids),
                consent_id=v.consent_ids[0] if v.consent_ids else None,
                media_digests=list(v.media_digests),
                scheduled_at=v.scheduled_at,
                content_hash=v.content_hash,
                created_at=v.created_at,
            )
            for v in rows
        ]

    async def list(self, principal: Principal) -> list[DraftSummary]:
        author_filter = None if principal.has_any(*READER_ROLES) else principal.user_id
        drafts = await self._repo.list(author_id=author_filter)
        versions = await self._repo.current_versions(drafts)
        return [
            DraftSummary(
                id=d.id,
                version=d.current_version,
                status=d.status,
                title=versions[d.id].title if d.id in versions else "",
                channels=versions[d.id].channels if d.id in versions else [],
                purpose=d.purpose,
                author_id=d.author_id,
                author_name=d.author_name,
                updated_at=d.updated_at,
                scheduled_at=versions[d.id].scheduled_at if d.id in versions else None,
            )
            for d in drafts
        ]

    async def version_content(self, draft_id: str, version: int) -> VersionContent:
        draft = await self._load(draft_id)
        row = await self._repo.get_version(draft_id, version)
        if row is None:
            raise NotFound(f"draft {draft_id} has no version {version}")
        media = await self._repo.media(draft.id)
        relied = await self.relied_consent_ids(draft, row)
        consents = await self._consents.get_many(relied)
        now = utcnow()
        on_file = any(c.revoked_at is None and now.date() <= c.expires_on for c in consents.values())
        coverage = media_coverage(version_facts(row, media, channels=row.channels), consents, at=now)
        return VersionContent(
            draft_id=draft_id,
            version=row.version,
            title=row.title,
            body=row.body,
            channels=row.channels,
            patient_content=row.patient_content,
            consent_ids=list(row.consent_ids),
            consent_id=row.consent_ids[0] if row.consent_ids else None,
            consent_on_file=on_file,
            media_digests=row.media_digests,
            media=[_media_out(draft.id, media[d]) for d in row.media_digests if d in media],
            media_consent=[MediaConsentOut(**asdict(c)) for c in coverage],
            content_hash=row.content_hash,
            author_id=draft.author_id,
            created_at=row.created_at,
            purpose=draft.purpose,
            template_id=draft.template_id,
            template_version=draft.template_version,
        )

    # --- writes ------------------------------------------------------------------------------

    async def _check_renditions(
        self, bearer_token: str, body: str, channels: Sequence[str], media_count: int, *, final: bool
    ) -> None:
        """Every channel's rendition must fit as written: nothing is ever cut or rewritten. Before
        submitting, a network that needs an image (Instagram) must have one too."""
        misfits = await self._channels.misfits(bearer_token, body, [*channels], media_count)
        if not final:
            misfits = {
                name: kept
                for name, problems in misfits.items()
                if (kept := [p for p in problems if p != "needs at least one image"])
            }
        if misfits:
            listed = "; ".join(f"{name}: {', '.join(problems)}" for name, problems in misfits.items())
            raise Unprocessable(
                f"the text does not fit every channel as written (nothing is cut): {listed}",
                code="rendition_does_not_fit",
            )

    async def _validate(self, data: DraftIn, bearer_token: str, media_count: int = 0) -> None:
        known = await self._channels.known(bearer_token, list(data.channels))
        unknown = [c for c in data.channels if c not in known]
        if unknown:
            raise BadRequest(
                f"unknown channel(s): {', '.join(unknown)}; configured: {', '.join(sorted(known))}",
                code="unknown_channel",
            )
        # A well-formed time that has passed, or a consent that does not exist, conflicts with the
        # current state (409, 404) rather than making the request malformed (400).
        if data.scheduled_at is not None and data.scheduled_at <= utcnow():
            raise Conflict("scheduled_at must be in the future", code="invalid_schedule")
        await self._check_renditions(bearer_token, data.body, list(data.channels), media_count, final=False)
        if data.scheduled_at is not None:
            # Scheduling for an expired, revoked or unreachable account is refused before anyone
            # signs (a pause is not: it only holds the post until the resume).
            problems = await self._channels.unusable(bearer_token, list(data.channels))
            if problems:
                listed = "; ".join(f"{name}: {why}" for name, why in problems.items())
                raise Conflict(
                    f"cannot schedule for a channel that cannot take it: {listed}", code="channel_unusable"
                )
        await self._check_consents_exist(data.consent_ids)

    @staticmethod
    def _check_template(data: DraftIn) -> None:
        """A crisis template is fixed text with typed variables and nothing about a patient."""
        problems = template_problems(data.title, data.body)
        if data.scheduled_at is not None:
            problems.append("a template is not scheduled: each post made from it goes out at once")
        if data.patient_content or data.consent_ids:
            problems.append("a template cannot carry patient content or consents")
        if problems:
            raise Unprocessable(
                "not a valid crisis template: " + "; ".join(problems), code="invalid_template"
            )

    async def _check_consents_exist(self, consent_ids: Sequence[str]) -> None:
        known = await self._consents.get_many(consent_ids)
        unknown = [c for c in consent_ids if c not in known]
        if unknown:
            raise NotFound(f"no consent record {', '.join(unknown)}", code="unknown_consent")

    def _new_version(
        self,
        draft_id: str,
        number: int,
        data: DraftIn,
        principal: Principal,
        media: Sequence[str] = (),
    ) -> DraftVersion:
        media = [*media]
        version = DraftVersion(
            draft_id=draft_id,
            version=number,
            title=data.title,
            body=data.body,
            channels=list(data.channels),
            patient_content=data.patient_content,
            consent_ids=list(data.consent_ids),
            scheduled_at=data.scheduled_at,
            media_digests=media,
            content_hash=content_hash(
                title=data.title, body=data.body, channels=list(data.channels), media_digests=media
            ),
            created_by=principal.user_id,
            created_at=utcnow(),
        )
        for consent_id in version.consent_ids:
            self._repo.add(VersionConsent(draft_id=draft_id, version=number, consent_id=consent_id))
        return version

    @staticmethod
    def _as_input(version: DraftVersion) -> DraftIn:
        return DraftIn(
            title=version.title,
            body=version.body,
            channels=list(version.channels),
            patient_content=version.patient_content,
            consent_ids=list(version.consent_ids),
            scheduled_at=version.scheduled_at,
        )

    async def _store_new(
        self, draft: Draft, data: DraftIn, principal: Principal, details: dict[str, Any]
    ) -> tuple[Draft, DraftVersion]:
        """Keep a new draft with its version 1 and audit `draft.created` (with `details`)."""
        now = utcnow()
        draft.current_version, draft.stages, draft.state_revision = 1, [], 0
        draft.created_at = draft.updated_at = now
        self._repo.add(draft)
        await self._repo.flush()
        version = self._new_version(draft.id, 1, data, principal)
        self._repo.add(version)
        await self._repo.flush()
        await self._audit.append(
            actor=principal,
            action="draft.created",
            subject=f"draft:{draft.id}",
            details={
                "version": 1,
                "content_hash": version.content_hash,
                "channels": version.channels,
                "patient_content": version.patient_content,
                **({"consent_ids": version.consent_ids} if version.consent_ids else {}),
                **details,
            },
        )
        return draft, version

    async def create(self, data: DraftIn, principal: Principal, bearer_token: str) -> DraftOut:
        if not principal.has_any("author"):
            raise Forbidden("only authors create drafts")
        purpose = data.purpose or POST_PURPOSE
        if purpose == TEMPLATE_PURPOSE:
            self._check_template(data)
        await self._validate(data, bearer_token)
        draft, version = await self._store_new(
            Draft(
                id=str(uuid.uuid4()),
                author_id=principal.user_id,
                author_name=principal.name,
                purpose=purpose,
                status="draft",
                state_note="",
            ),
            data,
            principal,
            {"purpose": purpose} if purpose != POST_PURPOSE else {},
        )
        return self._out(draft, version, {})

    async def from_template(self, data: FromTemplateIn) -> VersionContent:
        """The review service stores a template's filled text as a new draft of the crisis holder
        publishing it (idempotent on `draft_id`). The text is filled here, from the template version
        this service holds; its values were checked by the caller and are checked by the publisher."""
        existing = await self._repo.get(data.draft_id)
        if existing is not None:
            if (existing.template_id, existing.template_version, existing.author_id) != (
                data.template_id,
                data.template_version,
                data.author_id,
            ):
                raise Conflict(f"draft {data.draft_id} exists and is another draft", code="draft_exists")
            return await self.version_content(existing.id, 1)
        template = await self._load(data.template_id)
        if template.purpose != TEMPLATE_PURPOSE:
            raise Conflict(f"draft {data.template_id} is not a crisis template", code="not_a_template")
        row = await self._repo.get_version(template.id, data.template_version)
        if row is None:
            raise NotFound(f"template {data.template_id} has no version {data.template_version}")
        if row.media_digests:
            raise Unprocessable("a template with images cannot be filled (images are not carried over)")
        named = set(placeholders(row.title) + placeholders(row.body))
        if named - set(data.values) or set(data.values) - named:
            raise Unprocessable(
                "the values must fill exactly the template's variables: " + ", ".join(sorted(named)),
                code="invalid_values",
            )
        filled = DraftIn(
            title=fill(row.title, data.values),
            body=fill(row.body, data.values),
            channels=list(row.channels),
        )
        author = Principal(user_id=data.author_id, username=data.author_id, name=data.author_name)
        draft, _ = await self._store_new(
            Draft(
                id=data.draft_id,
                author_id=data.author_id,
                author_name=data.author_name,
                purpose=FROM_TEMPLATE_PURPOSE,
                template_id=template.id,
                template_version=row.version,
                status=FROM_TEMPLATE_STATUS,
                state_note=f"filled from crisis template {template.id} v{row.version}",
            ),
            filled,
            author,
            {"purpose": FROM_TEMPLATE_PURPOSE, "template_id": template.id, "template_version": row.version},
        )
        return await self.version_content(draft.id, 1)

    async def revise(self, draft_id: str, data: DraftIn, principal: Principal, bearer_token: str) -> DraftOut:
        draft = await self._load(draft_id, for_update=True)
        if draft.author_id != principal.user_id:
            raise Forbidden("only the draft's author may change it")
        if draft.status not in EDITABLE:
            raise Conflict(f"a draft in status {draft.status!r} cannot be changed", code="not_editable")
        if data.purpose not in (None, draft.purpose):
            raise Conflict(
                f"draft {draft.id} is a {draft.purpose}; a new version cannot make it a {data.purpose}",
                code="purpose_fixed",
            )
        if draft.purpose == TEMPLATE_PURPOSE:
            self._check_template(data)
        previous = await self._repo.get_version(draft.id, draft.current_version)
        assert previous is not None
        await self._validate(data, bearer_token, len(previous.media_digests))
        # The images stay with the draft until the author removes them (DELETE .../media/{digest}).
        version = await self._append_version(draft, data, principal, list(previous.media_digests))
        await self._audit.append(
            actor=principal,
            action="draft.version_created",
            subject=f"draft:{draft.id}",
            details={
                "version": version.version,
                "content_hash": version.content_hash,
                "channels": version.channels,
            },
        )
        return self._out(draft, version, await self._repo.media(draft.id))

    async def _append_version(
        self, draft: Draft, data: DraftIn, principal: Principal, media: Sequence[str]
    ) -> DraftVersion:
        number = draft.current_version + 1
        version = self._new_version(draft.id, number, data, principal, media)
        self._repo.add(version)
        draft.current_version = number
        draft.updated_at = utcnow()
        await self._repo.flush()
        return version

    async def submit(self, draft_id: str, principal: Principal, bearer_token: str) -> DraftOut:
        draft = await self._load(draft_id, for_update=True)
        if draft.author_id != principal.user_id:
            raise Forbidden("only the draft's author may submit it")
        if draft.status not in SUBMITTABLE:
            raise Conflict(f"a draft in status {draft.status!r} cannot be submitted", code="not_submittable")
        version = await self._repo.get_version(draft.id, draft.current_version)
        assert version is not None
        if version.scheduled_at is not None and version.scheduled_at <= utcnow():
            raise Conflict("scheduled_at has passed; set a new time or none", code="invalid_schedule")
        await self._check_renditions(
            bearer_token, version.body, list(version.channels), len(version.media_digests), final=True
        )
        if (
            draft.status == "changes_requested"
            and draft.stages
            and any(
                d.get("content_hash") == version.content_hash
                for s in draft.stages
                for d in s.get("decisions", [])
                if d.get("decision") == "request_changes"
            )
        ):
            raise Conflict("submit a new version: this one already had changes requested", code="unchanged")
        draft.status = "screening"
        draft.updated_at = utcnow()
        await self._repo.flush()
        submitted = VersionSubmitted(
            version=version.version,
            content_hash=version.content_hash,
            channels=list(version.channels),
            patient_content=version.patient_content,
            submitted_by=principal.user_id,
            scheduled_at=version.scheduled_at.isoformat() if version.scheduled_at else None,
        )
        await self._approvals.start(
            PostApprovalInput(
                draft_id=draft.id,
                author_id=draft.author_id,
                publish_deadline_seconds=self._publish_deadline_seconds,
            ),
            submitted,
        )
        await self._audit.append(
            actor=principal,
            action="draft.submitted",
            subject=f"draft:{draft.id}",
            details={"version": version.version, "content_hash": version.content_hash},
        )
        return self._out(draft, version, await self._repo.media(draft.id))

    async def re_review(self, draft_id: str, reason: str) -> int:
        """The approved lifetime of a live post ended and the policy says `re_review`: the
        publisher took it down; the same content comes back as a new version, submitted for
        review again (unscheduled). Reviewers approve it afresh; nothing carries over. The new
        version's number."""
        draft = await self._load(draft_id, for_update=True)
        if draft.status not in ("published", "taken_down", "takedown_required", "takedown_failed"):
            raise Conflict(f"draft {draft_id} is {draft.status!r}, not a live post", code="not_published")
        current = await self._repo.get_version(draft.id, draft.current_version)
        assert current is not None
        data = self._as_input(current).model_copy(update={"scheduled_at": None})
        version = await self._append_version(draft, data, LIFETIME_ACTOR, list(current.media_digests))
        draft.status, draft.state_note = "screening", f"back in review: {reason}"
        await self._repo.flush()
        submitted = VersionSubmitted(
            version=version.version,
            content_hash=version.content_hash,
            channels=list(version.channels),
            patient_content=version.patient_content,
            submitted_by=LIFETIME_ACTOR.user_id,
            scheduled_at=None,
        )
        await self._repo.release_connection()  # the workflow's first activity writes this row
        await self._approvals.start(
            PostApprovalInput(
                draft_id=draft.id,
                author_id=draft.author_id,
                publish_deadline_seconds=self._publish_deadline_seconds,
            ),
            submitted,
        )
        await self._audit.append(
            actor=LIFETIME_ACTOR.user_id,
            action="draft.sent_to_re_review",
            subject=f"draft:{draft.id}",
            details={"version": version.version, "content_hash": version.content_hash, "reason": reason},
        )
        return version.version

    async def withdraw(self, draft_id: str, principal: Principal, reason: str) -> DraftOut:
        # No row lock here: a submitted draft's withdrawal waits on the workflow, whose handler
        # projects the new state back into this row; holding the lock would deadlock it.
        draft = await self._load(draft_id)
        if draft.author_id != principal.user_id and not principal.has_any("admin"):
            raise Forbidden("only the draft's author or an admin may withdraw it")
        if draft.status in FINAL:
            raise Conflict(f"a draft in status {draft.status!r} cannot be withdrawn", code="final")
        version = await self._repo.get_version(draft.id, draft.current_version)
        assert version is not None
        if draft.status == "draft":
            # Never submitted: no workflow exists, the drafts service ends it itself.
            draft = await self._load(draft_id, for_update=True)
            if draft.status != "draft":
                raise Conflict("the draft was submitted meanwhile; try again", code="changed")
            draft.status = "withdrawn"
            draft.updated_at = utcnow()
            await self._repo.flush()
            await self._audit.append(
                actor=principal,
                action="draft.withdrawn",
                subject=f"draft:{draft.id}",
                details={"version": draft.current_version, "reason": reason},
            )
            return self._out(draft, version, await self._repo.media(draft.id))
        # The update's handler projects the new state through this service's own activity, which
        # needs a connection from the same pool: none is held while we wait (issue #13).
        await self._repo.release_connection()
        accepted = await self._approvals.withdraw(
            draft.id, WithdrawRequest(actor_id=principal.user_id, reason=reason)
        )
        out = self._out(draft, version, await self._repo.media(draft.id))
        out.status = accepted.status
        return out

    async def apply_state(self, update: DraftStateUpdate) -> bool:
        """Apply the workflow's projection; older revisions than the stored one are ignored."""
        draft = await self._load(update.draft_id, for_update=True)
        if update.revision <= draft.state_revision:
            return False
        draft.state_revision = update.revision
        draft.status = update.status
        draft.stages = [
            {
                "stage": s.stage,
                "status": s.status,
                "roles": list(s.roles),
                "decisions": [vars(d) for d in s.decisions],
                "approvals": s.approvals,
                "quorum": s.quorum,
                "due_at": s.due_at or None,
                "escalated": s.escalated,
            }
            for s in update.stages
        ]
        draft.state_note = update.note
        draft.updated_at = utcnow()
        await self._repo.flush()
        return True

    @staticmethod
    def _out(draft: Draft, version: DraftVersion, media: dict[str, DraftMedia]) -> DraftOut:
        return DraftOut(
            id=draft.id,
            version=version.version,
            content_hash=version.content_hash,
            status=draft.status,
            title=version.title,
            body=version.body,
            channels=version.channels,
            patient_content=version.patient_content,
            consent_ids=list(version.consent_ids),
            consent_id=version.consent_ids[0] if version.consent_ids else None,
            media=[_media_out(draft.id, media[d]) for d in version.media_digests if d in media],
            scheduled_at=version.scheduled_at,
            author_id=draft.author_id,
            author_name=draft.author_name,
            stages=[StageOut.model_validate(s) for s in draft.stages],
            note=draft.state_note,
            created_at=draft.created_at,
            updated_at=draft.updated_at,
            purpose=draft.purpose,
            template_id=draft.template_id,
            template_version=draft.template_version,
        )


def _media_out(draft_id: str, item: DraftMedia) -> MediaOut:
    facts = MediaFacts(
        digest=item.digest,
        faces=len(item.faces),
        staff_stock=item.staff_stock,
        staff_stock_confirmed=item.staff_stock_confirmed_by is not None,
    )
    return MediaOut(
        digest=item.digest,
        media_type=item.media_type,
        width=item.width,
        height=item.height,
        size=item.size,
        faces=[list(box) for box in item.faces],
        staff_stock=item.staff_stock,
        staff_stock_confirmed_by=item.staff_stock_confirmed_by,
        consent_id=item.consent_id,
        patient=facts.shows_a_patient,
        url=f"/api/v1/drafts/{draft_id}/media/{item.digest}",
    )

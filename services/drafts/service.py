"""Drafts and versions: create, revise, submit into the approval workflow, withdraw."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from services.drafts.channels import ChannelCatalog
from services.drafts.models import Draft, DraftVersion
from services.drafts.repository import DraftRepository
from services.drafts.schemas import (
    DraftIn,
    DraftOut,
    DraftSummary,
    StageOut,
    VersionContent,
    VersionOut,
)
from services.kit.audit_client import AuditClient
from services.kit.canonical import content_hash
from services.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    UpstreamUnavailable,
)
from services.kit.temporal import refusal_to_error
from services.kit.tokens import Principal
from workflows.contracts import (
    POST_APPROVAL_WORKFLOW,
    SUBMIT_VERSION_SIGNAL,
    WITHDRAW_UPDATE,
    WORKFLOW_TASK_QUEUE,
    DraftStateUpdate,
    PostApprovalInput,
    VersionSubmitted,
    WithdrawAccepted,
    WithdrawRequest,
    workflow_id_for,
)

EDITABLE = ("draft", "changes_requested")
SUBMITTABLE = ("draft", "changes_requested")
FINAL = ("published", "rejected", "withdrawn")
READER_ROLES = ("legal", "compliance", "medical", "publisher", "auditor", "admin")


def _now() -> datetime:
    return datetime.now(UTC)


class DraftService:
    def __init__(
        self,
        session: Any,
        *,
        audit: AuditClient,
        temporal: Client | None,
        channels: ChannelCatalog,
    ) -> None:
        self._repo = DraftRepository(session)
        self._audit = audit
        self._temporal = temporal
        self._channels = channels

    # --- reads -------------------------------------------------------------------------------

    async def _load(self, draft_id: str, *, for_update: bool = False) -> Draft:
        draft = await self._repo.get(draft_id, for_update=for_update)
        if draft is None:
            raise NotFound(f"draft {draft_id} does not exist")
        return draft

    def _check_can_read(self, draft: Draft, principal: Principal) -> None:
        if draft.author_id != principal.user_id and not principal.has_any(*READER_ROLES):
            raise Forbidden("only the author and reviewing staff may see this draft")

    async def get(self, draft_id: str, principal: Principal) -> DraftOut:
        draft = await self._load(draft_id)
        self._check_can_read(draft, principal)
        version = await self._repo.get_version(draft.id, draft.current_version)
        assert version is not None
        return self._out(draft, version)

    async def versions(self, draft_id: str, principal: Principal) -> list[VersionOut]:
        """Every version of a draft, oldest first, for whoever may read the draft."""
        draft = await self._load(draft_id)
        self._check_can_read(draft, principal)
        return [
            VersionOut(
                version=v.version,
                title=v.title,
                body=v.body,
                channels=v.channels,
                patient_content=v.patient_content,
                consent_id=v.consent_id,
                scheduled_at=v.scheduled_at,
                content_hash=v.content_hash,
                created_at=v.created_at,
            )
            for v in await self._repo.versions(draft.id)
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
                author_id=d.author_id,
                author_name=d.author_name,
                updated_at=d.updated_at,
            )
            for d in drafts
        ]

    async def version_content(self, draft_id: str, version: int) -> VersionContent:
        draft = await self._load(draft_id)
        row = await self._repo.get_version(draft_id, version)
        if row is None:
            raise NotFound(f"draft {draft_id} has no version {version}")
        return VersionContent(
            draft_id=draft_id,
            version=row.version,
            title=row.title,
            body=row.body,
            channels=row.channels,
            patient_content=row.patient_content,
            consent_id=row.consent_id,
            media_digests=row.media_digests,
            content_hash=row.content_hash,
            author_id=draft.author_id,
            created_at=row.created_at,
        )

    # --- writes ------------------------------------------------------------------------------

    async def _validate(self, data: DraftIn, bearer_token: str) -> None:
        known = await self._channels.names(bearer_token)
        unknown = [c for c in data.channels if c not in known]
        if unknown:
            raise BadRequest(
                f"unknown channel(s): {', '.join(unknown)}; configured: {', '.join(sorted(known))}",
                code="unknown_channel",
            )
        if data.scheduled_at is not None and data.scheduled_at <= _now():
            raise BadRequest("scheduled_at must be in the future", code="invalid_schedule")

    def _new_version(self, draft_id: str, number: int, data: DraftIn, principal: Principal) -> DraftVersion:
        media: list[str] = []
        return DraftVersion(
            draft_id=draft_id,
            version=number,
            title=data.title,
            body=data.body,
            channels=list(data.channels),
            patient_content=data.patient_content,
            consent_id=data.consent_id,
            scheduled_at=data.scheduled_at,
            media_digests=media,
            content_hash=content_hash(
                title=data.title, body=data.body, channels=list(data.channels), media_digests=media
            ),
            created_by=principal.user_id,
            created_at=_now(),
        )

    async def create(self, data: DraftIn, principal: Principal, bearer_token: str) -> DraftOut:
        if not principal.has_any("author"):
            raise Forbidden("only authors create drafts")
        await self._validate(data, bearer_token)
        now = _now()
        draft = Draft(
            id=str(uuid.uuid4()),
            author_id=principal.user_id,
            author_name=principal.name,
            status="draft",
            current_version=1,
            stages=[],
            state_revision=0,
            state_note="",
            created_at=now,
            updated_at=now,
        )
        version = self._new_version(draft.id, 1, data, principal)
        self._repo.add(draft)
        self._repo.add(version)
        await self._repo.flush()
        await self._audit.append(
            actor=principal.user_id,
            action="draft.created",
            subject=f"draft:{draft.id}",
            details={
                "version": 1,
                "content_hash": version.content_hash,
                "channels": version.channels,
                "patient_content": version.patient_content,
            },
        )
        return self._out(draft, version)

    async def revise(self, draft_id: str, data: DraftIn, principal: Principal, bearer_token: str) -> DraftOut:
        draft = await self._load(draft_id, for_update=True)
        if draft.author_id != principal.user_id:
            raise Forbidden("only the draft's author may change it")
        if draft.status not in EDITABLE:
            raise Conflict(f"a draft in status {draft.status!r} cannot be changed", code="not_editable")
        await self._validate(data, bearer_token)
        number = draft.current_version + 1
        version = self._new_version(draft.id, number, data, principal)
        self._repo.add(version)
        draft.current_version = number
        draft.updated_at = _now()
        await self._repo.flush()
        await self._audit.append(
            actor=principal.user_id,
            action="draft.version_created",
            subject=f"draft:{draft.id}",
            details={"version": number, "content_hash": version.content_hash, "channels": version.channels},
        )
        return self._out(draft, version)

    def _client(self) -> Client:
        if self._temporal is None:
            raise UpstreamUnavailable("the workflow engine is not connected")
        return self._temporal

    async def submit(self, draft_id: str, principal: Principal) -> DraftOut:
        draft = await self._load(draft_id, for_update=True)
        if draft.author_id != principal.user_id:
            raise Forbidden("only the draft's author may submit it")
        if draft.status not in SUBMITTABLE:
            raise Conflict(f"a draft in status {draft.status!r} cannot be submitted", code="not_submittable")
        version = await self._repo.get_version(draft.id, draft.current_version)
        assert version is not None
        if version.scheduled_at is not None and version.scheduled_at <= _now():
            raise BadRequest("scheduled_at has passed; set a new time or none", code="invalid_schedule")
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
        draft.updated_at = _now()
        await self._repo.flush()
        submitted = VersionSubmitted(
            version=version.version,
            content_hash=version.content_hash,
            channels=list(version.channels),
            patient_content=version.patient_content,
            submitted_by=principal.user_id,
            scheduled_at=version.scheduled_at.isoformat() if version.scheduled_at else None,
        )
        try:
            await self._client().start_workflow(
                POST_APPROVAL_WORKFLOW,
                PostApprovalInput(draft_id=draft.id, author_id=draft.author_id),
                id=workflow_id_for(draft.id),
                task_queue=WORKFLOW_TASK_QUEUE,
                start_signal=SUBMIT_VERSION_SIGNAL,
                start_signal_args=[submitted],
            )
        except RPCError as exc:
            raise UpstreamUnavailable(f"the workflow engine refused the submission: {exc}") from exc
        await self._audit.append(
            actor=principal.user_id,
            action="draft.submitted",
            subject=f"draft:{draft.id}",
            details={"version": version.version, "content_hash": version.content_hash},
        )
        return self._out(draft, version)

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
            draft.updated_at = _now()
            await self._repo.flush()
            await self._audit.append(
                actor=principal.user_id,
                action="draft.withdrawn",
                subject=f"draft:{draft.id}",
                details={"version": draft.current_version, "reason": reason},
            )
            return self._out(draft, version)
        handle = self._client().get_workflow_handle(workflow_id_for(draft.id))
        try:
            accepted = await handle.execute_update(
                WITHDRAW_UPDATE,
                WithdrawRequest(actor_id=principal.user_id, reason=reason),
                result_type=WithdrawAccepted,
            )
        except WorkflowUpdateFailedError as exc:
            raise refusal_to_error(exc) from exc
        except RPCError as exc:
            raise UpstreamUnavailable(f"the workflow engine did not take the withdrawal: {exc}") from exc
        out = self._out(draft, version)
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
            }
            for s in update.stages
        ]
        draft.state_note = update.note
        draft.updated_at = _now()
        await self._repo.flush()
        return True

    @staticmethod
    def _out(draft: Draft, version: DraftVersion) -> DraftOut:
        return DraftOut(
            id=draft.id,
            version=version.version,
            content_hash=version.content_hash,
            status=draft.status,
            title=version.title,
            body=version.body,
            channels=version.channels,
            patient_content=version.patient_content,
            consent_id=version.consent_id,
            scheduled_at=version.scheduled_at,
            author_id=draft.author_id,
            author_name=draft.author_name,
            stages=[StageOut.model_validate(s) for s in draft.stages],
            note=draft.state_note,
            created_at=draft.created_at,
            updated_at=draft.updated_at,
        )

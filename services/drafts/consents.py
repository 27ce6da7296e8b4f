"""Consent records: created, read and revoked by compliance and admins; the gate that uses them.

Every read (one record, a list, a draft's consents, the signed form) and every change is an audit
event. Details name consent ids, never the patient. Revocation takes effect at once on every draft
that relies on the consent (see `revoke`).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from services.drafts.channels import ChannelCatalog
from services.drafts.consent_check import (
    ConsentFacts,
    GateOutcome,
    MediaFacts,
    VersionFacts,
    check_consent,
    consent_state,
)
from services.drafts.media import MediaRejected, off_loop, sanitize_image
from services.drafts.models import Consent, Draft, DraftMedia, DraftVersion
from services.drafts.publisher_client import TakedownRequester
from services.drafts.repository import ConsentRepository, DraftRepository
from services.drafts.schemas import (
    ConsentCheckIn,
    ConsentCheckOut,
    ConsentIn,
    ConsentOut,
    ConsentScope,
    DraftConsents,
    RevocationEffect,
    RevocationOut,
)
from services.drafts.sealing import FieldSealer
from services.drafts.takedowns import TakedownService
from services.kit.audit_client import AuditClient
from services.kit.clock import utcnow
from services.kit.errors import (
    BadRequest,
    ClearpostError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    UpstreamUnavailable,
)
from services.kit.tokens import Principal
from workflows.client import ApprovalWorkflowClient
from workflows.contracts import (
    ConsentCheckInput,
    ConsentCheckResult,
    ConsentRevoked,
    MediaConsent,
)

log = logging.getLogger(__name__)

CONSENT_ROLES = ("compliance", "admin")
MAX_FORM_BYTES = 10 * 1024 * 1024
# Statuses whose workflow is still running and must hear about a revocation.
IN_WORKFLOW = ("screening", "in_review", "changes_requested", "approved", "scheduled", "held")


@dataclass(frozen=True)
class SignedForm:
    data: bytes
    media_type: str


async def check_form(raw: bytes) -> SignedForm:
    """A signed form is a PDF or an image, judged by content; images are re-encoded without metadata."""
    if len(raw) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f"the form is {len(raw)} bytes; the limit is {MAX_FORM_BYTES}")
    if not raw:
        raise BadRequest("the signed form is empty", code="empty_form")
    if raw.startswith(b"%PDF-"):
        if b"%%EOF" not in raw[-2048:]:
            raise UnsupportedMediaType("the PDF is incomplete (no end-of-file marker)")
        return SignedForm(raw, "application/pdf")
    try:
        image = await off_loop(sanitize_image, raw, max_bytes=MAX_FORM_BYTES)
    except MediaRejected as exc:
        raise UnsupportedMediaType(
            "the signed form must be a PDF or a JPEG, PNG or WebP image (checked by content)"
        ) from exc
    return SignedForm(image.data, image.media_type)


class ConsentService:
    def __init__(
        self,
        session: Any,
        *,
        audit: AuditClient,
        sealer: FieldSealer,
        channels: ChannelCatalog | None = None,
        temporal: Client | None = None,
        publisher: TakedownRequester | None = None,
    ) -> None:
        self._publisher = publisher
        self._repo = ConsentRepository(session)
        self._drafts = DraftRepository(session)
        self._audit = audit
        self._sealer = sealer
        self._channels = channels
        self._approvals = ApprovalWorkflowClient(temporal)
        self._takedowns = TakedownService(session, audit=audit)

    # --- sealing ---------------------------------------------------------------------------------

    def _identity(self, consent: Consent) -> dict[str, str]:
        opened: dict[str, str] = self._sealer.open_json(
            consent.sealed_identity, context=f"consents.identity:{consent.id}"
        )
        return opened

    async def rekey(self, *, actor: str) -> int:
        """Re-seal every record (identity and signed form) with the current consent key and
        recompute its patient-reference index, after a rotation: then the previous keys can go.
        One audit event records it; without it nothing is changed (the caller's unit of work)."""
        records = await self._repo.all_for_update()
        for consent in records:
            identity = self._identity(consent)
            form = self._sealer.open(consent.form_sealed, context=f"consents.form:{consent.id}")
            consent.sealed_identity = self._sealer.seal_json(
                identity, context=f"consents.identity:{consent.id}"
            )
            consent.form_sealed = self._sealer.seal(form, context=f"consents.form:{consent.id}")
            consent.patient_ref_index = self._sealer.blind_index(identity["patient_ref"])
        await self._repo.flush()
        await self._audit.append(
            actor=actor,
            action="consents.rekeyed",
            subject="consents",
            details={"records": len(records), "key_id": self._sealer.key_id},
        )
        return len(records)

    def _facts(self, consent: Consent) -> ConsentFacts:
        identity = self._identity(consent)
        return ConsentFacts(
            id=consent.id,
            name_use=consent.name_use,
            first_name=identity["first_name"],
            last_name=identity["last_name"],
            story_use=consent.story_use,
            channels=list(consent.channels),
            media_digests=list(consent.media_digests),
            expires_on=consent.expires_on,
            revoked_at=consent.revoked_at,
        )

    def _scope(self, consent: Consent, at: datetime) -> ConsentScope:
        return ConsentScope(
            id=consent.id,
            state=consent_state(consent.expires_on, consent.revoked_at, at),
            name_use=consent.name_use,
            story_use=consent.story_use,
            channels=list(consent.channels),
            media_digests=list(consent.media_digests),
            collected_on=consent.collected_on,
            expires_on=consent.expires_on,
            revoked_at=consent.revoked_at,
            form_media_type=consent.form_media_type,
            form_url=f"/api/v1/consents/{consent.id}/form",
        )

    def _out(self, consent: Consent) -> ConsentOut:
        identity = self._identity(consent)
        return ConsentOut(
            **self._scope(consent, utcnow()).model_dump(),
            patient_ref=identity["patient_ref"],
            first_name=identity["first_name"],
            last_name=identity["last_name"],
            collected_by=consent.collected_by,
            recorded_by=consent.recorded_by,
            recorded_at=consent.recorded_at,
            revoked_by=consent.revoked_by,
            revoke_reason=consent.revoke_reason,
            form_digest=consent.form_digest,
            form_size=consent.form_size,
        )

    @staticmethod
    def _require(principal: Principal) -> None:
        if not principal.has_any(*CONSENT_ROLES):
            raise Forbidden("consent records are for compliance staff and admins only")

    async def _load(self, consent_id: str, *, for_update: bool = False) -> Consent:
        consent = await self._repo.get(consent_id, for_update=for_update)
        if consent is None:
            raise NotFound(f"consent {consent_id} does not exist")
        return consent

    # --- records ---------------------------------------------------------------------------------

    async def create(
        self, data: ConsentIn, form: bytes, principal: Principal, bearer_token: str
    ) -> ConsentOut:
        self._require(principal)
        if self._channels is not None:
            known = await self._channels.known(bearer_token, list(data.channels))
            unknown = [c for c in data.channels if c not in known]
            if unknown:
                raise BadRequest(
                    f"unknown channel(s): {', '.join(unknown)}; configured: {', '.join(sorted(known))}",
                    code="unknown_channel",
                )
        signed = await check_form(form)
        consent_id = str(uuid.uuid4())
        identity = {
            "patient_ref": data.patient_ref,
            "first_name": data.first_name,
            "last_name": data.last_name,
        }
        consent = Consent(
            id=consent_id,
            sealed_identity=self._sealer.seal_json(identity, context=f"consents.identity:{consent_id}"),
            patient_ref_index=self._sealer.blind_index(data.patient_ref),
            name_use=data.name_use,
            story_use=data.story_use,
            channels=list(data.channels),
            media_digests=list(data.media_digests),
            collected_by=data.collected_by,
            collected_on=data.collected_on,
            expires_on=data.expires_on,
            form_sealed=self._sealer.seal(signed.data, context=f"consents.form:{consent_id}"),
            form_media_type=signed.media_type,
            form_digest=hashlib.sha256(signed.data).hexdigest(),
            form_size=len(signed.data),
            recorded_by=principal.user_id,
            recorded_at=utcnow(),
            revoked_at=None,
            revoked_by=None,
            revoke_reason="",
        )
        self._repo.add(consent)
        await self._repo.flush()
        await self._audit.append(
            actor=principal,
            action="consent.created",
            subject=f"consent:{consent_id}",
            details={
                "name_use": consent.name_use,
                "story_use": consent.story_use,
                "channels": consent.channels,
                "media_digests": consent.media_digests,
                "expires_on": consent.expires_on.isoformat(),
                "form_digest": consent.form_digest,
                "form_media_type": consent.form_media_type,
            },
        )
        return self._out(consent)

    async def get(self, consent_id: str, principal: Principal) -> ConsentOut:
        self._require(principal)
        consent = await self._load(consent_id)
        await self._audit.append(actor=principal, action="consent.read", subject=f"consent:{consent_id}")
        return self._out(consent)

    async def list_records(
        self, principal: Principal, *, patient_ref: str | None, state: str | None, limit: int
    ) -> list[ConsentOut]:
        self._require(principal)
        index = self._sealer.blind_index(patient_ref) if patient_ref else None
        revoked = None if state is None else state == "revoked"
        rows = await self._repo.list(patient_ref_index=index, revoked=revoked, limit=limit)
        now = utcnow()
        if state is not None:
            rows = [c for c in rows if consent_state(c.expires_on, c.revoked_at, now) == state]
        await self._audit.append(
            actor=principal,
            action="consent.listed",
            subject="consents",
            details={
                "filters": {"patient_ref": bool(patient_ref), "state": state, "limit": limit},
                "consent_ids": [c.id for c in rows],
            },
        )
        return [self._out(c) for c in rows]

    async def form(self, consent_id: str, principal: Principal) -> SignedForm:
        self._require(principal)
        consent = await self._load(consent_id)
        data = self._sealer.open(consent.form_sealed, context=f"consents.form:{consent_id}")
        await self._audit.append(
            actor=principal,
            action="consent.form_read",
            subject=f"consent:{consent_id}",
            details={"form_digest": consent.form_digest},
        )
        return SignedForm(data, consent.form_media_type)

    async def for_draft(
        self, draft: Draft, consent_ids: Sequence[str], principal: Principal
    ) -> DraftConsents:
        """The scope and state of the consents a draft relies on (no identity): for its readers."""
        found = await self._repo.get_many(consent_ids)
        now = utcnow()
        await self._audit.append(
            actor=principal,
            action="consent.read",
            subject=f"draft:{draft.id}",
            details={"consent_ids": list(consent_ids), "scope_only": True},
        )
        return DraftConsents(
            draft_id=draft.id,
            consents=[self._scope(found[i], now) for i in consent_ids if i in found],
            missing=[i for i in consent_ids if i not in found],
        )

    async def on_file(self, consent_ids: Sequence[str], at: datetime) -> bool:
        found = await self._repo.get_many(consent_ids)
        return any(consent_state(c.expires_on, c.revoked_at, at) == "active" for c in found.values())

    async def known(self, consent_ids: Sequence[str]) -> set[str]:
        return set(await self._repo.get_many(consent_ids))

    # --- the gate --------------------------------------------------------------------------------

    async def check_now(self, draft_id: str, version: int, data: ConsentCheckIn) -> ConsentCheckOut:
        """The gate as it stands now, for the publisher's own check before it posts."""
        try:
            result = await self.check(
                ConsentCheckInput(
                    draft_id=draft_id,
                    version=version,
                    content_hash=data.content_hash,
                    channels=list(data.channels),
                    at=utcnow().isoformat(),
                    screening_categories=list(data.screening_categories),
                )
            )
        except ApplicationError as exc:
            if exc.type == "NotFound":
                raise NotFound(exc.message) from exc
            raise Conflict(exc.message, code="content_mismatch") from exc
        return ConsentCheckOut(
            ok=result.ok, required=result.required, reasons=result.reasons, consent_ids=result.consent_ids
        )

    async def check(self, request: ConsentCheckInput) -> ConsentCheckResult:
        version = await self._drafts.get_version(request.draft_id, request.version)
        if version is None:
            raise ApplicationError(
                f"draft {request.draft_id} has no version {request.version}",
                type="NotFound",
                non_retryable=True,
            )
        if version.content_hash != request.content_hash:
            raise ApplicationError(
                "the stored version does not match the content hash under review",
                type="ContentMismatch",
                non_retryable=True,
            )
        media = await self._drafts.media(request.draft_id)
        facts = version_facts(version, media, channels=request.channels)
        relied = list(
            dict.fromkeys([*facts.consent_ids, *(m.consent_id for m in facts.media if m.consent_id)])
        )
        consents = {cid: self._facts(c) for cid, c in (await self._repo.get_many(relied)).items()}
        outcome: GateOutcome = check_consent(
            facts,
            consents,
            at=datetime.fromisoformat(request.at),
            screening_categories=request.screening_categories,
            # The drafts service owns the flag; a caller's copy may only add to it.
            patient_content=version.patient_content or request.patient_content,
        )
        return ConsentCheckResult(
            ok=outcome.ok,
            required=outcome.required,
            reasons=outcome.reasons,
            consent_ids=outcome.consent_ids,
            media=[MediaConsent(**asdict(m)) for m in outcome.media],
        )

    # --- revocation ------------------------------------------------------------------------------

    async def revoke(self, consent_id: str, reason: str, principal: Principal) -> RevocationOut:
        """Revoke at once: unsubmitted drafts are withdrawn here, running workflows are signalled
        (they send the draft back to review and unschedule it), published posts get
        `takedown_required` and a takedown task for the publisher role."""
        self._require(principal)
        consent = await self._load(consent_id, for_update=True)
        if consent.revoked_at is not None:
            raise Conflict(f"consent {consent_id} was already revoked", code="already_revoked")
        now = utcnow()
        consent.revoked_at, consent.revoked_by, consent.revoke_reason = now, principal.user_id, reason
        await self._repo.flush()
        effects = [
            await self._revoke_effect(draft, consent_id, reason, principal, now)
            for draft in await self._drafts.drafts_relying_on(consent_id)
        ]
        await self._audit.append(
            actor=principal,
            action="consent.revoked",
            subject=f"consent:{consent_id}",
            details={"reason": reason, "effects": [e.model_dump() for e in effects]},
        )
        return RevocationOut(consent=self._out(consent), effects=effects)

    async def _revoke_effect(
        self, draft: Draft, consent_id: str, reason: str, principal: Principal, now: datetime
    ) -> RevocationEffect:
        before = draft.status
        why = f"consent {consent_id} was revoked: {reason}"
        if before == "draft":
            locked = await self._drafts.get(draft.id, for_update=True)
            assert locked is not None
            if locked.status == "draft":  # still never submitted: no workflow, the service ends it
                locked.status, locked.state_note, locked.updated_at = "withdrawn", why, now
                await self._drafts.flush()
                await self._audit.append(
                    actor=principal,
                    action="draft.withdrawn",
                    subject=f"draft:{draft.id}",
                    details={"version": locked.current_version, "reason": why, "consent_id": consent_id},
                )
                return RevocationEffect(draft_id=draft.id, status_before=before, action="withdrawn")
            before = locked.status
        if before == "published":
            return await self._require_takedown(draft, consent_id, why, principal, now)
        if before not in IN_WORKFLOW:
            return RevocationEffect(draft_id=draft.id, status_before=before, action="none")
        if not self._approvals.connected:
            return RevocationEffect(
                draft_id=draft.id, status_before=before, action="signal_failed", detail="no workflow engine"
            )
        signal = ConsentRevoked(
            consent_id=consent_id, reason=reason, revoked_by=principal.user_id, revoked_at=now.isoformat()
        )
        try:
            await self._approvals.consent_revoked(draft.id, signal)
        except UpstreamUnavailable as exc:
            # The pre-publish consent check still stops the post; the failure is on record.
            log.warning("consent revocation signal to draft %s failed: %s", draft.id, exc.detail)
            return RevocationEffect(
                draft_id=draft.id, status_before=before, action="signal_failed", detail=str(exc.detail)
            )
        await self._audit.append(
            actor=principal,
            action="draft.consent_revoked",
            subject=f"draft:{draft.id}",
            details={"consent_id": consent_id, "reason": why, "status": before},
        )
        return RevocationEffect(draft_id=draft.id, status_before=before, action="sent_back_to_review")

    async def _require_takedown(
        self, draft: Draft, consent_id: str, why: str, principal: Principal, now: datetime
    ) -> RevocationEffect:
        task = await self._takedowns.require(draft.id, consent_id, why, principal, now)
        detail = task.id
        if self._publisher is not None:
            # The publisher deletes it from every network and reports back (live-state); if it
            # cannot be asked now, the task stays open for the publisher role, with why.
            try:
                await self._publisher.take_down(
                    draft.id, reason=f"consent revoked: {why}", cause="consent_revoked"
                )
            except ClearpostError as exc:
                log.warning("the publisher was not told to take down draft %s: %s", draft.id, exc.detail)
                task.note = f"the automatic takedown could not be started: {exc.detail}"
                detail = f"{task.id} (automatic takedown not started: {exc.detail})"
        return RevocationEffect(
            draft_id=draft.id, status_before="published", action="takedown_required", detail=detail
        )


def version_facts(
    version: DraftVersion, media: dict[str, DraftMedia], *, channels: Sequence[str]
) -> VersionFacts:
    items = [
        MediaFacts(
            digest=d,
            faces=len(media[d].faces),
            staff_stock=media[d].staff_stock,
            staff_stock_confirmed=media[d].staff_stock_confirmed_by is not None,
            consent_id=media[d].consent_id,
        )
        if d in media
        else MediaFacts(digest=d, faces=1)  # nothing known about it: treat it as showing a patient
        for d in version.media_digests
    ]
    return VersionFacts(
        text=f"{version.title}\n{version.body}",
        channels=list(channels),
        consent_ids=list(version.consent_ids),
        patient_content=version.patient_content,
        media=items,
    )

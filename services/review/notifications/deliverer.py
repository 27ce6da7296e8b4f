"""The deliverer: a loop in the review service that empties the notice outbox.

Each pass, in one transaction per notice: expand its recipients (`role:` to every user the service
knows with that role, names to users), drop offboarded users, apply each user's preferences, and
write one inbox item, one e-mail row and one webhook row per endpoint, each under a unique
constraint, then mark the notice delivered. Sending happens after: pending e-mails, due digests and
due webhook attempts, each row marked as it goes. A restart picks up exactly what is left, so a
notice reaches each recipient once per channel (an e-mail interrupted between the SMTP answer and
the commit is sent again with the same Message-ID).

Why a loop here and not a workflow activity: the outbox is this service's table and every fact the
fan-out needs (recipients, preferences, endpoints) is this service's too; delivery retries are
minutes to hours apart and must survive a Temporal outage; the workflow only records the notice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.clock import utcnow
from services.kit.db import session_scope
from services.review.models import ReviewNotice
from services.review.notifications.events import NotificationEvent, event_of
from services.review.notifications.mailer import Mailer, digest_for, message_for
from services.review.notifications.models import (
    EmailDelivery,
    InboxItem,
    NotificationRecipient,
    WebhookDelivery,
)
from services.review.notifications.preferences import channels_for, digest_due
from services.review.notifications.repository import NotificationRepository
from services.review.notifications.signing import signed_headers

log = logging.getLogger("clearpost.review.notifications")
BATCH = 50
# How long a process that took a row to send holds it: past this, another pass may take it again.
LEASE = timedelta(minutes=2)


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """After the n-th failed attempt: base, 2x, 4x, ... capped at six hours."""
    return timedelta(seconds=min(base_seconds * 2 ** max(attempts - 1, 0), 6 * 3600))


class Deliverer:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        public_url: str,
        mailer: Mailer | None,
        http: httpx.AsyncClient,
        webhook_attempts: int = 6,
        webhook_backoff_seconds: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._public_url = public_url
        self._mailer = mailer
        self._http = http
        self._attempts = webhook_attempts
        self._backoff = webhook_backoff_seconds
        self._clock = clock
        self._lock = asyncio.Lock()

    async def run(self, interval: float) -> None:
        """Every `interval` seconds, a pass; a failing pass is logged and tried again next time."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.deliver()
            except Exception:
                log.exception("notification pass failed; retrying at the next")

    async def deliver(self) -> None:
        """One pass: fan out the outbox, then send what is due."""
        async with self._lock:
            await self.fan_out()
            await self.send_emails()
            await self.send_digests()
            await self.send_webhooks()

    # --- fan-out ------------------------------------------------------------------------------

    async def fan_out(self) -> int:
        count = 0
        while True:
            async with session_scope(self._sessionmaker) as session:
                repo = NotificationRepository(session)
                notices = await repo.undelivered_notices(BATCH)
                for notice in notices:
                    await self._fan_out(repo, notice)
                    notice.delivered_at = self._clock()
                count += len(notices)
            if len(notices) < BATCH:
                return count

    async def _fan_out(self, repo: NotificationRepository, notice: ReviewNotice) -> None:
        try:
            event = event_of(notice, self._public_url)
        except ValueError:
            log.error("notice %s has an unknown kind %r; not delivered", notice.id, notice.kind)
            return
        document = event.model_dump(mode="json")
        offboarded = await repo.offboarded_ids()
        for name, user in await self._people(repo, list(notice.recipients)):
            if user is not None and user.user_id in offboarded:
                continue
            wanted = channels_for(user.channels, event.kind) if user is not None else {"inbox"}
            if "inbox" in wanted:
                await self._to_inbox(repo, notice, user.user_id if user else name, document)
            if "email" in wanted and user is not None and user.email and self._mailer is not None:
                await self._to_email(repo, notice, user, document)
        for endpoint in await repo.endpoints():
            if event.kind in endpoint.kinds and await repo.webhook_delivery(notice.id, endpoint.id) is None:
                repo.add(
                    WebhookDelivery(
                        id=str(uuid.uuid4()), notice_id=notice.id, endpoint_id=endpoint.id, event=document,
                        status="pending", attempts=0, next_attempt_at=self._clock(), created_at=self._clock(),
                    )
                )  # fmt: skip
        await repo.flush()

    async def _people(
        self, repo: NotificationRepository, recipients: list[str]
    ) -> list[tuple[str, NotificationRecipient | None]]:
        """Each person once: (the name the notice gives, the user when the service knows them)."""
        people: dict[str, tuple[str, NotificationRecipient | None]] = {}
        everyone: list[NotificationRecipient] | None = None
        for entry in recipients:
            kind, _, value = entry.partition(":")
            if kind == "role":
                everyone = everyone if everyone is not None else list(await repo.recipients())
                for user in everyone:
                    if value in user.roles:
                        people.setdefault(user.user_id, (user.user_id, user))
            elif kind == "user" and value:
                named = await repo.recipient_named(value)
                people.setdefault(named.user_id if named else value, (value, named))
        return list(people.values())

    async def _to_inbox(
        self, repo: NotificationRepository, notice: ReviewNotice, recipient: str, document: dict[str, object]
    ) -> None:
        if await repo.inbox_item(notice.id, recipient) is None:
            repo.add(
                InboxItem(
                    id=str(uuid.uuid4()), notice_id=notice.id, recipient=recipient, event=document,
                    created_at=self._clock(),
                )
            )  # fmt: skip

    async def _to_email(
        self,
        repo: NotificationRepository,
        notice: ReviewNotice,
        user: NotificationRecipient,
        document: dict[str, object],
    ) -> None:
        if await repo.email(notice.id, user.user_id) is not None or user.email is None:
            return
        now = self._clock()
        due = digest_due(user.digest, now)
        if due is not None:
            # Joins the digest being gathered, if one is: one message per period.
            due = await repo.open_digest_due_at(user.user_id) or due
        repo.add(
            EmailDelivery(
                id=str(uuid.uuid4()), notice_id=notice.id, recipient=user.user_id, address=user.email,
                event=document, status="pending" if due is None else "digest", digest_due_at=due,
                next_attempt_at=now if due is None else due, attempts=0, created_at=now,
            )
        )  # fmt: skip

    # --- sending ------------------------------------------------------------------------------
    # Each batch is claimed in a short transaction (its rows leased for LEASE), sent with no
    # transaction open (a slow SMTP server or receiver holds no database lock), and each outcome
    # written in a transaction of its own.

    async def send_emails(self) -> None:
        if self._mailer is None:
            return
        async with session_scope(self._sessionmaker) as session:
            rows = await NotificationRepository(session).emails_due(self._clock(), BATCH)
            claimed = [(r.id, r.address, NotificationEvent.model_validate(r.event)) for r in rows]
            self._lease(rows)
        for delivery_id, address, event in claimed:
            error = await self._mail(message_for(event, self._mailer.settings.sender, address))
            await self._emails_done([delivery_id], error)

    async def send_digests(self) -> None:
        if self._mailer is None:
            return
        async with session_scope(self._sessionmaker) as session:
            rows = await NotificationRepository(session).digests_due(self._clock())
            groups: dict[str, list[tuple[str, str, NotificationEvent]]] = {}
            for r in rows:
                groups.setdefault(r.recipient, []).append(
                    (r.id, r.address, NotificationEvent.model_validate(r.event))
                )
            self._lease(rows)
        for group in groups.values():
            events = [event for _, _, event in group]
            error = await self._mail(digest_for(events, self._mailer.settings.sender, group[-1][1]))
            await self._emails_done([delivery_id for delivery_id, _, _ in group], error)

    def _lease(self, rows: Sequence[EmailDelivery] | Sequence[WebhookDelivery]) -> None:
        for row in rows:
            row.next_attempt_at = self._clock() + LEASE

    async def _mail(self, message: EmailMessage) -> str | None:
        assert self._mailer is not None
        try:
            await self._mailer.send(message)
        except Exception as exc:  # smtplib's errors, refused connections, timeouts
            return f"{type(exc).__name__}: {exc}"[:500]
        return None

    async def _emails_done(self, ids: list[str], error: str | None) -> None:
        async with session_scope(self._sessionmaker) as session:
            for row in await NotificationRepository(session).emails_by_ids(ids):
                if error is None:
                    row.status, row.sent_at, row.last_error = "sent", self._clock(), None
                    continue
                row.attempts += 1
                row.last_error = error
                row.next_attempt_at = self._clock() + backoff(row.attempts, self._backoff)
                if row.attempts >= self._attempts:
                    row.status = "failed"
                log.warning("e-mail for notice %s not sent: %s", row.notice_id, error)

    async def send_webhooks(self) -> None:
        async with session_scope(self._sessionmaker) as session:
            repo = NotificationRepository(session)
            rows = await repo.webhooks_due(self._clock(), BATCH)
            claimed: list[tuple[str, str, str, dict[str, object]]] = []
            for row in rows:
                endpoint = await repo.endpoint(row.endpoint_id)
                if endpoint is None or endpoint.deleted_at is not None:
                    row.status, row.last_error = "dead", "the endpoint was deleted"
                    continue
                claimed.append((row.id, endpoint.url, endpoint.secret, dict(row.event)))
            self._lease(rows)
        for delivery_id, url, secret, event in claimed:
            error = await self._post(url, secret, event)
            await self._webhook_done(delivery_id, error)

    async def _webhook_done(self, delivery_id: str, error: str | None) -> None:
        async with session_scope(self._sessionmaker) as session:
            row = await NotificationRepository(session).webhook_delivery_by_id(delivery_id)
            if row is None:
                return
            row.attempts += 1
            if error is None:
                row.status, row.delivered_at, row.last_error = "delivered", self._clock(), None
                return
            row.last_error = error
            if row.attempts >= self._attempts:
                row.status = "dead"
                log.warning("webhook delivery %s is a dead letter: %s", row.id, error)
            else:
                row.next_attempt_at = self._clock() + backoff(row.attempts, self._backoff)

    async def _post(self, url: str, secret: str, event: dict[str, object]) -> str | None:
        """None when the receiver took it (2xx), else why not."""
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        headers = signed_headers(
            secret, int(self._clock().timestamp()), body, kind=str(event["kind"]), event_id=str(event["id"])
        )
        try:
            response = await self._http.post(url, content=body, headers=headers, timeout=10.0)
        except Exception as exc:  # httpx's errors, an address it cannot use (InvalidURL is not one)
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

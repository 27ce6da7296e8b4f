"""E-mail over SMTP: the one door to the mail server. The standard library's smtplib, run off the
event loop (a message every few seconds at most needs no async SMTP client, nor a dependency)."""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from services.review.notifications.events import NotificationEvent


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout: float = 30.0


def event_lines(event: NotificationEvent) -> list[str]:
    if event.case_id is not None:
        lines = [event.summary + ".", "", f"Adverse-event case: {event.case_id}", f"Clock: {event.clock}"]
    else:
        lines = [event.summary + ".", "", f"Draft: {event.draft_id} (version {event.version})"]
    if event.stage:
        lines.append(f"Stage: {event.stage}")
    if event.due_at is not None:
        lines.append(f"Due: {event.due_at.isoformat()}")
    lines.append(f"Open: {event.link}")
    return lines


def message_for(event: NotificationEvent, sender: str, to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    about = f"case {event.case_id}" if event.case_id is not None else f"draft {event.draft_id}"
    message["Subject"] = f"[Clearpost] {event.summary}: {about}"
    message["Date"] = formatdate(usegmt=True)
    # One Message-ID per event and address: a message sent twice after a crash is one message.
    message["Message-ID"] = f"<{event.id}.{hashlib.sha256(to.encode()).hexdigest()[:12]}@clearpost>"
    message["X-Clearpost-Event"] = event.kind
    message.set_content(
        "\n".join([*event_lines(event), "", "-- Clearpost (no post text is ever sent by e-mail)"])
    )
    return message


def digest_for(events: list[NotificationEvent], sender: str, to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    message["Subject"] = f"[Clearpost] {len(events)} review notification{'s' if len(events) != 1 else ''}"
    message["Date"] = formatdate(usegmt=True)
    # Named by its events and address, as a single notice's is: a digest sent again is one message.
    digest = hashlib.sha256("|".join([to, *sorted(e.id for e in events)]).encode()).hexdigest()[:24]
    message["Message-ID"] = f"<digest.{digest}@clearpost>"
    parts: list[str] = []
    for event in events:
        parts += [*event_lines(event), ""]
    message.set_content("\n".join([*parts, "-- Clearpost digest (no post text is ever sent by e-mail)"]))
    return message


class Mailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
            smtp.send_message(message)

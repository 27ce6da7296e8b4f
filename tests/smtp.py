"""A real SMTP server on loopback (aiosmtpd) that keeps every message it is given, optionally
asking for a user name and password, or refusing every message while `refusing` is set."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


def _free_port() -> int:
    # aiosmtpd's controller connects to its port to see it is up, so it needs the number first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Keeper:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_DATA(self, _: SmtpProtocol, __: Session, envelope: Envelope) -> str:
        if self._server.refusing:
            return "451 try again later"
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._server.messages.append(message)
        self._server.envelopes.append((str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos]))
        return "250 OK"


class SmtpServer:
    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refusing = False
        self._credentials = (username, password)
        kwargs: dict[str, Any] = {}
        if username is not None:
            kwargs = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self._controller = Controller(_Keeper(self), hostname="127.0.0.1", port=_free_port(), **kwargs)

    def _authenticate(
        self, _: SmtpProtocol, __: Session, ___: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            given = (data.login.decode(), data.password.decode())
            return AuthResult(success=given == self._credentials)
        return AuthResult(success=False)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

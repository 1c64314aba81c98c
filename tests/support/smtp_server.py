"""A real SMTP server in-process (aiosmtpd) that keeps what it receives, parsed.

It can be told to refuse the next RCPT or DATA with a reply (`450 ...`, `550 ...`), to stall
longer than the client's timeout, and to require AUTH or STARTTLS.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        # As a mailbox stores it: with the wire's CRLF line ends turned into LF.
        parsed = BytesParser(policy=policy.default).parsebytes(self.raw.replace(b"\r\n", b"\n"))
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self,
        _server: Any,
        _session: Session,
        envelope: Envelope,
        address: str,
        _options: list[str],
    ) -> str:
        reply = self._server._take("RCPT")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, _server: Any, session: Session, envelope: Envelope
    ) -> str:
        if self._server.stall_seconds:
            await asyncio.sleep(self._server.stall_seconds)
        reply = self._server._take("DATA")
        if reply is not None:
            return reply
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        content = envelope.original_content or b""
        self._server._keep(
            ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), content, login)
        )
        return "250 Message accepted"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 and a free port; `received` lists accepted messages."""

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.port = _free_port()
        self.stall_seconds = 0.0
        self._credentials = credentials
        self._lock = threading.Lock()
        self._received: list[ReceivedMail] = []
        self._replies: dict[str, list[str]] = {"RCPT": [], "DATA": []}
        options: dict[str, Any] = {}
        if credentials is not None:
            # AUTH is required only after STARTTLS: aiosmtpd warns about requiring it in the
            # clear, and does not count implicit TLS as TLS (it would not offer AUTH at all).
            starttls = tls_context is not None and not implicit_tls
            options.update(authenticator=self._authenticate, auth_required=starttls)
            options["auth_require_tls"] = starttls
        if tls_context is not None and not implicit_tls:
            options.update(tls_context=tls_context, require_starttls=True)
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=tls_context if implicit_tls else None,
            server_hostname="127.0.0.1",
            **options,
        )

    @property
    def received(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)

    def refuse_next(self, stage: str, reply: str) -> None:
        """Answer the next `RCPT` or `DATA` with `reply`, e.g. `550 5.1.1 No such user`."""
        with self._lock:
            self._replies[stage].append(reply)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self.stall_seconds = 0.0
        self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _take(self, stage: str) -> str | None:
        with self._lock:
            replies = self._replies[stage]
            return replies.pop(0) if replies else None

    def _keep(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._received.append(mail)

    def _authenticate(
        self, _server: Any, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == self._credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

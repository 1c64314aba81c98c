"""POSTs a signed, form-encoded event to a webhook (Twilio's shape).

The target is checked again at every send (`TargetResolver`: every DNS answer against the
SSRF rules) and the connection goes to an address that was checked, never to a second
lookup's answer, so DNS rebinding reaches nothing unchecked; TLS still verifies the URL's
host name (SNI and certificate) and `Host:` names it. No redirect is followed (a 3xx is a
failed send). Timeouts are short: 3 s to connect, 10 s in all; at most a few KB of the
answer are read and the rest ignored."""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

from verify_service.adapters.webhooks.resolver import (
    ResolvedTarget,
    TargetRefused,
    TargetResolver,
    TargetUnresolved,
)
from verify_service.application.events.ports import SendOutcome, SendResult

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3.0
TOTAL_TIMEOUT_S = 10.0
MAX_ANSWER_BYTES = 4096
USER_AGENT = "verify-service-webhooks/1"


class _PinnedConnection(http.client.HTTPConnection):
    """Plain HTTP to one checked address (loopback only, by the target rules)."""

    def __init__(self, address: str, port: int, timeout_s: float) -> None:
        super().__init__(address, port, timeout=timeout_s)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), CONNECT_TIMEOUT_S)
        self.sock.settimeout(self.timeout)


class _PinnedTlsConnection(http.client.HTTPSConnection):
    """TLS to one checked address, verifying the certificate for the URL's host name."""

    def __init__(
        self, address: str, host: str, port: int, timeout_s: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout_s, context=context)
        self._address = address
        self._context = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), CONNECT_TIMEOUT_S)
        raw.settimeout(self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


class HttpEventSender:
    def __init__(self, resolver: TargetResolver, tls: ssl.SSLContext | None = None) -> None:
        self._resolver = resolver
        self._tls = tls or ssl.create_default_context()

    def _resolve(self, url: str) -> ResolvedTarget | SendOutcome:
        """The checked target, or why nothing is sent (a retry or a refusal)."""
        try:
            return self._resolver.resolve(url)
        except TargetUnresolved as exc:
            # Nothing to connect to now; perhaps later (DNS trouble): a retry.
            return SendOutcome(SendResult.FAILED, f"target unresolved: {exc.reason}")
        except TargetRefused as exc:
            return SendOutcome(SendResult.REFUSED, f"target refused: {exc.reason}")

    def send(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> SendOutcome:
        resolved = self._resolve(url)
        if isinstance(resolved, SendOutcome):
            return resolved
        body = urlencode(form).encode("utf-8")
        deadline = time.monotonic() + TOTAL_TIMEOUT_S
        last = "no address"
        for address in resolved.addresses:
            left = deadline - time.monotonic()
            if left <= 0:
                return SendOutcome(SendResult.FAILED, "timeout")
            try:
                status = self._post(resolved, str(address), body, headers, left)
            except (UnicodeError, http.client.InvalidURL):
                # Bytes a request line or header cannot carry (a URL saved before the
                # target rules refused them): it will never be sent, so never retried.
                return SendOutcome(SendResult.REFUSED, "target refused: URL cannot be sent")
            except (OSError, http.client.HTTPException) as exc:
                last = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                continue  # the next checked address, if any
            if 200 <= status < 300:
                return SendOutcome(SendResult.DELIVERED, f"http {status}")
            return SendOutcome(SendResult.FAILED, f"http {status}")
        return SendOutcome(SendResult.FAILED, last)

    def _post(
        self,
        resolved: ResolvedTarget,
        address: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout_s: float,
    ) -> int:
        target = resolved.target
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            connection = _PinnedTlsConnection(
                address, target.host, target.port, timeout_s, self._tls
            )
        else:
            connection = _PinnedConnection(address, target.port, timeout_s)
        parts = urlsplit(target.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if ":" not in target.host else f"[{target.host}]"
        if target.port != default_port:
            host_header += f":{target.port}"
        # Each socket operation has its own timeout; the watchdog bounds them all together,
        # so a receiver that answers a byte at a time cannot hold the worker past the total.
        cut = threading.Event()
        watchdog = threading.Timer(timeout_s, _cut, args=(connection, cut))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", host_header)
            connection.putheader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            connection.putheader("Content-Length", str(len(body)))
            connection.putheader("User-Agent", USER_AGENT)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            answer = connection.getresponse()
            answer.read(MAX_ANSWER_BYTES)  # the body is ignored; the rest is not read
            if cut.is_set():  # the answer was cut short: whatever it said is not an answer
                raise TimeoutError
            return answer.status
        finally:
            watchdog.cancel()
            connection.close()


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    """The total timeout passed: shut the socket down, which wakes a blocked read."""
    cut.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing to wake
            sock.shutdown(socket.SHUT_RDWR)

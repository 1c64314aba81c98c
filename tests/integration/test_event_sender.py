"""The events' HTTP sender against local servers: TLS to the address that was checked with
the URL's host name verified (SNI, certificate, `Host:`), no redirect followed, a name that
now resolves to a refused address never connected to."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.events import LOOPBACK, Resolver
from verify_service.adapters.events import http_sender
from verify_service.adapters.events.http_sender import HttpEventSender
from verify_service.adapters.webhooks.resolver import ResolvedTarget, TargetResolver
from verify_service.application.events.ports import SendResult
from verify_service.domain.webhooks.targets import WebhookTarget

HOST = "hooks.example.test"


def certificate(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class Seen:
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 204
    location: str | None = None


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        seen: Seen = self.server.seen  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen.requests.append({"path": self.path, "host": self.headers["Host"], "body": body})
        self.send_response(seen.status)
        if seen.location:
            self.send_header("Location", seen.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[ThreadingHTTPServer, Seen]]:
    cert_file, key_file = certificate(tmp_path, HOST)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.seen = Seen()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield server, server.seen  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()
    thread.join()


def trusting(tmp_path: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tmp_path / f"{HOST}.pem"))


def test_tls_goes_to_the_checked_address_and_verifies_the_urls_host(
    tls_server: tuple[ThreadingHTTPServer, Seen], tmp_path: Path
) -> None:
    server, seen = tls_server
    dns = Resolver()
    dns.answers[HOST] = "127.0.0.1"
    sender = HttpEventSender(TargetResolver(LOOPBACK, getaddrinfo=dns), tls=trusting(tmp_path))
    port = server.server_address[1]
    outcome = sender.send(f"https://{HOST}:{port}/in?x=1", {"uuid": "u", "type": "t"}, {})
    assert outcome.result is SendResult.DELIVERED, outcome
    (request,) = seen.requests
    assert request["host"] == f"{HOST}:{port}"
    assert request["path"] == "/in?x=1"
    assert request["body"] == b"uuid=u&type=t"


def test_a_certificate_for_another_name_is_a_failed_send(
    tls_server: tuple[ThreadingHTTPServer, Seen], tmp_path: Path
) -> None:
    server, seen = tls_server
    dns = Resolver()
    dns.answers["other.example.test"] = "127.0.0.1"
    sender = HttpEventSender(TargetResolver(LOOPBACK, getaddrinfo=dns), tls=trusting(tmp_path))
    port = server.server_address[1]
    outcome = sender.send(f"https://other.example.test:{port}/in", {"uuid": "u"}, {})
    assert outcome.result is SendResult.FAILED
    assert seen.requests == []


def test_a_redirect_is_not_followed(
    tls_server: tuple[ThreadingHTTPServer, Seen], tmp_path: Path
) -> None:
    server, seen = tls_server
    seen.status, seen.location = 302, "http://169.254.169.254/latest/meta-data/"
    dns = Resolver()
    dns.answers[HOST] = "127.0.0.1"
    sender = HttpEventSender(TargetResolver(LOOPBACK, getaddrinfo=dns), tls=trusting(tmp_path))
    port = server.server_address[1]
    outcome = sender.send(f"https://{HOST}:{port}/in", {"uuid": "u"}, {})
    assert (outcome.result, outcome.detail) == (SendResult.FAILED, "http 302")
    assert len(seen.requests) == 1


@pytest.mark.parametrize("address", ["10.0.0.7", "169.254.169.254", "::1", "100.64.0.1"])
def test_a_name_that_now_resolves_to_a_refused_address_is_never_connected_to(
    address: str,
) -> None:
    dns = Resolver()
    dns.answers[HOST] = address
    allowed = () if address == "::1" else LOOPBACK
    outcome = HttpEventSender(TargetResolver(allowed, getaddrinfo=dns)).send(
        f"https://{HOST}/in", {"uuid": "u"}, {}
    )
    assert outcome.result is SendResult.REFUSED
    assert outcome.detail.startswith("target refused")


def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_at_the_total_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every byte comes within the per-read timeout, but the whole answer never ends: the
    send fails when the total timeout (here 0.5 s) has passed."""
    monkeypatch.setattr(http_sender, "TOTAL_TIMEOUT_S", 0.5)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(0.05):
                try:
                    connection.sendall(b"X")
                except OSError:
                    return

    thread = threading.Thread(target=drip)
    thread.start()
    try:
        started = time.monotonic()
        port = listener.getsockname()[1]
        outcome = HttpEventSender(TargetResolver(LOOPBACK)).send(
            f"http://127.0.0.1:{port}/in", {"uuid": "u"}, {}
        )
        assert time.monotonic() - started < 3
        assert outcome.result is SendResult.FAILED
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize("path", ["/café", "/a\x85b", "/a\u2028b"])
def test_a_url_that_cannot_be_sent_is_refused_not_retried(
    tls_server: tuple[ThreadingHTTPServer, Seen], path: str
) -> None:
    """Non-ASCII in the path: refused by the target rules re-checked at send time, and, for
    a URL that got past them (saved before the rule), by the sender itself: a refusal (a
    dead letter at once), not an exception retried ten times with a traceback each."""
    server, seen = tls_server
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}{path}"
    outcome = HttpEventSender(TargetResolver(LOOPBACK)).send(url, {"uuid": "u"}, {})
    assert outcome.result is SendResult.REFUSED
    assert "ASCII" in outcome.detail

    class Unchecked:
        """A resolver that lets the URL through as it is (as one saved before the rule)."""

        def resolve(self, url: str) -> ResolvedTarget:
            address = ipaddress.ip_address("127.0.0.1")
            return ResolvedTarget(
                WebhookTarget(url, "http", "127.0.0.1", port, address), (address,)
            )

    outcome = HttpEventSender(Unchecked()).send(url, {"uuid": "u"}, {})  # type: ignore[arg-type]
    assert (outcome.result, outcome.detail) == (
        SendResult.REFUSED,
        "target refused: URL cannot be sent",
    )
    assert seen.requests == []

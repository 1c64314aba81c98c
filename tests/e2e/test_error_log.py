"""gunicorn's own log (its error log, on standard error) never repeats a malformed request:
a request line or header gunicorn refuses is logged by the client's address and the kind of
error only, never the target, a header value or a number or e-mail address in it. A real
server, sent raw bytes over a socket."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.conftest import server_env
from tests.support.processes import ApiServer, RedisServer

# Requests gunicorn refuses before the API sees them, each carrying +1 415 555 2671 or
# victim@example.com / josé@example.com; with the error gunicorn raises for each.
MALFORMED = {
    "a non-ASCII e-mail address in the query": (
        "GET /v2/Attempts?ChannelData.To=josé%40example.com HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        "InvalidRequestLine",
    ),
    "raw spaces in a number": (
        b"GET /v2/Attempts?ChannelData.To=+1 415 555 2671 HTTP/1.1\r\nHost: x\r\n\r\n",
        "InvalidHTTPVersion",
    ),
    "a CR inside the request line": (
        b"GET /v2/Attempts?To=victim@example.com\rX HTTP/1.1\r\nHost: x\r\n\r\n",
        "InvalidRequestLine",
    ),
    "an over-long request line": (
        b"GET /v2/Attempts?To=%2B14155552671&Pad=" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n",
        "LimitRequestLine",
    ),
    "an e-mail address as the method": (
        b"victim@example.com /v2/Attempts HTTP/1.1\r\nHost: x\r\n\r\n",
        "InvalidRequestMethod",
    ),
    "a control character in a header value": (
        b"GET /v2/Services HTTP/1.1\r\nHost: x\r\nX-To: +14155552671\x01victim@example.com\r\n\r\n",
        "InvalidHeader",
    ),
    "a number as a header name": (
        b"GET /v2/Services HTTP/1.1\r\nHost: x\r\n+1(415)555-2671: victim@example.com\r\n\r\n",
        "InvalidHeaderName",
    ),
}
PERSONAL_FRAGMENTS = ("555", "2671", "ictim", "example.com", "%40", "@", "jos")


def send_raw(port: int, request: bytes) -> bytes:
    """Send the bytes as they are and read gunicorn's whole answer (it closes after an error)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.fixture(scope="module")
def server_log(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A server of its own (access log on too), sent every malformed request; everything it
    wrote to standard output and standard error, read after it stopped."""
    folder: Path = tmp_path_factory.mktemp("error_log")
    server = ApiServer(
        server_env(redis_server.url, folder / "outbox.jsonl"),
        workers=1,
        options=("--access-log", "--no-worker"),
    )
    server.start(folder / "server.log")
    try:
        for request, _error in MALFORMED.values():
            assert send_raw(server.port, request).split(b" ", 2)[1] in (b"400", b"414")
    finally:
        server.stop()
    return (folder / "server.log").read_text(encoding="utf-8", errors="replace")


def test_no_number_or_email_of_a_malformed_request_reaches_the_log(server_log: str) -> None:
    """No line of the server's output carries a fragment of the number or the mailbox."""
    leaked = [
        line
        for line in server_log.splitlines()
        if any(part in line.lower() for part in PERSONAL_FRAGMENTS)
    ]
    assert leaked == []


@pytest.mark.parametrize("case", MALFORMED)
def test_each_refused_request_is_logged_by_address_and_kind(server_log: str, case: str) -> None:
    """An operator still sees that a client sent a bad request, from where, and what kind."""
    _request, error = MALFORMED[case]
    assert f"Invalid request from ip=127.0.0.1: {error}\n" in server_log

"""gunicorn's own log (`gunicorn.error`) never repeats a client's request: the filter the
server's logger installs (server.RequestDetailFilter) keeps the kind of error and the
client's address, and leaves gunicorn's other messages as they are."""

from __future__ import annotations

import logging

import pytest
from gunicorn.config import Config
from gunicorn.http.errors import (
    InvalidHeader,
    InvalidHTTPVersion,
    InvalidRequestLine,
    LimitRequestLine,
    NoMoreData,
)

from verify_service.server import MaskingLogger, RequestDetailFilter

PERSONAL_FRAGMENTS = ("555", "2671", "ictim", "example.com", "jos")


def logged(message: object, *args: object, level: int = logging.WARNING) -> str:
    """The line a record becomes once the filter has seen it."""
    record = logging.LogRecord("gunicorn.error", level, __file__, 1, message, args, None)
    assert RequestDetailFilter().filter(record) is True  # never drops a line
    return record.getMessage()


def refused(error: Exception, address: str = "203.0.113.9") -> str:
    """What the log says when gunicorn refuses a request (workers/base.py: `handle_error`
    formats the message itself, inside the `except` that caught the error)."""
    try:
        raise error
    except Exception as exc:  # any error gunicorn may catch
        return logged(f"Invalid request from ip={address}: {exc}")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            InvalidRequestLine("GET /v2/Attempts?ChannelData.To=josé@example.com HTTP/1.1"),
            "InvalidRequestLine",
        ),
        (InvalidHTTPVersion("415 555 2671 HTTP/1.1"), "InvalidHTTPVersion"),
        (
            InvalidRequestLine("GET /v2/Attempts?To=victim@example.com\rX HTTP/1.1"),
            "InvalidRequestLine",
        ),
        (InvalidHeader("X-To: +14155552671"), "InvalidHeader"),
        (LimitRequestLine(5048, 4094), "LimitRequestLine"),
    ],
)
def test_a_refused_request_is_reduced_to_its_address_and_kind(error: Exception, kind: str) -> None:
    """The request line, header or size gunicorn quoted is gone; the class of error stays."""
    assert refused(error) == f"Invalid request from ip=203.0.113.9: {kind}"


def test_an_ipv6_client_keeps_its_whole_address() -> None:
    """The address is cut at the `: ` that ends it, not at the first colon."""
    assert refused(InvalidRequestLine("x"), "2001:db8::7") == (
        "Invalid request from ip=2001:db8::7: InvalidRequestLine"
    )


def test_a_refused_request_without_its_error_at_hand_still_hides_the_request() -> None:
    """Outside an `except` (no error to name), the request is still not repeated."""
    line = logged("Invalid request from ip=127.0.0.1: Invalid HTTP Version: '415 555 2671'")
    assert line == "Invalid request from ip=127.0.0.1: unparsable request"


def test_a_failed_request_shows_its_uri_masked() -> None:
    """`Error handling request GET /…` (a 500 gunicorn logs with a traceback) keeps the
    method and route, not the number or mailbox in the URI."""
    line = logged(
        "Error handling request %s %s",
        "GET",
        "/v2/SafeList/Numbers/%2B1%20415%20555%202671?To=victim%40example.com",
        level=logging.ERROR,
    )
    assert line == "Error handling request GET /v2/SafeList/Numbers/*?To=*"
    assert logged("Error handling request %s", "/v2/x/415-555-2671") == (
        "Error handling request /v2/x/*"
    )
    assert logged("Error handling request (no URI read)") == "Error handling request (no URI read)"


def test_an_exception_given_as_an_argument_is_shown_by_class() -> None:
    """A client that hangs up mid-request: gunicorn's debug line would quote the bytes read."""
    line = logged(
        "Ignored premature client disconnection. %s",
        NoMoreData(b"GET /v2/Attempts?To=+14155552671"),
        level=logging.DEBUG,
    )
    assert line == "Ignored premature client disconnection. NoMoreData"


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("Booting worker with pid: %s", (4242,)),
        ("Listening at: %s (%s)", ("http://127.0.0.1:8000", 4241)),
        ("Worker exiting (pid: %s)", (4242,)),
        ("Handling signal: %s", ("term",)),
        ("Shutting down: Master", ()),
    ],
)
def test_other_gunicorn_messages_are_left_as_they_are(
    message: str, args: tuple[object, ...]
) -> None:
    """Only what can carry a request is rewritten."""
    assert logged(message, *args, level=logging.INFO) == message % args


def test_the_servers_logger_installs_the_filter_once() -> None:
    """`serve` uses MaskingLogger; setting it up again (a log reopen) adds no second filter."""
    logger = MaskingLogger(Config())
    logger.setup(Config())
    filters = [f for f in logger.error_log.filters if isinstance(f, RequestDetailFilter)]
    assert len(filters) == 1


def test_nothing_personal_survives_any_refused_request() -> None:
    """Belt and braces over the cases above."""
    lines = [
        refused(InvalidRequestLine("GET /?to=josé@example.com HTTP/1.1")),
        refused(InvalidHTTPVersion("415 555 2671 HTTP/1.1")),
    ]
    assert [line for line in lines if any(part in line for part in PERSONAL_FRAGMENTS)] == []

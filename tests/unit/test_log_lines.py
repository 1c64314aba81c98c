"""The log line formats (`VERIFY_LOG_FORMAT`) and request ids, as pure functions: which
client ids are echoed, what a JSON and a text line hold, and that an exception is shown by
class and frames, never by its message (which may repeat a request's value)."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from verify_service.adapters.logs.formatting import JsonFormatter, TextFormatter
from verify_service.adapters.logs.request_context import CURRENT_REQUEST_ID
from verify_service.adapters.redis_store.errors import redis_error_code
from verify_service.http.request_ids import (
    RequestIds,
    acceptable_request_id,
    new_twilio_request_id,
)

PHONE = "+14155552671"


@pytest.mark.parametrize(
    "given",
    ["abc-123", "4f1c2a9e-5b7d-4c1e-9f00-1234567890ab", "req_42.a:b", "x" * 128, "RQ" + "0" * 32],
)
def test_a_safe_client_request_id_is_kept(given: str) -> None:
    """Letters, digits and `._:-`, 1 to 128 characters, with a letter."""
    assert acceptable_request_id(given) == given


@pytest.mark.parametrize(
    "given",
    [
        None,
        "",
        PHONE,
        "14155552671",
        "1-415-555-2671",
        "1.415.555.2671",
        "victim@example.com",
        "x" * 129,
        "a b",
        "a\nb",
        "a\r\nInjected: 1",
        "ü-id",
        "<script>",
        "a/b",
    ],
)
def test_an_unsafe_or_personal_client_request_id_is_refused(given: str | None) -> None:
    """Anything that is not plainly an id (a number, an e-mail address, a line break, too
    long) is replaced by a new id, never logged."""
    assert acceptable_request_id(given) is None


def test_twilio_request_ids_have_twilios_shape() -> None:
    """`RQ` and 32 lower-case hex digits, a new one each time."""
    first, second = new_twilio_request_id(), new_twilio_request_id()
    assert first != second
    assert first.startswith("RQ")
    assert len(first) == 34
    int(first[2:], 16)


def _record(message: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = sys.exc_info() if exc else None
    record = logging.LogRecord(
        "verify_service.x", logging.ERROR, __file__, 1, message, args, exc_info
    )
    record.__dict__.update(extra)
    return record


def _failing_with_the_number() -> logging.LogRecord:
    try:
        try:
            int(PHONE + "x")
        except ValueError as inner:
            raise RuntimeError(f"could not send to {PHONE}") from inner
    except RuntimeError:
        return _record("unhandled %s", "RuntimeError", exc=True)
    raise AssertionError


def test_a_json_line_has_the_documented_fields_and_the_request_id() -> None:
    """timestamp, level, logger, message, event, request_id, structured fields."""
    token = CURRENT_REQUEST_ID.set("req-1")
    try:
        line = JsonFormatter().format(_record("attempt %s: sent", "VL1", provider="console"))
    finally:
        CURRENT_REQUEST_ID.reset(token)
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "verify_service.x"
    assert entry["message"] == "attempt VL1: sent"
    assert entry["event"] == "attempt %s: sent"
    assert entry["request_id"] == "req-1"
    assert entry["provider"] == "console"
    assert entry["timestamp"].endswith("+00:00")


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_an_exception_is_shown_by_class_and_frames_never_its_message(
    formatter: logging.Formatter,
) -> None:
    """A traceback's exception text can repeat a request's value: one line, the classes
    (and the one it was raised from) and where, nothing of the number."""
    line = formatter.format(_failing_with_the_number())
    assert "\n" not in line
    assert "RuntimeError" in line
    assert "ValueError" in line
    assert "test_log_lines.py" in line
    for piece in (PHONE, "14155552671", "4155552671", "could not send"):
        assert piece not in line


def test_a_text_line_is_one_line_with_the_request_id() -> None:
    """A message with a line break stays one line; `[rid=…]` names the request."""
    token = CURRENT_REQUEST_ID.set("req-2")
    try:
        line = TextFormatter().format(_record("two\nlines"))
    finally:
        CURRENT_REQUEST_ID.reset(token)
    assert "\n" not in line
    assert "[rid=req-2]" in line
    assert "two\\nlines" in line


def test_the_middleware_answers_both_headers_and_sets_the_id_only_during_the_request() -> None:
    """On any answer the app gives, replacing headers of the same name it may have set."""
    seen: list[str | None] = []

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        seen.append(CURRENT_REQUEST_ID.get())
        start_response("404 NOT FOUND", [("X-Request-Id", "forged")])  # type: ignore[operator]
        return [b""]

    headers: list[tuple[str, str]] = []
    RequestIds(app)(
        {"HTTP_X_REQUEST_ID": "client-7"},
        lambda _status, given, _exc=None: headers.extend(given),
    )
    assert seen == ["client-7"]
    assert CURRENT_REQUEST_ID.get() is None
    named = dict(headers)
    assert len(headers) == 2
    assert named["X-Request-Id"] == "client-7"
    assert named["Twilio-Request-Id"].startswith("RQ")


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        ("OOM command not allowed when used memory > 'maxmemory'.", "OOM"),
        ("MISCONF Redis is configured to save RDB snapshots", "MISCONF"),
        ("NOPERM this user has no permissions", "NOPERM"),
        ("Error running script: +14155552671", "-"),
        ("+14155552671 is bad", "-"),
    ],
)
def test_a_redis_refusal_is_logged_by_its_code_only(reply: str, code: str) -> None:
    """Redis's leading error code, which the exception's class alone does not say; never
    the rest of the reply."""
    assert redis_error_code(Exception(reply)) == code

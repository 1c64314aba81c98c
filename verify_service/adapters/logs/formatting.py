"""Formatters for `VERIFY_LOG_FORMAT`: `text` (one human-readable line) and `json` (one JSON
object a line). Both keep to one line per event, name the request id when there is one, and
show an exception by its class and where it was raised, never its message: an exception's
text can repeat a request's value (`invalid literal for int(): '+14155552671'`), and a
traceback's frames say enough to find the bug.

A JSON line holds `timestamp` (UTC, ISO 8601, milliseconds), `level`, `logger`, `message`
(rendered), `event` (the message's template, the same for every line of its kind, see
docs/operations.md "Logs"), `request_id` (in a request), `process`, every structured field
given with `extra=` (and the access log's fields), and `exception` (class and frames)."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from verify_service.adapters.logs.request_context import current_request_id

LOG_FORMATS = ("text", "json")

# The attributes every LogRecord has: whatever else a record carries came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
}

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def describe_exception(exc_info: ExcInfo) -> str:
    """`ValueError at module.py:12 in f < caller.py:40 in g`, then `(from KeyError …)` for
    the exception it was raised from or while handling: classes and frames, never a
    message."""
    parts = []
    error: BaseException | None = exc_info[1]
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        frames = traceback.extract_tb(error.__traceback__)
        where = " < ".join(
            f"{frame.filename.rpartition('/')[2]}:{frame.lineno} in {frame.name}"
            for frame in reversed(frames)
        )
        parts.append(f"{type(error).__name__}" + (f" at {where}" if where else ""))
        error = error.__cause__ or error.__context__
    return " (from ".join(parts) + ")" * (len(parts) - 1)


def _one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def _request_id(record: logging.LogRecord) -> str | None:
    given = record.__dict__.get("request_id")
    return given if isinstance(given, str) else current_request_id()


def structured_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record was given with `extra=` (plain values only)."""
    return {
        name: value if isinstance(value, str | int | float | bool) or value is None else str(value)
        for name, value in record.__dict__.items()
        if name not in _STANDARD_ATTRIBUTES and not name.startswith("_")
    }


def _event(record: logging.LogRecord) -> str:
    """The line's kind: an `event` given with `extra=` (the access log's `access`), else the
    message's template (`attempt %s: sent through %s`)."""
    given = record.__dict__.get("event")
    if isinstance(given, str):
        return given
    return record.msg if isinstance(record.msg, str) else type(record.msg).__name__


def _exception(record: logging.LogRecord) -> str | None:
    if record.exc_info and record.exc_info[1] is not None:
        return describe_exception(record.exc_info)
    return None


class TextFormatter(logging.Formatter):
    """`2026-12-03 11:20:20,123 INFO verify_service.app [rid=RQ…]: message key=value …`"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = _request_id(record)
        record.rid = f" [rid={request_id}]" if request_id else ""
        fields = structured_fields(record)
        line = super().formatMessage(_with_message(record))
        if fields:
            line += " " + " ".join(f"{name}={value}" for name, value in fields.items())
        exception = _exception(record)
        if exception:
            line += f" exception={exception}"
        return _one_line(line)


class JsonFormatter(logging.Formatter):
    """One JSON object a line (keys in a fixed order: timestamp, level, logger, message,
    event, request_id, then the rest)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "event": _event(record),
        }
        request_id = _request_id(record)
        if request_id:
            line["request_id"] = request_id
        line["process"] = record.process
        for name, value in structured_fields(record).items():
            line.setdefault(name, value)
        exception = _exception(record)
        if exception:
            line["exception"] = exception
        return json.dumps(line, ensure_ascii=True, separators=(",", ":"))


def _with_message(record: logging.LogRecord) -> logging.LogRecord:
    record.message = record.getMessage()
    record.asctime = logging.Formatter.formatTime(logging.Formatter(), record)
    return record


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(level: str, log_format: str) -> None:
    """The root logger of this process: one handler on standard error, in `log_format`.
    Replaces what was there (a second call, in a test or a child, does not double lines)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)

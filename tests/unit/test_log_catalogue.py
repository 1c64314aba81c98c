"""docs/operations.md ("Logs") lists every log event the service emits, and the source and
the list stay in step: each log call's event (its `extra={"event": …}`, else its message
template) is in the list, and each event the list names is still emitted."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "verify_service"
DOC = ROOT / "docs" / "operations.md"
LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}
LOGGER_NAMES = {"log", "logger", "_log", "_logger", "access_log", "error_log"}


@dataclass(frozen=True)
class LogCall:
    module: str
    line: int
    level: str
    event: str


def _is_logger(node: ast.expr) -> bool:
    """`log`, `logger`, `self.log`, `logging.getLogger(…)`."""
    if isinstance(node, ast.Name):
        return node.id in LOGGER_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr in LOGGER_NAMES
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "getLogger"
    )


def _event(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
            for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "event"
                    and isinstance(value, ast.Constant)
                ):
                    return str(value.value)
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def log_calls() -> list[LogCall]:
    """Every `<logger>.<level>(…)` call of the package, with its event."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LEVELS
                and _is_logger(node.func.value)
            ):
                event = _event(node)
                assert event is not None, f"{module}:{node.lineno}: a log call without a template"
                found.append(LogCall(module, node.lineno, node.func.attr, event))
    return found


def documented_events() -> set[str]:
    """The first cell (in backquotes) of each row of the "Logs" section's event table."""
    text = DOC.read_text("utf-8")
    section = text.split("\n## Logs\n", 1)[1].split("\n## ", 1)[0]
    table = section.split("<!-- log events -->", 2)[1]
    return {match.group(1) for match in re.finditer(r"^\| `([^`]+)` \|", table, re.MULTILINE)}


def test_the_scan_finds_the_service_log_calls() -> None:
    """The scan itself works: it finds calls in the worker, the API and gunicorn's setup."""
    events = {call.event for call in log_calls()}
    assert "attempt %s: sent through %s" in events
    assert "service %s created" in events
    assert len(events) > 40


def test_every_log_event_is_listed_in_the_operations_guide() -> None:
    """A new log line needs its row in docs/operations.md, "Logs"."""
    documented = documented_events()
    missing = sorted(
        f"{call.module}:{call.line}: {call.event!r}"
        for call in log_calls()
        if call.event not in documented
    )
    assert missing == []


def test_every_listed_event_is_still_emitted() -> None:
    """A removed or reworded log line takes its row with it."""
    emitted = {call.event for call in log_calls()}
    assert sorted(documented_events() - emitted) == []

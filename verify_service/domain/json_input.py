"""JSON from a caller, read one way wherever the service takes it: a request body, a JSON
string in a form field (`TemplateCustomSubstitutions`, `RateLimits`, `Metadata`…), a
passkey's client data, a gateway's delivery receipt.

RFC 8259 as I-JSON (RFC 7493) restricts it, refused with 60200 naming the parameter and
never echoing a value:
- a key given more than once in one object, at any depth, even with the same value
  (I-JSON 2.3: MUST NOT). Parsers disagree on which value such an object means (Python's
  keeps the last, others the first or refuse), so a check and a later reader could act on
  different values; no JSON encoder writes one, so only a hand-made payload is refused. The
  form rule lets identical repeats pass because SDKs repeat list keys; JSON has arrays.
- `NaN`, `Infinity`, `-Infinity`: Python's parser takes them, JSON has none (RFC 8259 6);
  nor a number past a float's range (`1e999`, read as infinity).
- a lone surrogate (`"\\ud800"`, I-JSON 2.1): no UTF-8 encoder (SMTP, HTTP, the outbox)
  writes one.
- nesting deeper than `MAX_JSON_DEPTH`, checked before parsing so that it is never a
  RecursionError (a 500) in the parser or in a later `json.dumps`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from verify_service.domain.errors import InvalidParameter

# The deepest caller JSON needs 4 levels (in a JSON body: `Templates` → entry →
# substitutions, a passkey's `config` → `relying_party` → `origins`); 32 leaves room and
# stays far below the interpreter's stack.
MAX_JSON_DEPTH = 32
# A request body's parameter when no top-level key can be named.
BODY = "body"

# A JSON key is named in an error only when it has the shape of a parameter name (Twilio's
# `FriendlyName`, `Passkeys.RelyingParty.Id`, the Passkeys routes' `friendly_name`): any
# other key is the caller's text (an e-mail address, a phone number) and is never echoed.
PARAMETER_NAME = re.compile(
    r"[A-Z][A-Za-z]{0,40}(?:\.[A-Z][A-Za-z]{0,40}){0,3}|[a-z]{1,24}(?:_[a-z]{1,24}){0,3}"
)

DUPLICATE_KEY = "a key given more than once in one object"
NOT_A_NUMBER = "NaN and Infinity are not JSON"
LONE_SURROGATE = "not valid Unicode (a lone surrogate)"
NESTED_TOO_DEEPLY = "JSON nested too deeply"
NOT_JSON = "not JSON"

# A string, its closing quote optional: an unterminated one is then removed once rather
# than retried from each quote inside it (linear time, whatever the text).
_STRING = re.compile(r'"(?:[^"\\]+|\\.)*"?', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


class _Refused(dict[str, Any]):
    """Stands where the parser met something refused; found by `_problem` after parsing,
    so that a request body's error can name the top-level key it sits under."""

    def __init__(self, reason: str, key: str = "") -> None:
        super().__init__()
        self.reason = reason
        self.key = key  # the key given twice


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, item in pairs:
        if key in found:
            return _Refused(DUPLICATE_KEY, key)
        found[key] = item
    return found


def _constant(_name: str) -> _Refused:
    return _Refused(NOT_A_NUMBER)


def _number(text: str) -> float | _Refused:
    """A JSON number with a fraction or an exponent; one past a float's range (`1e999`,
    which Python reads as infinity) is refused like `Infinity`."""
    number = float(text)
    return number if math.isfinite(number) else _Refused(NOT_A_NUMBER)


def nested_at_most(text: str, limit: int) -> bool:
    """Whether JSON `text` nests objects/arrays at most `limit` deep (brackets inside
    strings do not count); no recursion."""
    depth = 0
    for bracket in _NOT_A_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return False
    return True


def parse_json(text: str | bytes, parameter: str) -> Any:
    """`text` parsed, or InvalidParameter naming `parameter` and why. For a request body
    (`parameter` is `BODY`), a problem under a top-level key shaped like a parameter name
    names that key."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")  # RFC 8259 8.1: UTF-8; a BOM MAY be ignored
        except UnicodeDecodeError:
            raise InvalidParameter(parameter, NOT_JSON) from None
    if not nested_at_most(text, MAX_JSON_DEPTH):
        raise InvalidParameter(parameter, NESTED_TOO_DEEPLY)
    try:
        value = json.loads(
            text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_number
        )
    except ValueError:
        raise InvalidParameter(parameter, NOT_JSON) from None
    _refuse_problems(value, parameter)
    return value


def _refuse_problems(value: Any, parameter: str) -> None:
    if isinstance(value, _Refused):  # the top-level object itself
        named = parameter == BODY and PARAMETER_NAME.fullmatch(value.key)
        raise InvalidParameter(value.key if named else parameter, value.reason)
    if parameter != BODY or not isinstance(value, dict):
        reason = _problem(value)
        if reason:
            raise InvalidParameter(parameter, reason)
        return
    for name, item in value.items():
        reason = _problem(name) or _problem(item)
        if reason:
            shown = name if PARAMETER_NAME.fullmatch(name) else BODY
            raise InvalidParameter(shown, reason)


def _problem(value: Any) -> str | None:
    """Why `value` is refused (at any depth), or None; iterative."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, _Refused):
            return item.reason
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return LONE_SURROGATE
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None

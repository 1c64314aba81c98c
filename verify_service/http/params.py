"""Request parameters: form-encoded (Twilio's wire) or a JSON object with the same keys."""

from __future__ import annotations

import re
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from verify_service.domain.errors import InvalidParameter

# Form keys Twilio's SDKs repeat for a list (the views read them with `getlist`).
LIST_PARAMETERS = frozenset({"EventTypes", "Details.Fields", "Reason"})


def request_params() -> dict[str, Any]:
    """The request's parameters. A form key given more than once with different values is
    60200 naming it: keeping one value would ignore the other (`EnableSnaClientToken=false&
    EnableSnaClientToken=true`), and nothing is accepted and ignored (docs/parameters.md)."""
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # `[[[…]]]` deeper than the parser's stack: not a 500
            raise InvalidParameter("body", "JSON nested too deeply") from None
        if not isinstance(body, dict):
            raise InvalidParameter("body", "a JSON object is required")
        _refuse_lone_surrogates(body)
        return body
    return _single_values(request.form)


def query_params() -> dict[str, str]:
    """The query string's parameters, a key given twice with different values being 60200
    as on a form body (`Status=pending&Status=approved` would filter by one, ignoring the
    other). A list's `Reason` is read on its own (mfa/deletion_reason.py)."""
    return _single_values(request.args)


def _single_values(given: MultiDict[str, str]) -> dict[str, str]:
    for name, values in given.lists():
        if len(set(values)) > 1 and name not in LIST_PARAMETERS:
            shown = name if _PARAMETER_NAME.fullmatch(name) else "body"
            raise InvalidParameter(shown, "given more than once with different values")
    return given.to_dict()


def load(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    """Validate with `schema`; the first bad field becomes 60200 naming its wire name and
    why, in the field's own words ("not JSON", "HJ and 32 hex digits"), never the value."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        messages = exc.messages
        name = next(iter(messages), "body") if isinstance(messages, dict) else "body"
        found = messages.get(name) if isinstance(messages, dict) else None
        reason = ""
        if isinstance(found, list) and found and isinstance(found[0], str):
            reason = found[0].rstrip(".")
        raise InvalidParameter(str(name), reason) from None
    return loaded


def _refuse_lone_surrogates(body: dict[str, Any]) -> None:
    """JSON's `\\ud800` escapes decode to lone surrogates, which no UTF-8 encoder (SMTP,
    HTTP, the outbox) will write: 60200 naming the parameter, as a form body cannot carry
    them at all."""
    for name, value in body.items():
        if not _is_utf8(name):
            raise InvalidParameter("body", "a parameter name is not valid Unicode")
        if not _is_utf8(value):
            shown = name if _PARAMETER_NAME.fullmatch(name) else "body"
            raise InvalidParameter(shown, "not valid Unicode (a lone surrogate)")


# A JSON key is named in an error only when it has the shape of a parameter name (Twilio's
# `FriendlyName`, `Passkeys.RelyingParty.Id`, the Passkeys routes' `friendly_name`): any
# other key is the caller's text (an e-mail address, a phone number) and is never echoed.
_PARAMETER_NAME = re.compile(
    r"[A-Z][A-Za-z]{0,40}(?:\.[A-Z][A-Za-z]{0,40}){0,3}|[a-z]{1,24}(?:_[a-z]{1,24}){0,3}"
)


def _is_utf8(value: Any) -> bool:
    """Every string in `value` (keys included, at any depth) encodes as UTF-8; iterative,
    so a deeply nested body cannot exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True

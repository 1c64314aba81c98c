"""Request parameters: form-encoded (Twilio's wire) or a JSON object with the same keys."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.json_input import BODY, PARAMETER_NAME, parse_json

# Form keys Twilio's SDKs repeat for a list (the views read them with `getlist`).
LIST_PARAMETERS = frozenset({"EventTypes", "Details.Fields", "Reason"})
# Twilio's dotted parameter families (`Whatsapp.From`, `Passkeys.RelyingParty.Id`…). A JSON
# body may nest them (`{"Whatsapp": {"From": …}}`): read as the dotted keys, never as one
# unknown key accepted and ignored (docs/parameters.md, "JSON bodies").
DOTTED_FAMILIES = frozenset(
    {"Binding", "Config", "Details", "Passkeys", "Push", "Totp", "Whatsapp"}
)


def request_params() -> dict[str, Any]:
    """The request's parameters. A form key given more than once with different values is
    60200 naming it: keeping one value would ignore the other (`EnableSnaClientToken=false&
    EnableSnaClientToken=true`), and nothing is accepted and ignored (docs/parameters.md).
    A JSON body is read by `parse_json`: a key given twice in it is 60200 too."""
    if request.is_json:
        body = parse_json(request.get_data(cache=True), BODY)
        if not isinstance(body, dict):
            raise InvalidParameter(BODY, "a JSON object is required")
        return _dotted_keys(body)
    return _single_values(request.form)


def _dotted_keys(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with each nested dotted family spread into its dotted keys: `{"Whatsapp":
    {"From": x}}` is `{"Whatsapp.From": x}`. A key given both ways is 60200 naming it, as a
    key given twice is."""
    found: dict[str, Any] = {}
    for key, value in body.items():
        if key in DOTTED_FAMILIES and isinstance(value, dict):
            for name, inner in _spread(key, value):
                if name in body or name in found:
                    shown = name if PARAMETER_NAME.fullmatch(name) else key
                    raise InvalidParameter(shown, "given both nested and dotted")
                found[name] = inner
        else:
            found[key] = value
    return found


def _spread(prefix: str, nested: dict[str, Any]) -> list[tuple[str, Any]]:
    spread: list[tuple[str, Any]] = []
    for key, value in nested.items():
        name = f"{prefix}.{key}"
        spread.extend(_spread(name, value) if isinstance(value, dict) else [(name, value)])
    return spread


def query_params() -> dict[str, str]:
    """The query string's parameters, a key given twice with different values being 60200
    as on a form body (`Status=pending&Status=approved` would filter by one, ignoring the
    other). A list's `Reason` is read on its own (mfa/deletion_reason.py)."""
    return _single_values(request.args)


def _single_values(given: MultiDict[str, str]) -> dict[str, str]:
    for name, values in given.lists():
        if len(set(values)) > 1 and name not in LIST_PARAMETERS:
            shown = name if PARAMETER_NAME.fullmatch(name) else BODY
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

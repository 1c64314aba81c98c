"""Request parameters: form-encoded (Twilio's wire) or a JSON object with the same keys."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from verify_service.domain.errors import InvalidParameter


def request_params() -> dict[str, Any]:
    """The request's parameters; a repeated form key keeps its first value."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidParameter("body", "a JSON object is required")
        return body
    return request.form.to_dict()


def load(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    """Validate with `schema`; the first bad field becomes 60200 naming its wire name."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        messages = exc.messages
        name = next(iter(messages), "body") if isinstance(messages, dict) else "body"
        raise InvalidParameter(str(name)) from None
    return loaded

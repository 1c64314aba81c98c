"""Request parameters of the Entity, Factor and Challenge routes (Twilio's wire names).
Types are checked here; a bad one is 60306 naming its parameter (`load_mfa`); ranges and
rules are the use cases'."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from verify_service.domain.errors import InvalidMfaRequest, InvalidParameter
from verify_service.domain.json_input import parse_json
from verify_service.domain.mfa.limits import (
    MAX_DETAILS_FIELDS,
    MAX_DETAILS_FIELDS_TEXT_LENGTH,
    MAX_DETAILS_MESSAGE_LENGTH,
    MAX_FIELD_LABEL_LENGTH,
    MAX_FIELD_VALUE_LENGTH,
    MAX_JSON_OBJECT_LENGTH,
)
from verify_service.domain.mfa.models import ChallengeStatus, DetailField, ListOrder
from verify_service.http.params import load
from verify_service.http.schemas import WireInteger


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class JsonObjectText(fields.Field[dict[str, Any]]):
    """A stringified JSON object of at most 1024 characters whose values are all strings
    (Twilio's `Metadata`, `HiddenDetails`: "a stringified JSON with only strings values"),
    or such an object in a JSON body."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        if len(text) > MAX_JSON_OBJECT_LENGTH:
            raise ValidationError("longer than 1024 characters")
        try:
            parsed = parse_json(text, self.data_key or "")
        except InvalidParameter as exc:
            raise ValidationError(exc.reason) from None
        if not isinstance(parsed, dict):
            raise ValidationError("not a JSON object")
        if not all(isinstance(item, str) for item in parsed.values()):
            raise ValidationError("must be a JSON object whose values are all strings")
        return parsed


class WireDateTime(fields.Field[int]):
    """An ISO 8601 date-time as the SDK sends it (`2026-01-01T10:00:00Z`) → epoch ms."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise ValidationError("not a date-time")
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError("not an ISO 8601 date-time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return int(when.timestamp() * 1000)


def _text(key: str, max_length: int = 256) -> fields.String:
    return fields.String(data_key=key, validate=validate.Length(max=max_length))


class EntityParams(_Lenient):
    identity = _text("Identity", 256)


class TotpConfigParams(_Lenient):
    config_time_step = WireInteger(data_key="Config.TimeStep")
    config_skew = WireInteger(data_key="Config.Skew")
    config_code_length = WireInteger(data_key="Config.CodeLength")
    config_alg = _text("Config.Alg", 16)


class NewFactorParams(TotpConfigParams):
    friendly_name = _text("FriendlyName", 1024)
    factor_type = _text("FactorType", 32)
    binding_secret = _text("Binding.Secret", 256)
    metadata = JsonObjectText(data_key="Metadata")


class UpdateFactorParams(TotpConfigParams):
    auth_payload = _text("AuthPayload", 64)
    friendly_name = _text("FriendlyName", 1024)


class NewChallengeParams(_Lenient):
    factor_sid = _text("FactorSid", 64)
    expiration_date = WireDateTime(data_key="ExpirationDate")
    details_message = _text("Details.Message", MAX_DETAILS_MESSAGE_LENGTH)
    hidden_details = JsonObjectText(data_key="HiddenDetails")
    auth_payload = _text("AuthPayload", 64)


class UpdateChallengeParams(_Lenient):
    auth_payload = _text("AuthPayload", 64)
    metadata = JsonObjectText(data_key="Metadata")


class ChallengeListParams(_Lenient):
    factor_sid = fields.String(
        data_key="FactorSid",
        validate=validate.Regexp(r"^YF[0-9a-fA-F]{32}\Z", error="must be a YF sid"),
    )
    status = fields.String(
        data_key="Status", validate=validate.OneOf([s.value for s in ChallengeStatus])
    )
    order = fields.String(data_key="Order", validate=validate.OneOf([o.value for o in ListOrder]))


def load_mfa(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    """`load`, with a bad parameter reported as Twilio's MFA 60306 naming it."""
    try:
        return load(schema, data)
    except InvalidMfaRequest:
        raise
    except InvalidParameter as exc:
        raise InvalidMfaRequest(exc.parameter, _reason(schema, data, exc.parameter)) from None


def _reason(schema: Schema, data: dict[str, Any], parameter: str) -> str:
    """Why `parameter` was refused, in the field's own words ("not JSON", "Not a valid
    integer."), so the answer says what to fix; never the value itself."""
    messages = schema.validate(data)
    found = messages.get(parameter) if isinstance(messages, dict) else None
    if isinstance(found, list) and found and isinstance(found[0], str):
        return found[0].rstrip(".")
    return ""


def detail_fields(values: list[Any]) -> tuple[DetailField, ...]:
    """`Details.Fields`: the SDK repeats the key, one stringified `{label, value}` object
    each; a JSON body may give a list of objects, and a single string may hold a list.
    Up to 20 fields, labels ≤ 36 and values ≤ 128 characters (Twilio)."""
    items: list[Any] = []
    for value in values:
        parsed = value
        if isinstance(value, str):
            if len(value) > MAX_DETAILS_FIELDS_TEXT_LENGTH:
                raise InvalidMfaRequest(
                    "Details.Fields", f"longer than {MAX_DETAILS_FIELDS_TEXT_LENGTH} characters"
                )
            try:
                parsed = parse_json(value, "Details.Fields")
            except InvalidParameter as exc:
                raise InvalidMfaRequest("Details.Fields", exc.reason) from None
        items.extend(parsed if isinstance(parsed, list) else [parsed])
    if len(items) > MAX_DETAILS_FIELDS:
        raise InvalidMfaRequest("Details.Fields", f"at most {MAX_DETAILS_FIELDS} fields")
    found = []
    for item in items:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("label"), str)
            or not isinstance(item.get("value"), str)
            or len(item["label"]) > MAX_FIELD_LABEL_LENGTH
            or len(item["value"]) > MAX_FIELD_VALUE_LENGTH
        ):
            raise InvalidMfaRequest(
                "Details.Fields",
                f"objects of a label (≤{MAX_FIELD_LABEL_LENGTH}) and a value"
                f" (≤{MAX_FIELD_VALUE_LENGTH}), both strings",
            )
        found.append(DetailField(item["label"], item["value"]))
    return tuple(found)

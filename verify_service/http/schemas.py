"""marshmallow schemas: wire names (PascalCase, dotted) to use-case names (snake_case).

Every parameter Twilio defines for an operation is a field here: it takes effect, or the
view or the domain refuses it naming it (docs/parameters.md: one row per parameter, each
with its test). A parameter Twilio does not define at all is ignored, as Twilio does (an
SDK newer than this service may send one); types are checked here, rules in the domain.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.json_input import parse_json
from verify_service.domain.messages.message_text import is_wire_safe


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class CommaList(fields.Field[tuple[str, ...]]):
    """A comma-separated list in a form field (or a JSON array)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = value
        elif isinstance(value, str):
            items = value.split(",")
        else:
            raise ValidationError("not a list")
        return tuple(item.strip() for item in items if item.strip())


class JsonObjectOrString(fields.Field[dict[str, Any]]):
    """A JSON object given as a JSON string (form body) or as an object (JSON body)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            try:
                value = parse_json(value, self.data_key or "")
            except InvalidParameter as exc:
                raise ValidationError(exc.reason) from None
        if not isinstance(value, dict):
            raise ValidationError("not a JSON object")
        return value


class WireInteger(fields.Integer):
    """An integer as Twilio sends it: digits in a form field, or a JSON integer.

    Refuses what `int()` would quietly truncate or coerce (6.7, "6.0", true).
    """

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool) or not (
            isinstance(value, int)
            or (isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,9}", value.strip()))
        ):
            raise self.make_error("invalid", input=value)
        return int(value)


# Twilio's SDKs send booleans as "true"/"false"; JSON bodies carry real booleans.
_TRUE = {"true", "True", True}
_FALSE = {"false", "False", False}


def _pattern(expression: str, error: str | None = None) -> validate.Regexp:
    """A whole-value match (marshmallow's Regexp uses re.match, where `$` allows a final
    newline); `error` says what is expected, in the 60200 message."""
    if error is None:
        return validate.Regexp(rf"\A(?:{expression})\Z")
    return validate.Regexp(rf"\A(?:{expression})\Z", error=error)


def _wire_safe(value: str) -> bool:
    """Text meant for a message carries no control or invisible formatting character."""
    if not is_wire_safe(value):
        raise ValidationError("control or invisible formatting characters")
    return True


def _text(key: str, max_length: int = 256) -> fields.String:
    return fields.String(data_key=key, validate=validate.Length(max=max_length))


class SidField(fields.String):
    """A sid as given, its hex digits lower-cased: sids are stored and looked up in lower
    case, so `HJABC…` finds the template `HJabc…` rather than "no such template"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        return text[:2] + text[2:].lower()


def _sid(key: str, prefix: str) -> SidField:
    expected = f"{prefix} and 32 hex digits"
    return SidField(data_key=key, validate=_pattern(rf"{prefix}[0-9a-fA-F]{{32}}", expected))


def _sid_or_empty(key: str, prefix: str) -> SidField:
    """A sid, or an empty value that clears the setting."""
    expected = f"{prefix} and 32 hex digits, or empty to clear it"
    return SidField(data_key=key, validate=_pattern(rf"(?:{prefix}[0-9a-fA-F]{{32}})?", expected))


def _flag(key: str) -> fields.Boolean:
    return fields.Boolean(data_key=key, truthy=_TRUE, falsy=_FALSE)


def _int(key: str) -> WireInteger:
    return WireInteger(data_key=key)


class ServiceParams(_Lenient):
    friendly_name = _text("FriendlyName")
    code_length = _int("CodeLength")
    lookup_enabled = _flag("LookupEnabled")
    skip_sms_to_landlines = _flag("SkipSmsToLandlines")
    dtmf_input_required = _flag("DtmfInputRequired")
    tts_name = _text("TtsName")
    psd2_enabled = _flag("Psd2Enabled")
    do_not_share_warning_enabled = _flag("DoNotShareWarningEnabled")
    custom_code_enabled = _flag("CustomCodeEnabled")
    push_include_date = _flag("Push.IncludeDate")
    push_apn_credential_sid = _sid("Push.ApnCredentialSid", "CR")
    push_fcm_credential_sid = _sid("Push.FcmCredentialSid", "CR")
    totp_issuer = _text("Totp.Issuer")
    totp_time_step = _int("Totp.TimeStep")
    totp_code_length = _int("Totp.CodeLength")
    totp_skew = _int("Totp.Skew")
    default_template_sid = _sid_or_empty("DefaultTemplateSid", "HJ")  # empty: built-in wording
    whatsapp_msg_service_sid = _sid_or_empty("Whatsapp.MsgServiceSid", "MG")  # empty: global
    whatsapp_from = _text("Whatsapp.From")
    passkeys_relying_party_id = _text("Passkeys.RelyingParty.Id")
    passkeys_relying_party_name = _text("Passkeys.RelyingParty.Name")
    passkeys_relying_party_origins = CommaList(data_key="Passkeys.RelyingParty.Origins")
    passkeys_authenticator_attachment = _text("Passkeys.AuthenticatorAttachment")
    passkeys_discoverable_credentials = _text("Passkeys.DiscoverableCredentials")
    passkeys_user_verification = _text("Passkeys.UserVerification")
    verify_event_subscription_enabled = _flag("VerifyEventSubscriptionEnabled")
    verification_ttl_seconds = _int("VerificationTtlSeconds")
    webotp_domain = fields.String(data_key="WebOtpDomain", validate=validate.Length(max=64))
    # Channel fallback (extension): channel names are checked by the domain rules (60200).
    fallback_channels = CommaList(data_key="FallbackChannels")
    fallback_after_seconds = _int("FallbackAfterSeconds")
    # Abuse protection (extensions): ranges and JSON shapes are checked by the domain rules.
    sends_per_destination_per_hour = _int("SendsPerDestinationPerHour")
    sends_per_destination_per_day = _int("SendsPerDestinationPerDay")
    checks_per_destination_per_hour = _int("ChecksPerDestinationPerHour")
    starts_per_service_per_minute = _int("StartsPerServicePerMinute")
    starts_per_device_ip_per_hour = _int("StartsPerDeviceIpPerHour")
    daily_send_cap = _int("DailySendCap")
    daily_country_send_cap = _int("DailyCountrySendCap")
    daily_email_send_cap = _int("DailyEmailSendCap")
    geo_permissions = fields.Raw(data_key="GeoPermissions")
    fraud_guard_mode = _text("FraudGuardMode", 16)
    fraud_guard_min_sends = _int("FraudGuardMinSends")
    fraud_guard_min_approval_rate = _int("FraudGuardMinApprovalRate")
    fraud_guard_window_seconds = _int("FraudGuardWindowSeconds")
    fraud_guard_cooldown_seconds = _int("FraudGuardCooldownSeconds")
    test_destinations = fields.Raw(data_key="TestDestinations")


class StartParams(_Lenient):
    to = fields.String(data_key="To", required=True, validate=validate.Length(min=1, max=320))
    channel = fields.String(data_key="Channel", required=True)
    custom_friendly_name = _text("CustomFriendlyName")
    custom_code = _text("CustomCode", 10)
    locale = _text("Locale", 16)
    amount = _text("Amount", 64)
    payee = _text("Payee", 64)
    # Android SMS Retriever app hash: 11 characters of base64.
    app_hash = fields.String(data_key="AppHash", validate=_pattern(r"[A-Za-z0-9+/]{11}"))
    tags = JsonObjectOrString(data_key="Tags")
    rate_limits = JsonObjectOrString(data_key="RateLimits")
    device_ip = fields.IP(data_key="DeviceIp")
    risk_check = fields.String(data_key="RiskCheck", validate=validate.OneOf(["enable", "disable"]))
    # Checked here (a malformed one is 60200); what each one does, or why it is refused
    # (60204 naming it), is docs/parameters.md.
    channel_configuration = JsonObjectOrString(data_key="ChannelConfiguration")
    template_custom_substitutions = JsonObjectOrString(data_key="TemplateCustomSubstitutions")
    send_digits = fields.String(data_key="SendDigits", validate=_pattern(r"[0-9wW#*]{1,32}"))
    template_sid = _sid("TemplateSid", "HJ")
    # SDK 9.13: a JSON array of {sid, substitutions} (application/templates/choice.py).
    templates = fields.Raw(data_key="Templates")
    # Silent Network Auth is not offered: `true` is 60204 (verifications_api.py).
    enable_sna_client_token = _flag("EnableSnaClientToken")
    # Refused (60204, deprecated by Twilio: templates replace it); still text meant for a
    # message, so a control character is the 60200 it always was (docs/messages.md).
    custom_message = fields.String(
        data_key="CustomMessage", validate=[validate.Length(max=1600), _wire_safe]
    )


class CheckParams(_Lenient):
    code = fields.String(data_key="Code", required=True)
    to = fields.String(data_key="To", validate=validate.Length(min=1, max=320))
    verification_sid = _sid("VerificationSid", "VE")
    amount = _text("Amount", 64)
    payee = _text("Payee", 64)
    # Silent Network Auth is not offered: any token is 60204 (verifications_api.py).
    sna_client_token = _text("SnaClientToken", 4096)


class UpdateVerificationParams(_Lenient):
    status = fields.String(
        data_key="Status", required=True, validate=validate.OneOf(["canceled", "approved"])
    )


def _no_page_token(_value: str) -> bool:
    raise ValidationError("this list pages by Page; its next_page_url carries no PageToken")


class PageParams(_Lenient):
    """A list paged by `Page` and `PageSize`: it never hands out a `PageToken`, so one given
    is not this list's (60200 naming it) rather than silently ignored."""

    page_size = WireInteger(data_key="PageSize", load_default=50, validate=validate.Range(1, 1000))
    page = WireInteger(data_key="Page", load_default=0, validate=validate.Range(0, 1_000_000))
    page_token = fields.String(data_key="PageToken", validate=_no_page_token)


class TokenPageParams(PageParams):
    """A list whose next_page_url carries a `PageToken` (the audit log)."""

    page_token = _text("PageToken")


class CreateRateLimitParams(_Lenient):
    # Required and its format (60209) are the domain's rules, so no length check here.
    unique_name = fields.String(data_key="UniqueName")
    description = _text("Description")


class UpdateRateLimitParams(_Lenient):
    description = _text("Description")


class BucketParams(_Lenient):
    # Required on create; ranges are the domain's rules (60200 naming the parameter).
    max = _int("Max")
    interval = _int("Interval")


class SafeListParams(_Lenient):
    # E.164 validity is the domain's rule (normalize_phone); required: a missing one is 60200.
    phone_number = fields.String(
        data_key="PhoneNumber", required=True, validate=validate.Length(max=64)
    )


class ApiKeyParams(_Lenient):
    # Role's values are the use case's rule (ROLES), so a bad one is 60200 naming `Role`.
    friendly_name = fields.String(
        data_key="FriendlyName", load_default=None, validate=validate.Length(max=64)
    )
    role = fields.String(data_key="Role", required=True)


class EpochMillis(fields.Field[int]):
    """An ISO 8601 date-time (Twilio's `yyyy-MM-ddTHH:mm:ssZ`; an offset is honoured, none
    means UTC) as epoch milliseconds."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError("not a date-time")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError("not a date-time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)


def _lower_choice(key: str, choices: list[str]) -> fields.String:
    """Twilio's enum values in any case (its docs write `CONVERTED`, its SDK `converted`)."""
    return fields.String(
        data_key=key, validate=lambda value: value.lower() in choices or _refuse(value)
    )


def _refuse(_value: str) -> bool:
    raise ValidationError("not one of the allowed values")


class AttemptFilterParams(_Lenient):
    """Filters `/v2/Attempts` and `/v2/Attempts/Summary` share."""

    verify_service_sid = _sid("VerifyServiceSid", "VA")
    date_created_after = EpochMillis(data_key="DateCreatedAfter")
    date_created_before = EpochMillis(data_key="DateCreatedBefore")
    country = fields.String(data_key="Country", validate=_pattern(r"[A-Za-z]{2}"))
    channel = _lower_choice("Channel", ["sms", "call", "email", "whatsapp", "rbm"])


class AttemptSummaryParams(AttemptFilterParams):
    destination_prefix = fields.String(
        data_key="DestinationPrefix", validate=_pattern(r"\+?[0-9]{1,15}")
    )


class AttemptListParams(AttemptFilterParams):
    to = fields.String(data_key="ChannelData.To", validate=validate.Length(min=1, max=320))
    verification_sid = _sid("VerificationSid", "VE")
    status = _lower_choice("Status", ["converted", "unconverted"])
    page_size = WireInteger(data_key="PageSize", load_default=50, validate=validate.Range(1, 1000))
    page = WireInteger(data_key="Page", load_default=0, validate=validate.Range(0, 1_000_000))
    page_token = fields.String(data_key="PageToken", validate=validate.Length(max=64))

"""A Verify Service: the configuration every verification of it follows."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from verify_service.domain.codes import DEFAULT_CODE_LENGTH, MAX_CODE_LENGTH, MIN_CODE_LENGTH
from verify_service.domain.delivery.fallback import (
    DEFAULT_FALLBACK_AFTER_SECONDS,
    MAX_FALLBACK_AFTER_SECONDS,
    MIN_FALLBACK_AFTER_SECONDS,
    parse_fallback_channels,
)
from verify_service.domain.errors import FeatureNotEnabled, InvalidParameter
from verify_service.domain.messages.message_text import MAX_NAME_LENGTH, require_name
from verify_service.domain.models import (
    DEFAULT_TTL_SECONDS,
    MAX_TTL_SECONDS,
    MIN_TTL_SECONDS,
    Channel,
)
from verify_service.domain.protection.geo_permissions import GeoPermissions
from verify_service.domain.protection.protection_settings import (
    DEFAULT_CHECKS_PER_DESTINATION_PER_HOUR,
    DEFAULT_DAILY_COUNTRY_SEND_CAP,
    DEFAULT_DAILY_EMAIL_SEND_CAP,
    DEFAULT_DAILY_SEND_CAP,
    DEFAULT_FRAUD_GUARD_COOLDOWN_SECONDS,
    DEFAULT_FRAUD_GUARD_MIN_APPROVAL_RATE,
    DEFAULT_FRAUD_GUARD_MIN_SENDS,
    DEFAULT_FRAUD_GUARD_WINDOW_SECONDS,
    DEFAULT_SENDS_PER_DESTINATION_PER_DAY,
    DEFAULT_SENDS_PER_DESTINATION_PER_HOUR,
    DEFAULT_STARTS_PER_DEVICE_IP_PER_HOUR,
    DEFAULT_STARTS_PER_SERVICE_PER_MINUTE,
    FraudGuardMode,
    validate_protection_changes,
)
from verify_service.domain.routing.routing import MessagingConfiguration

# Twilio: "up to 30 characters"; the name is sent in every message, so links are refused
# (a friendly name is a phishing vector in an SMS body): domain/messages/message_text.py.
MAX_FRIENDLY_NAME_LENGTH = MAX_NAME_LENGTH


@dataclass(frozen=True, slots=True)
class Service:
    """Every field Twilio defines for a Service, plus the `verification_ttl_seconds` and
    channel fallback (`fallback_channels`, `fallback_after_seconds`) extensions.

    What each one does, or why it is refused, is docs/parameters.md. Honoured: the name,
    code length, lookup, PSD2, landline and do-not-share settings, custom codes, the TOTP
    and passkey settings, `tts_name` (the name a call says), `default_template_sid` (the
    template of the service's messages), `whatsapp_msg_service_sid` and `whatsapp_from`
    (the WhatsApp route and sender), `messaging_configurations` (a route per country) and
    the extensions below. Refused away from their defaults, their fields kept so that a
    service stored by an earlier version still reads: the push settings and
    `verify_event_subscription_enabled` (`refuse_not_offered`), `dtmf_input_required`
    (`_require_call_settings`).
    """

    sid: str
    friendly_name: str
    date_created_ms: int
    date_updated_ms: int
    code_length: int = DEFAULT_CODE_LENGTH
    lookup_enabled: bool = False
    psd2_enabled: bool = False
    skip_sms_to_landlines: bool = False
    dtmf_input_required: bool = False
    tts_name: str | None = None
    do_not_share_warning_enabled: bool = False
    custom_code_enabled: bool = False
    push_include_date: bool = False
    push_apn_credential_sid: str | None = None
    push_fcm_credential_sid: str | None = None
    totp_issuer: str | None = None
    totp_time_step: int | None = None
    totp_code_length: int | None = None
    totp_skew: int | None = None
    default_template_sid: str | None = None
    whatsapp_msg_service_sid: str | None = None
    whatsapp_from: str | None = None
    passkeys_relying_party_id: str | None = None
    passkeys_relying_party_name: str | None = None
    passkeys_relying_party_origins: tuple[str, ...] | None = None
    passkeys_authenticator_attachment: str | None = None
    passkeys_discoverable_credentials: str | None = None
    passkeys_user_verification: str | None = None
    verify_event_subscription_enabled: bool = False
    verification_ttl_seconds: int = DEFAULT_TTL_SECONDS
    fallback_channels: tuple[Channel, ...] = ()
    fallback_after_seconds: int = DEFAULT_FALLBACK_AFTER_SECONDS
    webotp_domain: str | None = None
    # Abuse protection (extensions; docs/abuse-protection.md). 0 turns a limit off.
    sends_per_destination_per_hour: int = DEFAULT_SENDS_PER_DESTINATION_PER_HOUR
    sends_per_destination_per_day: int = DEFAULT_SENDS_PER_DESTINATION_PER_DAY
    checks_per_destination_per_hour: int = DEFAULT_CHECKS_PER_DESTINATION_PER_HOUR
    starts_per_service_per_minute: int = DEFAULT_STARTS_PER_SERVICE_PER_MINUTE
    starts_per_device_ip_per_hour: int = DEFAULT_STARTS_PER_DEVICE_IP_PER_HOUR
    daily_send_cap: int = DEFAULT_DAILY_SEND_CAP
    daily_country_send_cap: int = DEFAULT_DAILY_COUNTRY_SEND_CAP
    daily_email_send_cap: int = DEFAULT_DAILY_EMAIL_SEND_CAP
    geo_permissions: dict[str, Any] = dataclasses.field(default_factory=dict)
    fraud_guard_mode: str = FraudGuardMode.BLOCK.value
    fraud_guard_min_sends: int = DEFAULT_FRAUD_GUARD_MIN_SENDS
    fraud_guard_min_approval_rate: int = DEFAULT_FRAUD_GUARD_MIN_APPROVAL_RATE
    fraud_guard_window_seconds: int = DEFAULT_FRAUD_GUARD_WINDOW_SECONDS
    fraud_guard_cooldown_seconds: int = DEFAULT_FRAUD_GUARD_COOLDOWN_SECONDS
    # Destination -> fixed code; honoured only with VERIFY_ALLOW_TEST_DESTINATIONS=true.
    test_destinations: tuple[tuple[str, str], ...] = ()
    # Per-country routes (Twilio's MessagingConfigurations), by country; stored as fields
    # of the service's own hash (`mc:<country>`, CONFIGURATION_FIELD_PREFIX) so that a
    # start's read of the service carries them, never written by a service update.
    messaging_configurations: tuple[MessagingConfiguration, ...] = ()

    @property
    def geo(self) -> GeoPermissions:
        return _geo_permissions(json.dumps(self.geo_permissions, sort_keys=True))

    def test_code_for(self, destination: str) -> str | None:
        """The fixed code of `destination` (normalised) if it is exactly a test destination.
        Never by identity: `qa+1@corp.com` as a test destination must not turn the real
        `qa@corp.com` into one (docs/abuse-protection.md)."""
        for test_destination, code in self.test_destinations:
            if test_destination == destination:
                return code
        return None

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Service:
        """Build from stored values, ignoring fields this version does not know."""
        known = {k: v for k, v in values.items() if k in _SERVICE_FIELDS}
        known["messaging_configurations"] = _configurations(values)
        origins = known.get("passkeys_relying_party_origins")
        if origins is not None:
            known["passkeys_relying_party_origins"] = tuple(origins)
        if "fallback_channels" in known:
            known["fallback_channels"] = tuple(Channel(c) for c in known["fallback_channels"])
        if "test_destinations" in known:
            known["test_destinations"] = tuple(
                (str(d), str(c)) for d, c in known["test_destinations"]
            )
        return cls(**known)


CONFIGURATION_FIELD_PREFIX = "mc:"
CREATED_SUFFIX = ":created"


def configuration_fields(country: str) -> tuple[str, str]:
    """The service hash's fields of one MessagingConfiguration: `[route sid, updated ms]`
    and its creation time (apart, so an update is one HSET, no JSON parsed in Lua)."""
    field = f"{CONFIGURATION_FIELD_PREFIX}{country}"
    return field, field + CREATED_SUFFIX


def _configurations(values: dict[str, Any]) -> tuple[MessagingConfiguration, ...]:
    found = []
    for name, value in values.items():
        if not name.startswith(CONFIGURATION_FIELD_PREFIX) or name.endswith(CREATED_SUFFIX):
            continue
        country = name.removeprefix(CONFIGURATION_FIELD_PREFIX)
        route_sid, updated_ms = value
        created_ms = values.get(name + CREATED_SUFFIX, updated_ms)
        found.append(
            MessagingConfiguration(country, str(route_sid), int(created_ms), int(updated_ms))
        )
    return tuple(sorted(found, key=lambda c: c.country))


@functools.lru_cache(maxsize=256)
def _geo_permissions(stored: str) -> GeoPermissions:
    return GeoPermissions.from_json(json.loads(stored))


_SERVICE_FIELDS = frozenset(f.name for f in dataclasses.fields(Service))


# Settings of features this service does not offer (docs/parameters.md): their defaults are
# accepted (an SDK may send them), any other value is 60204 naming the parameter.
_NOT_OFFERED: tuple[tuple[str, str, str], ...] = (
    ("push_include_date", "Push.IncludeDate", "push factors are not offered"),
    ("push_apn_credential_sid", "Push.ApnCredentialSid", "push factors are not offered"),
    ("push_fcm_credential_sid", "Push.FcmCredentialSid", "push factors are not offered"),
    (
        "verify_event_subscription_enabled",
        "VerifyEventSubscriptionEnabled",
        "Twilio Event Streams are not offered; subscribe a webhook (/v2/Services/{VA}/Webhooks)",
    ),
)


def refuse_not_offered(changes: dict[str, Any]) -> None:
    """60204 naming the first setting of a feature not offered that is set away from its
    default (False, or no credential)."""
    for name, wire, why in _NOT_OFFERED:
        if changes.get(name) not in (None, False):
            raise FeatureNotEnabled(f"{wire} ({why})")


def validate_service_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Check the honoured parameters' ranges; returns `changes` unchanged when valid."""
    refuse_not_offered(changes)
    if "friendly_name" in changes:
        changes["friendly_name"] = require_name(str(changes["friendly_name"]), "FriendlyName")
    _require_call_settings(changes)
    if "code_length" in changes and not (
        MIN_CODE_LENGTH <= changes["code_length"] <= MAX_CODE_LENGTH
    ):
        raise InvalidParameter("CodeLength", "4-10")
    if "verification_ttl_seconds" in changes and not (
        MIN_TTL_SECONDS <= changes["verification_ttl_seconds"] <= MAX_TTL_SECONDS
    ):
        raise InvalidParameter("VerificationTtlSeconds", "60-86400")
    if "fallback_channels" in changes:
        changes["fallback_channels"] = parse_fallback_channels(changes["fallback_channels"])
    if "webotp_domain" in changes:
        changes["webotp_domain"] = _webotp_domain(changes["webotp_domain"])
    _require_range(
        changes,
        "fallback_after_seconds",
        "FallbackAfterSeconds",
        MIN_FALLBACK_AFTER_SECONDS,
        MAX_FALLBACK_AFTER_SECONDS,
    )
    _require_range(changes, "totp_time_step", "Totp.TimeStep", 20, 60)
    _require_range(changes, "totp_code_length", "Totp.CodeLength", 3, 8)
    _require_range(changes, "totp_skew", "Totp.Skew", 0, 2)
    validate_protection_changes(changes)
    return changes


# A bare host name (RFC 1123 labels, at least two), as the WebOTP line `@host #code` needs;
# at most 30 characters, the length every SMS template's segment budget was checked with
# (docs/messages.md), so no service setting can push a message past its parts.
_HOST_NAME = re.compile(
    r"(?=.{4,30}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
)


def _webotp_domain(value: str) -> str | None:
    """`WebOtpDomain`: empty turns the line off; otherwise a lower-cased bare host name."""
    host = value.strip().lower()
    if not host:
        return None
    if not _HOST_NAME.fullmatch(host):
        raise InvalidParameter("WebOtpDomain", "a bare host name of at most 30 characters")
    return host


def _require_call_settings(changes: dict[str, Any]) -> None:
    """`TtsName`: the name a call says (the name rules; empty clears it). `DtmfInputRequired`:
    no provider here can wait for a key press before the code is read (TwiML sent inline has
    no URL for `<Gather>` to report to), so `true` is refused as not offered (60204)."""
    if changes.get("tts_name") is not None:
        name = str(changes["tts_name"])
        changes["tts_name"] = require_name(name, "TtsName") if name.strip() else None
    if changes.get("dtmf_input_required"):
        raise FeatureNotEnabled("DtmfInputRequired (no call here waits for a key press)")


def _require_range(changes: dict[str, Any], name: str, wire: str, low: int, high: int) -> None:
    value = changes.get(name)
    if value is not None and not low <= value <= high:
        raise InvalidParameter(wire, f"{low}-{high}")

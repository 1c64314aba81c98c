"""The abuse-protection settings of a service (extension parameters) and their rules.

Every limit is a count per window; 0 turns that limit off. Defaults are safe for a typical
sign-up or login flow and are documented in docs/abuse-protection.md.
"""

from __future__ import annotations

import enum
from typing import Any

from verify_service.domain.codes import require_code_shape
from verify_service.domain.destinations import normalize_any_destination
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.json_input import parse_json
from verify_service.domain.protection.geo_permissions import parse_geo_permissions

DEFAULT_SENDS_PER_DESTINATION_PER_HOUR = 10
DEFAULT_SENDS_PER_DESTINATION_PER_DAY = 25
DEFAULT_CHECKS_PER_DESTINATION_PER_HOUR = 20
DEFAULT_STARTS_PER_SERVICE_PER_MINUTE = 1000
DEFAULT_STARTS_PER_DEVICE_IP_PER_HOUR = 30
DEFAULT_DAILY_SEND_CAP = 10_000
DEFAULT_DAILY_COUNTRY_SEND_CAP = 1_000
DEFAULT_DAILY_EMAIL_SEND_CAP = 10_000

DEFAULT_FRAUD_GUARD_MIN_SENDS = 20
DEFAULT_FRAUD_GUARD_MIN_APPROVAL_RATE = 20  # percent
DEFAULT_FRAUD_GUARD_WINDOW_SECONDS = 3_600
DEFAULT_FRAUD_GUARD_COOLDOWN_SECONDS = 43_200  # 12 hours, as Twilio's Fraud Guard blocks

# A moving window keeps one entry per counted event, so its Max bounds its memory.
MAX_LIMIT = 100_000
MAX_TEST_DESTINATIONS = 20


class FraudGuardMode(enum.StrEnum):
    BLOCK = "block"  # trip, then refuse sends to the prefix for the cool-down
    MONITOR = "monitor"  # record what would have been blocked; refuse nothing
    OFF = "off"


# (field, wire name, low, high)
_COUNT_FIELDS: tuple[tuple[str, str, int, int], ...] = (
    ("sends_per_destination_per_hour", "SendsPerDestinationPerHour", 0, MAX_LIMIT),
    ("sends_per_destination_per_day", "SendsPerDestinationPerDay", 0, MAX_LIMIT),
    ("checks_per_destination_per_hour", "ChecksPerDestinationPerHour", 0, MAX_LIMIT),
    ("starts_per_service_per_minute", "StartsPerServicePerMinute", 0, MAX_LIMIT),
    ("starts_per_device_ip_per_hour", "StartsPerDeviceIpPerHour", 0, MAX_LIMIT),
    ("daily_send_cap", "DailySendCap", 0, MAX_LIMIT),
    ("daily_country_send_cap", "DailyCountrySendCap", 0, MAX_LIMIT),
    ("daily_email_send_cap", "DailyEmailSendCap", 0, MAX_LIMIT),
    ("fraud_guard_min_sends", "FraudGuardMinSends", 1, 10_000),
    ("fraud_guard_min_approval_rate", "FraudGuardMinApprovalRate", 0, 100),
    ("fraud_guard_window_seconds", "FraudGuardWindowSeconds", 600, 86_400),
    ("fraud_guard_cooldown_seconds", "FraudGuardCooldownSeconds", 60, 7 * 86_400),
)


def validate_protection_changes(changes: dict[str, Any]) -> None:
    """Check and normalise the protection parameters present in `changes`, in place."""
    for name, wire, low, high in _COUNT_FIELDS:
        value = changes.get(name)
        if value is not None and not low <= value <= high:
            raise InvalidParameter(wire, f"{low}-{high}")
    if "fraud_guard_mode" in changes:
        try:
            changes["fraud_guard_mode"] = FraudGuardMode(changes["fraud_guard_mode"]).value
        except ValueError:
            raise InvalidParameter("FraudGuardMode", "block, monitor or off") from None
    if "geo_permissions" in changes:
        changes["geo_permissions"] = parse_geo_permissions(changes["geo_permissions"]).to_json()
    if "test_destinations" in changes:
        changes["test_destinations"] = parse_test_destinations(changes["test_destinations"])


def parse_test_destinations(value: Any) -> tuple[tuple[str, str], ...]:
    """`{"+15005550006": "123456", "qa@example.com": "0000"}` (JSON string or object):
    destinations that receive nothing and check against their fixed code."""
    if isinstance(value, str):
        value = parse_json(value, "TestDestinations") if value.strip() else {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameter("TestDestinations", "a JSON object of destination: code")
    if len(value) > MAX_TEST_DESTINATIONS:
        raise InvalidParameter("TestDestinations", f"at most {MAX_TEST_DESTINATIONS}")
    pairs: dict[str, str] = {}
    for destination, code in value.items():
        try:
            normalized = normalize_any_destination(destination)
        except InvalidParameter:
            raise InvalidParameter("TestDestinations", "a destination is not valid") from None
        pairs[normalized] = require_code_shape(code, "TestDestinations")
    return tuple(sorted(pairs.items()))

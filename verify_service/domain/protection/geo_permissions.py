"""Geo permissions: which destination countries each phone channel may reach.

Per channel (sms, call, whatsapp) a service may give `allowed` (only these countries) and/or
`blocked` (never these). Without `blocked`, the default high-risk list below is blocked; a
service re-enables a country of it by naming it in `allowed`, or re-enables them all with
`"blocked": []`. The country is the number's (from `phonenumbers`), never the caller's IP.
E-mail has no country and is not governed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import phonenumbers

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.json_input import parse_json
from verify_service.domain.models import Channel

WIRE_NAME = "GeoPermissions"

GOVERNED_CHANNELS = (Channel.SMS, Channel.CALL, Channel.WHATSAPP)

# Blocked unless a service re-enables them: destinations public SMS-pumping and IRSF
# (international revenue share fraud) reports name again and again for artificially
# inflated traffic, where a legitimate service rarely has users. Review it against your
# own traffic (docs/abuse-protection.md); it is a default, not a judgement of a country.
DEFAULT_HIGH_RISK_COUNTRIES: frozenset[str] = frozenset(
    {"AZ", "BY", "CU", "KG", "KP", "MM", "SO", "TJ", "TM", "UZ"}
)

_KNOWN_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
NON_GEOGRAPHIC = "001"


@dataclass(frozen=True, slots=True)
class ChannelGeoRule:
    allowed: frozenset[str] | None = None
    blocked: frozenset[str] | None = None

    def permits(self, country: str) -> bool:
        if country == NON_GEOGRAPHIC and (self.allowed is None or country not in self.allowed):
            return False  # global ranges (+800, +882...) only where allowed by name
        blocked = DEFAULT_HIGH_RISK_COUNTRIES if self.blocked is None else self.blocked
        if self.allowed is not None:
            return country in self.allowed and (self.blocked is None or country not in self.blocked)
        return country not in blocked

    def to_json(self) -> dict[str, list[str] | None]:
        return {
            "allowed": sorted(self.allowed) if self.allowed is not None else None,
            "blocked": sorted(self.blocked) if self.blocked is not None else None,
        }


@dataclass(frozen=True, slots=True)
class GeoPermissions:
    """The per-channel rules of a service; a channel not named follows the defaults."""

    rules: tuple[tuple[Channel, ChannelGeoRule], ...] = ()

    def rule(self, channel: Channel) -> ChannelGeoRule:
        for named, rule in self.rules:
            if named is channel:
                return rule
        return ChannelGeoRule()

    def permits(self, channel: Channel, country: str | None) -> bool:
        """True when `channel` may send to `country`. A number with no country (a global
        service range such as +882) is allowed only where a rule allows the pseudo-code
        `001` explicitly."""
        if channel not in GOVERNED_CHANNELS:
            return True
        return self.rule(channel).permits(country or NON_GEOGRAPHIC)

    def to_json(self) -> dict[str, Any]:
        return {channel.value: rule.to_json() for channel, rule in self.rules}

    @classmethod
    def from_json(cls, value: Any) -> GeoPermissions:
        """From the stored (already validated) form; see `parse_geo_permissions`."""
        return parse_geo_permissions(value or {})


def _countries(value: Any, field: str) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise InvalidParameter(WIRE_NAME, f"{field} must be a list of ISO 3166 alpha-2 codes")
    codes = frozenset(c.strip().upper() for c in value)
    unknown = sorted(c for c in codes if c not in _KNOWN_REGIONS and c != NON_GEOGRAPHIC)
    if unknown:
        raise InvalidParameter(WIRE_NAME, f"unknown country code {unknown[0]}")
    return codes


def parse_geo_permissions(value: Any) -> GeoPermissions:
    """`{"sms": {"allowed": [...], "blocked": [...]}, "call": {...}, "whatsapp": {...}}`,
    as a JSON string or an object; every key optional, anything else a 60200."""
    if isinstance(value, str):
        value = parse_json(value, WIRE_NAME) if value.strip() else {}
    if not isinstance(value, dict):
        raise InvalidParameter(WIRE_NAME, "a JSON object keyed by channel")
    governed = {channel.value: channel for channel in GOVERNED_CHANNELS}
    rules: list[tuple[Channel, ChannelGeoRule]] = []
    for name, body in sorted(value.items()):
        channel = governed.get(name)
        if channel is None:
            raise InvalidParameter(WIRE_NAME, f"channel must be one of {', '.join(governed)}")
        if not isinstance(body, dict) or set(body) - {"allowed", "blocked"}:
            raise InvalidParameter(WIRE_NAME, "each channel takes `allowed` and/or `blocked`")
        rules.append(
            (
                channel,
                ChannelGeoRule(
                    allowed=_countries(body.get("allowed"), "allowed"),
                    blocked=_countries(body.get("blocked"), "blocked"),
                ),
            )
        )
    return GeoPermissions(tuple(rules))

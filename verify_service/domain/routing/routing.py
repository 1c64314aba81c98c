"""Per-country routing (Twilio's MessagingConfigurations) and the WhatsApp settings of a
service: which operator-defined route a start's message goes through, and the sender a
WhatsApp message names. Routes themselves are the operator's (VERIFY_ROUTES_FILE,
docs/providers.md "Routes"); a service only names them by their `MG…` sid.

Choice at a start (docs/messages.md, "Routing by country"): for WhatsApp,
`Whatsapp.MsgServiceSid` first; then the configuration of the destination's country, then
the one for `all`; none: the global provider list of the channel.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import phonenumbers

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.models import Channel

ALL_COUNTRIES = "all"
ROUTE_SID = re.compile(r"\AMG[0-9a-f]{32}\Z")
_ALPHA_2 = re.compile(r"\A[A-Za-z]{2}\Z")
_E164 = re.compile(r"\A\+[1-9][0-9]{6,14}\Z")
# Channels a route may carry: the ones a phone number's country can pick.
ROUTED_CHANNELS = (Channel.SMS, Channel.CALL, Channel.WHATSAPP)


@dataclass(frozen=True, slots=True)
class MessagingConfiguration:
    """One service's route for one destination country (or `all`)."""

    country: str
    messaging_service_sid: str
    date_created_ms: int
    date_updated_ms: int


@dataclass(frozen=True, slots=True)
class Route:
    """What the API needs to know of one operator-defined route (no provider secrets)."""

    sid: str
    name: str
    channels: frozenset[Channel]
    whatsapp_senders: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class RouteBook:
    """Every configured route by sid, and the WhatsApp senders of the global list."""

    routes: Mapping[str, Route] = field(default_factory=dict)
    whatsapp_senders: frozenset[str] = frozenset()

    def require(self, sid: str, wire: str, channel: Channel | None = None) -> Route:
        """The route `sid` names, else 60200 naming `wire`."""
        route = self.routes.get(sid)
        if route is None:
            raise InvalidParameter(wire, "is not a configured route (VERIFY_ROUTES_FILE)")
        if channel is not None and channel not in route.channels:
            raise InvalidParameter(wire, f"names a route without a {channel.value} provider list")
        return route

    def senders_for(self, route_sid: str | None) -> frozenset[str]:
        """The WhatsApp senders a service may name with `Whatsapp.From`: its WhatsApp
        route's, or the global list's when it names none."""
        if route_sid is None:
            return self.whatsapp_senders
        route = self.routes.get(route_sid)
        return route.whatsapp_senders if route is not None else frozenset()


def country_of_configuration(value: str) -> str:
    """`Country`: an ISO-3166-1 alpha-2 region phonenumbers knows (upper-cased), or `all`."""
    if value.isascii() and value.lower() == ALL_COUNTRIES:
        return ALL_COUNTRIES
    # ASCII letters only: str.upper() maps "ß" to "SS" (South Sudan) and dotless-i "n" to "IN".
    if not _ALPHA_2.fullmatch(value) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidParameter("Country", "an ISO-3166-1 alpha-2 country code or `all`")
    return value.upper()


def route_sid_of(value: str, wire: str) -> str:
    """A route's sid, its hex digits lower-cased (routes are named in lower case: `MGABC…`
    names the route `MGabc…`)."""
    value = value[:2] + value[2:].lower() if value.isascii() else value
    if not ROUTE_SID.fullmatch(value):
        raise InvalidParameter(wire, "MG followed by 32 hex digits")
    return value


def whatsapp_sender_number(value: str) -> str:
    """A WhatsApp sender as an E.164 number (`whatsapp:` prefix optional)."""
    number = value.strip().removeprefix("whatsapp:")
    if not _E164.fullmatch(number):
        raise InvalidParameter("Whatsapp.From", "an E.164 number, optionally `whatsapp:`+number")
    return number


def route_for(
    configurations: Iterable[MessagingConfiguration],
    whatsapp_route: str | None,
    channel: Channel,
    country: str | None,
) -> str | None:
    """The route sid a start's message goes through, or None: the global list."""
    if channel is Channel.WHATSAPP and whatsapp_route:
        return whatsapp_route
    if channel not in ROUTED_CHANNELS:
        return None
    by_country = {c.country: c.messaging_service_sid for c in configurations}
    if country is not None and country in by_country:
        return by_country[country]
    return by_country.get(ALL_COUNTRIES)


def sender_for(whatsapp_from: str | None, channel: Channel) -> str | None:
    """The sender a message names over its provider's `from=` (WhatsApp only)."""
    if channel is not Channel.WHATSAPP or not whatsapp_from:
        return None
    return whatsapp_from.removeprefix("whatsapp:")


class WhatsappSettings(Protocol):
    """What the check reads of a stored service (`Service` has both)."""

    @property
    def whatsapp_msg_service_sid(self) -> str | None: ...

    @property
    def whatsapp_from(self) -> str | None: ...


def validate_whatsapp_settings(
    values: dict[str, Any], current: WhatsappSettings | None, routes: RouteBook
) -> None:
    """`Whatsapp.MsgServiceSid` must name a configured route with a WhatsApp list;
    `Whatsapp.From` a sender the operator allows for the WhatsApp route the service will
    use (that route's `whatsapp_senders` and providers' `from=`, else the global list's).
    Changing the route re-checks the stored sender. Empty values clear a setting."""
    if "whatsapp_msg_service_sid" not in values and "whatsapp_from" not in values:
        return
    for name in ("whatsapp_msg_service_sid", "whatsapp_from"):
        if name in values and not values[name]:
            values[name] = None
    route_sid = values.get(
        "whatsapp_msg_service_sid", current.whatsapp_msg_service_sid if current else None
    )
    if values.get("whatsapp_msg_service_sid"):
        routes.require(route_sid or "", "Whatsapp.MsgServiceSid", Channel.WHATSAPP)
    sender = values.get("whatsapp_from", current.whatsapp_from if current else None)
    if sender is None:
        return
    number = whatsapp_sender_number(sender)
    if "whatsapp_from" in values:
        values["whatsapp_from"] = number  # the sender as it is sent, never the text given
    if number not in routes.senders_for(route_sid):
        wire = "Whatsapp.From" if "whatsapp_from" in values else "Whatsapp.MsgServiceSid"
        reason = (
            "not a sender the operator allows for this WhatsApp route: VERIFY_ROUTES_FILE's"
            " whatsapp_senders (the route's, or the file's for the global list) or a WhatsApp"
            " provider's from="
        )
        raise InvalidParameter(
            wire, reason if wire == "Whatsapp.From" else f"the service's Whatsapp.From is {reason}"
        )

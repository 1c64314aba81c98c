"""Operator-defined routes (`VERIFY_ROUTES_FILE`, a TOML file; docs/providers.md "Routes"):
each a name, a Messaging Service sid (`MG` + 32 hex; derived from the name when not given)
and per-channel failover lists in the `VERIFY_*_PROVIDERS` syntax, each DSN with its own
`from=`. A service's MessagingConfigurations and `Whatsapp.MsgServiceSid` name a route by
its sid. Every problem is a `ProviderConfigError` naming the route and the entry, never a
secret.

    whatsapp_senders = ["+14155550100"]      # senders Whatsapp.From may name (global list)

    [routes.india]
    sid = "MG0123456789abcdef0123456789abcdef"   # optional
    sms = "vonage://key:secret@default?from=Acme || twilio://AC…:token@default?from=+1…"
    whatsapp = "twilio://AC…:token@default?from=+14155550111"
    call = "twilio://AC…:token@default?from=+14155550111"
    whatsapp_senders = ["+14155550112"]
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verify_service.adapters.delivery.providers.dsn import ProviderConfigError
from verify_service.adapters.delivery.providers.registry import (
    ManagedProvider,
    ProviderConfig,
    build_providers,
    parse_provider_list,
)
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.models import Channel
from verify_service.domain.routing.routing import (
    ROUTE_SID,
    ROUTED_CHANNELS,
    Route,
    RouteBook,
    whatsapp_sender_number,
)

_NAME = re.compile(r"\A[a-z0-9][a-z0-9_-]{0,62}\Z")
_ROUTE_KEYS = frozenset({"sid", "whatsapp_senders", *(c.value for c in ROUTED_CHANNELS)})
_FILE_KEYS = frozenset({"routes", "whatsapp_senders"})
MAX_ROUTES = 1000


@dataclass(frozen=True, slots=True)
class RouteConfig:
    """One route: its failover list for each channel it carries."""

    name: str
    sid: str
    providers: tuple[tuple[Channel, tuple[ProviderConfig, ...]], ...]
    whatsapp_senders: tuple[str, ...] = ()

    def providers_for(self, channel: Channel) -> tuple[ProviderConfig, ...] | None:
        """The route's list for `channel`, or None: it has none (the global list serves)."""
        return dict(self.providers).get(channel)

    def __repr__(self) -> str:
        return f"RouteConfig(name={self.name!r}, sid={self.sid!r})"


@dataclass(frozen=True, slots=True)
class RoutesConfig:
    """Everything VERIFY_ROUTES_FILE holds."""

    routes: tuple[RouteConfig, ...] = ()
    whatsapp_senders: tuple[str, ...] = ()  # the global list's allowed Whatsapp.From


def derived_route_sid(name: str) -> str:
    """The sid of a route whose file gives none: stable across restarts and hosts."""
    digest = hashlib.sha256(f"verify-service route:{name}".encode()).hexdigest()
    return "MG" + digest[:32]


def load_routes_file(path: str) -> RoutesConfig:
    """Read and check the routes file; `ProviderConfigError` names what is wrong."""
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise ProviderConfigError(f"cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProviderConfigError(f"is not valid TOML: {exc}") from None
    return parse_routes(document)


def parse_routes(document: Mapping[str, Any]) -> RoutesConfig:
    _only_keys(document, _FILE_KEYS, "the file")
    tables = document.get("routes", {})
    if not isinstance(tables, dict):
        raise ProviderConfigError("[routes] must be a table of [routes.<name>] tables")
    if len(tables) > MAX_ROUTES:
        raise ProviderConfigError(f"has more than {MAX_ROUTES} routes")
    routes = tuple(_route(name, table) for name, table in tables.items())
    seen: dict[str, str] = {}
    for route in routes:
        if route.sid in seen:
            raise ProviderConfigError(
                f"route {route.name!r}: same sid as route {seen[route.sid]!r}"
            )
        seen[route.sid] = route.name
    return RoutesConfig(routes, _senders(document.get("whatsapp_senders", []), "the file"))


def _route(name: str, table: Any) -> RouteConfig:
    where = f"route {name!r}"
    if not _NAME.fullmatch(name):
        raise ProviderConfigError(
            "a route name must be 1-63 lower-case letters, digits, _ or - (a route is misnamed)"
        )
    if not isinstance(table, dict):
        raise ProviderConfigError(f"{where} must be a table")
    _only_keys(table, _ROUTE_KEYS, where)
    sid = table.get("sid", derived_route_sid(name))
    if not isinstance(sid, str) or not ROUTE_SID.fullmatch(sid):
        raise ProviderConfigError(f"{where}: sid must be MG followed by 32 lower-case hex digits")
    providers: list[tuple[Channel, tuple[ProviderConfig, ...]]] = []
    for channel in ROUTED_CHANNELS:
        value = table.get(channel.value)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ProviderConfigError(f"{where}: {channel.value} must be a string of DSNs")
        try:
            providers.append((channel, parse_provider_list(channel, value)))
        except ProviderConfigError as exc:
            raise ProviderConfigError(f"{where} {channel.value} {exc}") from None
    if not providers:
        raise ProviderConfigError(f"{where} has no provider list (sms, call or whatsapp)")
    senders = _senders(table.get("whatsapp_senders", []), where)
    return RouteConfig(name, sid, tuple(providers), senders)


def _senders(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProviderConfigError(f"{where}: whatsapp_senders must be a list of E.164 numbers")
    try:
        return tuple(whatsapp_sender_number(v) for v in value)
    except InvalidParameter:
        raise ProviderConfigError(
            f"{where}: whatsapp_senders must be a list of E.164 numbers"
        ) from None


def _only_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ProviderConfigError(
                f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})"
            )


def provider_senders(configs: Sequence[ProviderConfig]) -> frozenset[str]:
    """The E.164 `from=` numbers of a WhatsApp list (a Messaging Service sid is no number)."""
    found = set()
    for config in configs:
        sender = getattr(config, "sender", None)
        if isinstance(sender, str):
            try:
                found.add(whatsapp_sender_number(sender))
            except InvalidParameter:
                continue
    return frozenset(found)


def route_book(config: RoutesConfig, global_whatsapp: Sequence[ProviderConfig]) -> RouteBook:
    """What the API checks services' settings against (no secrets in it)."""
    return RouteBook(
        routes={
            route.sid: Route(
                sid=route.sid,
                name=route.name,
                channels=frozenset(channel for channel, _ in route.providers),
                whatsapp_senders=frozenset(route.whatsapp_senders)
                | provider_senders(route.providers_for(Channel.WHATSAPP) or ()),
            )
            for route in config.routes
        },
        whatsapp_senders=frozenset(config.whatsapp_senders) | provider_senders(global_whatsapp),
    )


RouteProviders = dict[str, dict[Channel, list[ManagedProvider]]]


def providers_by_route(config: RoutesConfig, console_outbox: str | None) -> RouteProviders:
    """Every route's failover lists by sid, ready for the delivery worker."""
    return {
        route.sid: {
            channel: build_providers(channel, configs, console_outbox=console_outbox)
            for channel, configs in route.providers
        }
        for route in config.routes
    }


def close_route_providers(routes: RouteProviders) -> None:
    for lists in routes.values():
        for providers in lists.values():
            for provider in providers:
                provider.close()

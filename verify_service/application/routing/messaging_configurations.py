"""Use cases of Twilio's MessagingConfiguration resource: a service's route per destination
country (or `all`), naming one of the operator's routes (docs/messages.md, "Routing by
country"). Stored in the service's own hash: a start reads them with the service."""

from __future__ import annotations

import logging

from verify_service.application.ports import Clock
from verify_service.application.services.ports import ServiceStore
from verify_service.domain import sids
from verify_service.domain.errors import InvalidParameter, MessagingConfigurationExists, NotFound
from verify_service.domain.routing.routing import (
    MessagingConfiguration,
    RouteBook,
    country_of_configuration,
    route_sid_of,
)

log = logging.getLogger(__name__)
WIRE_ROUTE = "MessagingServiceSid"


class MessagingConfigurations:
    def __init__(self, store: ServiceStore, clock: Clock, routes: RouteBook) -> None:
        self._store = store
        self._clock = clock
        self._routes = routes

    def _route(self, value: str) -> str:
        route_sid = route_sid_of(value, WIRE_ROUTE)
        self._routes.require(route_sid, WIRE_ROUTE)
        return route_sid

    def _configurations(self, service_sid: str) -> tuple[MessagingConfiguration, ...]:
        service = self._store.get_service(service_sid) if sids.is_sid(service_sid, "VA") else None
        if service is None:
            raise NotFound
        return service.messaging_configurations

    def create(self, service_sid: str, country: str, route: str) -> MessagingConfiguration:
        if not sids.is_sid(service_sid, "VA"):
            raise NotFound
        country, route_sid = country_of_configuration(country), self._route(route)
        now_ms = self._clock.now_ms()
        configuration = MessagingConfiguration(country, route_sid, now_ms, now_ms)
        added = self._store.create_messaging_configuration(service_sid, configuration)
        if added is None:
            raise NotFound
        if not added:
            raise MessagingConfigurationExists(country)
        log.info("service %s: messaging configuration %s created", service_sid, country)
        return configuration

    def list(
        self, service_sid: str, page: int, page_size: int
    ) -> tuple[list[MessagingConfiguration], bool]:
        found = self._configurations(service_sid)
        start = page * page_size
        return list(found[start : start + page_size]), len(found) > start + page_size

    def fetch(self, service_sid: str, country: str) -> MessagingConfiguration:
        wanted = _path_country(country)
        for configuration in self._configurations(service_sid):
            if configuration.country == wanted:
                return configuration
        raise NotFound

    def update(self, service_sid: str, country: str, route: str) -> MessagingConfiguration:
        wanted = _path_country(country)
        route_sid = self._route(route)
        if not sids.is_sid(service_sid, "VA"):
            raise NotFound
        updated = self._store.update_messaging_configuration(
            service_sid, wanted, route_sid, self._clock.now_ms()
        )
        if updated is None:
            raise NotFound
        log.info("service %s: messaging configuration %s updated", service_sid, wanted)
        return updated

    def delete(self, service_sid: str, country: str) -> None:
        wanted = _path_country(country)
        if not sids.is_sid(service_sid, "VA") or not self._store.delete_messaging_configuration(
            service_sid, wanted
        ):
            raise NotFound
        log.info("service %s: messaging configuration %s deleted", service_sid, wanted)


def _path_country(country: str) -> str:
    """The `{Country}` of a path: not a region we know is simply not found."""
    try:
        return country_of_configuration(country)
    except InvalidParameter:
        raise NotFound from None

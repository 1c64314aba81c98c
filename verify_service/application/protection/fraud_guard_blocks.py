"""Operators' view of Fraud Guard: the prefixes it blocked (or would have, in monitor mode),
with the figures and masked numbers that tripped it, and lifting a block early."""

from __future__ import annotations

import logging
import re

from verify_service.application.ports import Clock
from verify_service.application.protection.ports import BreakerTrip, FraudGuardStore
from verify_service.application.services.service_catalog import ServiceCatalog
from verify_service.domain.errors import InvalidParameter, NotFound

log = logging.getLogger(__name__)

_PREFIX = re.compile(r"\+[0-9]{2,12}")


class FraudGuardBlocks:
    def __init__(self, store: FraudGuardStore, services: ServiceCatalog, clock: Clock) -> None:
        self._store = store
        self._services = services
        self._clock = clock

    def _require_service(self, service_sid: str) -> None:
        self._services.fetch(service_sid)  # NotFound when there is no such service

    def list(self, service_sid: str) -> list[BreakerTrip]:
        self._require_service(service_sid)
        return self._store.trips(service_sid, self._clock.now_ms())

    def lift(self, service_sid: str, prefix: str) -> None:
        self._require_service(service_sid)
        if not _PREFIX.fullmatch(prefix):
            raise InvalidParameter("Prefix", "+ and 2-12 digits")
        if not self._store.lift(service_sid, prefix):
            raise NotFound
        log.warning("fraud guard: block of %s lifted for service %s", prefix, service_sid)

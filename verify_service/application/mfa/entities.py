"""Use cases of the Entity resource: create, fetch, list, delete (with its factors and
challenges)."""

from __future__ import annotations

import logging

from verify_service.application.access.access import Principal
from verify_service.application.mfa.mfa_audit import MfaAudit
from verify_service.application.mfa.mfa_events import MfaEvents
from verify_service.application.mfa.ports import MfaStore
from verify_service.application.ports import Clock
from verify_service.application.services.ports import ServiceStore
from verify_service.domain import sids
from verify_service.domain.errors import NotFound
from verify_service.domain.events.event_types import EventType
from verify_service.domain.mfa.identity import require_identity
from verify_service.domain.mfa.models import Entity
from verify_service.domain.service import Service

log = logging.getLogger(__name__)


def require_service(services: ServiceStore, service_sid: str) -> Service:
    service = services.get_service(service_sid) if sids.is_sid(service_sid, "VA") else None
    if service is None:
        raise NotFound
    return service


class Entities:
    def __init__(
        self,
        store: MfaStore,
        services: ServiceStore,
        clock: Clock,
        audit: MfaAudit,
        events: MfaEvents | None = None,
    ) -> None:
        self._events = events or MfaEvents(None)
        self._store = store
        self._services = services
        self._clock = clock
        self._audit = audit

    def new_entity(self, service_sid: str, identity: str) -> Entity:
        now_ms = self._clock.now_ms()
        return Entity(sids.new_sid("YE"), service_sid, identity, now_ms, now_ms)

    def create(self, service_sid: str, identity: str | None, principal: Principal) -> Entity:
        """The entity of `identity`: created, or the one that exists (creating twice is
        harmless: the same entity is returned)."""
        require_service(self._services, service_sid)
        identity = require_identity(identity or "")
        entity, created = self._store.create_entity(self.new_entity(service_sid, identity))
        if created:
            self._audit.record(principal, "mfa.entity.create", (service_sid, entity.sid), "ok")
            log.info("entity %s created", entity.sid)
        return entity

    def fetch(self, service_sid: str, identity: str) -> Entity:
        require_service(self._services, service_sid)
        identity = require_identity(identity)
        entity = self._store.get_entity(service_sid, identity)
        if entity is None:
            raise NotFound
        return entity

    def list(self, service_sid: str, page: int, page_size: int) -> tuple[list[Entity], bool]:
        require_service(self._services, service_sid)
        return self._store.list_entities(service_sid, page * page_size, page_size)

    def delete(self, service_sid: str, identity: str, principal: Principal) -> None:
        """Delete the entity with its factors and challenges; each factor's deletion is a
        `factor.deleted` event (its factors read first, only when a webhook wants them: a
        factor created while the delete runs goes without its event)."""
        entity = self.fetch(service_sid, identity)
        factors = (
            self._store.list_factors(service_sid, entity.identity)
            if self._events.wants(service_sid, EventType.FACTOR_DELETED)
            else []
        )
        if not self._store.delete_entity(service_sid, entity.identity):
            raise NotFound
        self._audit.record(principal, "mfa.entity.delete", (service_sid, entity.sid), "ok")
        log.info("entity %s deleted with its factors and challenges", entity.sid)
        now_ms = self._clock.now_ms()
        for factor in factors:
            self._events.factor(EventType.FACTOR_DELETED, factor, now_ms)

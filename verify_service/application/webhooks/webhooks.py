"""Use cases of the Webhooks resource (`/v2/Services/{VA}/Webhooks`, docs/webhooks.md)."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from verify_service.application.ports import Clock
from verify_service.application.webhooks.ports import TargetCheck, Webhook, WebhookStore
from verify_service.domain import sids
from verify_service.domain.errors import InvalidParameter, NotFound
from verify_service.domain.service import Service
from verify_service.domain.webhooks.rules import (
    MAX_WEBHOOKS_PER_SERVICE,
    TooManyWebhooks,
    validate_webhook_values,
)
from verify_service.domain.webhooks.targets import TargetRefused

log = logging.getLogger(__name__)


class ServiceLookup(Protocol):
    """The service store's read (services/ports.py): None for an unknown service."""

    def get_service(self, sid: str) -> Service | None: ...


class WritesListener(Protocol):
    """Told when this process changed a service's webhooks (the directory's cache)."""

    def forget(self, service_sid: str) -> None: ...


class Webhooks:
    def __init__(
        self,
        store: WebhookStore,
        services: ServiceLookup,
        targets: TargetCheck,
        clock: Clock,
        listener: WritesListener | None = None,
    ) -> None:
        self._store = store
        self._services = services
        self._targets = targets
        self._clock = clock
        self._listener = listener

    def _checked(self, values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        values = validate_webhook_values(values, creating=creating)
        if "webhook_url" in values:
            try:
                self._targets.resolve(values["webhook_url"])
            except TargetRefused as exc:
                raise InvalidParameter("WebhookUrl", exc.reason) from None
        return values

    def _service_exists(self, service_sid: str) -> None:
        if not sids.is_sid(service_sid, "VA") or self._services.get_service(service_sid) is None:
            raise NotFound

    def _changed(self, service_sid: str) -> None:
        if self._listener is not None:
            self._listener.forget(service_sid)

    def create(self, service_sid: str, values: dict[str, Any]) -> Webhook:
        self._service_exists(service_sid)
        values = self._checked(values, creating=True)
        now_ms = self._clock.now_ms()
        webhook = Webhook(
            sid=sids.new_sid("YW"),
            service_sid=service_sid,
            date_created_ms=now_ms,
            date_updated_ms=now_ms,
            **values,
        )
        position = self._store.create_webhook(webhook, MAX_WEBHOOKS_PER_SERVICE)
        if position == 0:
            raise TooManyWebhooks
        if position < 0:
            raise NotFound  # the service was deleted meanwhile
        self._changed(service_sid)
        log.info("webhook %s of service %s created", webhook.sid, service_sid)
        return webhook

    def fetch(self, service_sid: str, webhook_sid: str) -> Webhook:
        found = (
            self._store.get_webhook(service_sid, webhook_sid)
            if sids.is_sid(service_sid, "VA") and sids.is_sid(webhook_sid, "YW")
            else None
        )
        if found is None:
            raise NotFound
        return found

    def list(self, service_sid: str, page: int, page_size: int) -> tuple[list[Webhook], bool]:
        self._service_exists(service_sid)  # an unknown service is a 404, not an empty list
        every = self._store.list_webhooks(service_sid)
        start = page * page_size
        return every[start : start + page_size], len(every) > start + page_size

    def update(self, service_sid: str, webhook_sid: str, changes: dict[str, Any]) -> Webhook:
        self.fetch(service_sid, webhook_sid)  # 404 before 400: the path is checked first
        changes = self._checked(changes, creating=False)
        updated = self._store.update_webhook(
            service_sid, webhook_sid, changes, self._clock.now_ms()
        )
        if updated is None:
            raise NotFound
        self._changed(service_sid)
        log.info("webhook %s updated (%s)", webhook_sid, ", ".join(sorted(changes)) or "no fields")
        return updated

    def delete(self, service_sid: str, webhook_sid: str) -> None:
        if not (sids.is_sid(service_sid, "VA") and sids.is_sid(webhook_sid, "YW")):
            raise NotFound
        if not self._store.delete_webhook(service_sid, webhook_sid):
            raise NotFound
        self._changed(service_sid)
        log.info("webhook %s deleted", webhook_sid)

    def delete_service(self, service_sid: str) -> None:
        """A deleted service's webhooks go with it (ServiceCatalog's `after_delete`)."""
        count = self._store.delete_service_webhooks(service_sid)
        self._changed(service_sid)
        if count:
            log.info("service %s: %d webhooks deleted with it", service_sid, count)

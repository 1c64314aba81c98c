"""Publishing: called by the use cases right after a state change's script answered.

The guarantee (docs/webhooks.md, "Delivery guarantee"): an event is written to the event
outbox in the round trip that follows the state change (the outcome of every state change
here is decided inside its script, so it is not known before). Once written, each
subscribed webhook receives it at least once. A process that dies between the two round
trips, or a Redis that fails in between, loses that event: the state change stands, the
loss is logged (`events: … not written`), and the request still answers its outcome.

A service with no webhook subscribed to an event pays nothing: the subscribers come from
`WebhookDirectory.subscribers` (cached per process), and the event is not even built."""

from __future__ import annotations

import logging
from collections.abc import Callable

from verify_service.application.events.ports import EventOutbox
from verify_service.application.webhooks.ports import Webhook, WebhookDirectory
from verify_service.domain.errors import StoreUnavailable
from verify_service.domain.events.event_types import EventType
from verify_service.domain.events.events import Event

log = logging.getLogger(__name__)


class NoWebhooks:
    """A directory with no webhooks (a process wired without the Webhooks resource)."""

    def subscribers(self, service_sid: str, event: EventType) -> list[Webhook]:
        del service_sid, event
        return []

    def get(self, service_sid: str, webhook_sid: str) -> Webhook | None:
        del service_sid, webhook_sid
        return None


class EventPublisher:
    def __init__(
        self, directory: WebhookDirectory, outbox: EventOutbox | None, account_sid: str
    ) -> None:
        self.account_sid = account_sid  # every event's `account_sid`
        self._directory = directory
        self._outbox = outbox

    def _subscribers(self, service_sid: str, event_type: EventType) -> list[str]:
        if self._outbox is None:
            return []
        try:
            return [webhook.sid for webhook in self._directory.subscribers(service_sid, event_type)]
        except StoreUnavailable:
            log.warning(
                "events: %s of service %s not written (store unavailable)",
                event_type.value,
                service_sid,
            )
            return []

    def wants(self, service_sid: str, event_type: EventType) -> bool:
        return bool(self._subscribers(service_sid, event_type))

    def emit(
        self,
        service_sid: str,
        event_type: EventType,
        build: Callable[[], Event],
    ) -> None:
        """Write the event `build()` makes for every webhook of the service that wants
        `event_type` (nothing, not even `build`, when none does). Expiry watches are not
        written here: they ride in the start's own pipeline (verification_store.py)."""
        targets = self._subscribers(service_sid, event_type)
        if not targets or self._outbox is None:
            return
        event = build()
        try:
            self._outbox.append(event, targets)
        except StoreUnavailable:
            log.warning(
                "events: %s of service %s not written (store unavailable)",
                event_type.value,
                service_sid,
            )

"""Helpers of the webhook events tests: a receiver on loopback (the StandinHttp recorder),
a sender allowed to reach it, and running the events loop until it has nothing left."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace

from verify_service.adapters.events.http_sender import HttpEventSender
from verify_service.adapters.webhooks.resolver import TargetResolver
from verify_service.application.events.event_delivery import EventDeliveryWorker
from verify_service.application.webhooks.ports import Webhook
from verify_service.domain.events.event_types import EventType

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def loopback_sender() -> HttpEventSender:
    """The real sender, with loopback in the operator's allow-list (the receiver's)."""
    return HttpEventSender(TargetResolver(LOOPBACK))


def run_events(worker: EventDeliveryWorker, limit: int = 1_000) -> int:
    """Turns of the events loop until one handles nothing; returns how many were handled."""
    handled = 0
    for _ in range(limit):
        turn = worker.run_once(batch=10)
        if turn == 0:
            return handled
        handled += turn
    raise AssertionError("the events loop never ran dry")


@dataclass
class StaticWebhooks:
    """A `WebhookDirectory` held in memory: the directory port's contract, at the edge of
    the events capability (the Webhooks resource's store answers it in production)."""

    webhooks: dict[str, Webhook] = field(default_factory=dict)

    def add(self, webhook: Webhook) -> Webhook:
        self.webhooks[webhook.sid] = webhook
        return webhook

    def change(self, sid: str, **changes: object) -> None:
        self.webhooks[sid] = replace(self.webhooks[sid], **changes)  # type: ignore[arg-type]

    def remove(self, sid: str) -> None:
        del self.webhooks[sid]

    def subscribers(self, service_sid: str, event: EventType) -> list[Webhook]:
        return [
            w for w in self.webhooks.values() if w.service_sid == service_sid and w.wants(event)
        ]

    def get(self, service_sid: str, webhook_sid: str) -> Webhook | None:
        found = self.webhooks.get(webhook_sid)
        return found if found is not None and found.service_sid == service_sid else None


def webhook(
    service_sid: str,
    url: str,
    sid: str = "YW" + "1" * 32,
    event_types: tuple[str, ...] = ("*",),
    include_destination: bool = False,
) -> Webhook:
    return Webhook(
        sid=sid,
        service_sid=service_sid,
        friendly_name="events",
        event_types=event_types,
        webhook_url=url,
        status="enabled",
        version="v2",
        date_created_ms=0,
        date_updated_ms=0,
        include_destination=include_destination,
    )

"""The contract between the Webhooks resource (its API and store) and event delivery.

The resource writes webhooks; event publishing asks which webhooks of a service want an
event (`subscribers`), and the delivery worker reads one webhook again before each send, so a
webhook disabled or deleted meanwhile receives nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from verify_service.domain.events.event_types import EventType, subscribes


@dataclass(frozen=True, slots=True)
class Webhook:
    sid: str  # YW…
    service_sid: str
    friendly_name: str
    event_types: tuple[str, ...]  # EventType values, or ("*",)
    webhook_url: str
    status: str  # "enabled" | "disabled"
    version: str  # "v1" | "v2"
    date_created_ms: int
    date_updated_ms: int
    # Extension: send the full destination (`to`) in verification and delivery events.
    # Off by default: events carry a masked destination only. A code is never sent.
    include_destination: bool = False

    @property
    def enabled(self) -> bool:
        return self.status == "enabled"

    def wants(self, event: EventType) -> bool:
        return self.enabled and subscribes(self.event_types, event)


class WebhookDirectory(Protocol):
    """Read side of the webhook store, for event publishing and delivery."""

    def subscribers(self, service_sid: str, event: EventType) -> list[Webhook]:
        """The service's enabled webhooks that subscribe to `event` (may be cached for at
        most a second or so per process; the worker re-reads with `get`)."""
        ...

    def get(self, service_sid: str, webhook_sid: str) -> Webhook | None: ...


# -- the resource's own ports (added by the Webhooks resource) ----------------------------


class WebhookStore(Protocol):
    """The webhooks of each service (adapters/redis_store/webhooks/webhook_store.py)."""

    def create_webhook(self, webhook: Webhook, max_per_service: int) -> int:
        """Its position in creation order; 0 when the service has `max_per_service`
        webhooks already, -1 when the service is being deleted (nothing stored)."""
        ...

    def get_webhook(self, service_sid: str, webhook_sid: str) -> Webhook | None: ...

    def list_webhooks(self, service_sid: str) -> list[Webhook]:
        """Every webhook of the service (a bounded number), in creation order."""
        ...

    def update_webhook(
        self, service_sid: str, webhook_sid: str, changes: dict[str, Any], now_ms: int
    ) -> Webhook | None: ...

    def delete_webhook(self, service_sid: str, webhook_sid: str) -> bool: ...

    def delete_service_webhooks(self, service_sid: str) -> int:
        """Delete every webhook of a deleted service; how many there were."""
        ...


class TargetCheck(Protocol):
    """Checks a webhook URL against the target rules, its host's DNS answers included
    (adapters/webhooks/resolver.py); raises `domain.webhooks.targets.TargetRefused`."""

    def resolve(self, url: str) -> object: ...

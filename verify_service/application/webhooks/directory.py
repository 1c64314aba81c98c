"""The `WebhookDirectory` event publishing and delivery read (ports.py), over the store.

`subscribers` is on the hot path (every start, check, delivery result may publish an event),
so each process keeps a service's webhook list for at most `CACHE_TTL_MS` (by the Clock
port): a service with or without webhooks then costs one Redis read per second per process,
not one per event. A change made through this process forgets the service at once; a change
made through another process is seen here within `CACHE_TTL_MS`. `get` always reads Redis
(the delivery worker's check before a send: a webhook disabled or deleted meanwhile receives
nothing). A Redis error is raised (`StoreUnavailable`), never answered from a stale list."""

from __future__ import annotations

import threading

from verify_service.application.ports import Clock
from verify_service.application.webhooks.ports import Webhook, WebhookStore
from verify_service.domain.events.event_types import EventType

CACHE_TTL_MS = 1_000
# Services whose lists one process keeps at most; past it, the cache starts again empty.
MAX_CACHED_SERVICES = 10_000


class CachedWebhookDirectory:
    def __init__(self, store: WebhookStore, clock: Clock, ttl_ms: int = CACHE_TTL_MS) -> None:
        self._store = store
        self._clock = clock
        self._ttl_ms = ttl_ms
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, tuple[Webhook, ...]]] = {}  # sid -> (read at, list)

    def subscribers(self, service_sid: str, event: EventType) -> list[Webhook]:
        return [webhook for webhook in self._webhooks(service_sid) if webhook.wants(event)]

    def get(self, service_sid: str, webhook_sid: str) -> Webhook | None:
        return self._store.get_webhook(service_sid, webhook_sid)

    def forget(self, service_sid: str) -> None:
        """This process changed the service's webhooks: read them again next time."""
        with self._lock:
            self._cache.pop(service_sid, None)

    def _webhooks(self, service_sid: str) -> tuple[Webhook, ...]:
        now_ms = self._clock.now_ms()
        with self._lock:
            cached = self._cache.get(service_sid)
        # Fresh only inside [read, read + ttl): a clock set back (tests) reads again too.
        if cached is not None and cached[0] <= now_ms < cached[0] + self._ttl_ms:
            return cached[1]
        webhooks = tuple(self._store.list_webhooks(service_sid))
        with self._lock:
            if len(self._cache) >= MAX_CACHED_SERVICES:
                self._cache.clear()
            self._cache[service_sid] = (now_ms, webhooks)
        return webhooks

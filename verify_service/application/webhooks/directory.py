"""The `WebhookDirectory` event publishing and delivery read (ports.py), over the store.

`subscribers` is on the hot path (every start, check, delivery result may publish an event),
so each process keeps a service's webhook list, fresh for `CACHE_TTL_MS` (by the Clock
port). Past that, the list is still answered while a background thread reads it again
(stale-while-revalidate, up to `STALE_LIMIT_MS`): the request path reads Redis only the
first time a process meets a service (or after a minute without a successful refresh), so a
service with or without webhooks costs a start no extra round trip, however rarely it
starts. A change made through this process forgets the service at once; a change made through
another process is seen here by the first event after `CACHE_TTL_MS` has passed and the
refresh that event started has answered (one more event may go by the older list). `get`
always reads Redis (the delivery worker's check before a send: a webhook disabled or deleted
meanwhile receives nothing). A Redis error on the request path is raised (`StoreUnavailable`);
a failed background refresh keeps the older list, at most `STALE_LIMIT_MS` old."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from verify_service.application.ports import Clock
from verify_service.application.webhooks.ports import Webhook, WebhookStore
from verify_service.domain.errors import StoreUnavailable
from verify_service.domain.events.event_types import EventType

log = logging.getLogger(__name__)

CACHE_TTL_MS = 1_000
# A list older than this is not answered: the request reads Redis itself.
STALE_LIMIT_MS = 60_000
# Services whose lists one process keeps at most; past it, the cache starts again empty.
MAX_CACHED_SERVICES = 10_000


class CachedWebhookDirectory:
    def __init__(self, store: WebhookStore, clock: Clock, ttl_ms: int = CACHE_TTL_MS) -> None:
        self._store = store
        self._clock = clock
        self._ttl_ms = ttl_ms
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, tuple[Webhook, ...]]] = {}  # sid -> (read at, list)
        self._refreshing: set[str] = set()  # services a background read is under way for
        # How a refresh runs: a daemon thread (tests may run it in place).
        self.run_in_background: Callable[[Callable[[], None]], None] = _in_a_thread

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
        refresh = False
        with self._lock:
            cached = self._cache.get(service_sid)
            usable = cached is not None and cached[0] <= now_ms < cached[0] + STALE_LIMIT_MS
            # Fresh inside [read, read + ttl); a clock set back (tests) reads again too.
            if cached is not None and usable and now_ms >= cached[0] + self._ttl_ms:
                refresh = service_sid not in self._refreshing
                self._refreshing.add(service_sid)
        if cached is None or not usable:
            return self._read(service_sid, now_ms)
        if refresh:  # outside the lock: the refresh takes it
            self.run_in_background(lambda: self._refresh(service_sid))
        return cached[1]

    def _read(self, service_sid: str, now_ms: int) -> tuple[Webhook, ...]:
        webhooks = tuple(self._store.list_webhooks(service_sid))
        with self._lock:
            if len(self._cache) >= MAX_CACHED_SERVICES:
                self._cache.clear()
            self._cache[service_sid] = (now_ms, webhooks)
        return webhooks

    def _refresh(self, service_sid: str) -> None:
        """A background read; a failure leaves the older list (until STALE_LIMIT_MS)."""
        try:
            self._read(service_sid, self._clock.now_ms())
        except StoreUnavailable:
            log.warning("webhooks of service %s not refreshed (store unavailable)", service_sid)
        finally:
            with self._lock:
                self._refreshing.discard(service_sid)


def _in_a_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="webhook-directory", daemon=True).start()

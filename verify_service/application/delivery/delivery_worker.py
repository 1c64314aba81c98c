"""The delivery worker: takes queued messages, tries each channel's providers in order with
retries and backoff, and dead-letters what no provider accepts.

At-least-once: a message is acknowledged only after its provider accepted it (or it was
dropped, rescheduled or dead-lettered in one atomic step); a worker that dies mid-send
leaves it pending, and another worker reclaims it after the visibility timeout.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from verify_service.application.attempts.attempts import destination_country
from verify_service.application.delivery.ports import DeliveryProvider
from verify_service.application.delivery.resilient_loop import run_until_stopped
from verify_service.application.events.publisher import EventPublisher
from verify_service.application.metrics.ports import NO_METRICS, Metrics, SendOutcome
from verify_service.application.ports import Clock
from verify_service.domain.delivery.delivery import (
    AttemptStatus,
    DeliveryError,
    DeliveryJob,
    DeliveryRequest,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from verify_service.domain.errors import InvalidParameter, StoreUnavailable
from verify_service.domain.events.event_types import EventType
from verify_service.domain.events.events import delivery_event
from verify_service.domain.models import Channel
from verify_service.domain.routing.routing import RouteBook, whatsapp_sender_number

log = logging.getLogger(__name__)

# A dropped Whatsapp.From is logged once a minute per (service, list) at most; the memory of
# when is forgotten past this many pairs (a warning may then repeat early, never flood).
_DROPPED_WARNING_EVERY_MS = 60_000
_DROPPED_WARNING_KEYS = 1024
_jitter = random.SystemRandom()


class DeliveryQueue(Protocol):
    def read(
        self, consumer: str, count: int, block_ms: int, visibility_ms: int
    ) -> list[DeliveryJob]: ...

    def complete(self, job: DeliveryJob) -> bool: ...

    def reschedule(
        self, job: DeliveryJob, due_ms: int, provider_index: int, try_number: int
    ) -> bool: ...

    def dead_letter(self, job: DeliveryJob, reason: str, now_ms: int) -> bool: ...

    def promote_due(self, now_ms: int, limit: int = 100) -> int: ...

    def record_status(
        self,
        attempt_sid: str,
        status: str,
        now_ms: int,
        provider: str = "",
        provider_message_id: str = "",
        error_code: str = "",
        sender: str = "",
        route_sid: str = "",
    ) -> bool: ...


class FallbackSteps(Protocol):
    """Automatic channel fallback (`application/delivery/channel_fallback.py`); its steps
    run in a loop of their own (`ChannelFallback.run`), not in this one."""

    def delivery_failed(self, job: DeliveryJob, now_ms: int) -> None: ...


class AttemptLiveness(Protocol):
    def attempt_is_live(self, job: DeliveryJob, now_ms: int) -> bool:
        """True while the job's verification is pending and still holds the attempt."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Tries per provider and the exponential backoff between them (with equal jitter:
    half the delay fixed, half random, so retries of a burst spread out)."""

    tries_per_provider: int = 3
    base_delay_ms: int = 1_000
    max_delay_ms: int = 30_000
    visibility_timeout_ms: int = 60_000
    # A message handed out this many times (its worker died or hung past the visibility
    # timeout each time) goes to the dead letters instead of being tried again.
    max_deliveries: int = 5

    def delay_ms(self, try_number: int) -> int:
        ceiling: int = min(self.max_delay_ms, self.base_delay_ms * 2**try_number)
        return ceiling // 2 + int(_jitter.uniform(0, ceiling / 2))


class DeliveryWorker:
    def __init__(
        self,
        queue: DeliveryQueue,
        liveness: AttemptLiveness,
        providers: Mapping[Channel, Sequence[DeliveryProvider]],
        clock: Clock,
        policy: RetryPolicy,
        consumer: str,
        callback_url: Callable[[DeliveryProvider, str], str | None] | None = None,
        fallback: FallbackSteps | None = None,
        metrics: Metrics = NO_METRICS,
        on_turn: Callable[[], None] | None = None,
        events: EventPublisher | None = None,
        routes: Mapping[str, Mapping[Channel, Sequence[DeliveryProvider]]] | None = None,
        route_book: RouteBook | None = None,
        receipt_sender: Callable[[DeliveryProvider], str] | None = None,
    ) -> None:
        """`callback_url(provider, attempt_sid)` is where that provider should post its
        delivery receipt for the attempt (None: no receipts). `fallback` is told when
        a delivery failed on every provider (its step after that send goes at once).
        `on_turn` is called after every turn of `run`, failed or not (the worker's
        liveness: adapters/metrics/worker_listener.py). `receipt_sender(provider)` names
        the account that sent an attempt (recorded with it: its receipts are checked against
        that account's credentials only; adapters/delivery/receipts.py)."""
        self._metrics = metrics
        self._on_turn = on_turn or (lambda: None)
        self._fallback = fallback
        self._events = events
        self._callback_url = callback_url or (lambda _provider, _attempt: None)
        self._receipt_sender = receipt_sender or (lambda _provider: "")
        self._queue = queue
        self._liveness = liveness
        self._providers = providers
        self._routes = routes or {}
        # The WhatsApp senders each list may name (none when not given): a job's sender goes
        # out only through a list it is allowed for (docs/messages.md, "WhatsApp sender").
        self._route_book = route_book or RouteBook()
        # (service, list) -> when a dropped sender was last logged (_sender_dropped).
        self._dropped_warned: dict[tuple[str, str], int] = {}
        self._dropped_lock = threading.Lock()
        self._clock = clock
        self._policy = policy
        self._consumer = consumer

    def run_once(self, block_ms: int = 200, batch: int = 1) -> int:
        """Promote due retries, then handle one batch; returns how many deliveries were
        handled.

        One message per read by default: the visibility timeout runs from the read, so a
        batch behind a slow provider would expire and be delivered twice."""
        self._queue.promote_due(self._clock.now_ms())
        jobs = self._queue.read(self._consumer, batch, block_ms, self._policy.visibility_timeout_ms)
        for job in jobs:
            self.process(job)
        return len(jobs)

    def run(
        self,
        stop: threading.Event,
        block_ms: int = 200,
        idle_wait_s: float = 0.05,
        turned: Callable[[], None] = lambda: None,
    ) -> None:
        """Until `stop` is set; the message in hand is finished (sent and acknowledged, or
        put back for a retry) before the loop looks at `stop`. A Redis outage pauses the
        loop; it resumes by itself.

        With `block_ms=0` (a store that cannot block, like the embedded one) the loop
        polls, waiting `idle_wait_s` whenever there was nothing to do. `turned` is called
        after every completed turn (the worker's heartbeat, supervision.py)."""

        def turn() -> float:
            try:
                handled = self.run_once(block_ms)
            except StoreUnavailable:
                self._metrics.redis_error("worker")
                raise
            finally:
                self._on_turn()  # the loop turns, even through a Redis outage: alive
            turned()
            return idle_wait_s if handled == 0 and block_ms == 0 else 0.0

        run_until_stopped("delivery worker", stop, turn)

    def process(self, job: DeliveryJob) -> None:
        now_ms = self._clock.now_ms()
        if job.deliveries > self._policy.max_deliveries:
            # Reclaimed again and again: it kills or hangs whichever worker takes it.
            self._give_up(job, f"abandoned by {job.deliveries - 1} workers", now_ms)
            return
        if not self._liveness.attempt_is_live(job, now_ms):
            # The verification ended (approved, canceled, expired): its code is useless.
            if self._queue.complete(job):
                self._queue.record_status(
                    job.attempt_sid, AttemptStatus.FAILED, now_ms, error_code="verification_ended"
                )
                log.info("attempt %s: dropped, its verification ended", job.attempt_sid)
                self._metrics.delivery_try(job.message.channel.value, "none", SendOutcome.DROPPED)
                self._emit(EventType.DELIVERY_FAILED, job, now_ms, error_code="verification_ended")
            return
        providers = self._providers_for(job, warn=True)
        if job.provider_index >= len(providers):
            self._give_up(job, "no provider left", now_ms)
            return
        provider = providers[job.provider_index]
        request = DeliveryRequest(
            to=job.to,
            message=job.message,
            service_sid=job.service_sid,
            verification_sid=job.verification_sid,
            attempt_sid=job.attempt_sid,
            status_callback_url=self._callback_url(provider, job.attempt_sid),
            whatsapp_sender=self._allowed_sender(job),
        )
        try:
            receipt = provider.deliver(request)
        except TransientDeliveryError as exc:
            self._after_transient(job, provider, exc)
        except PermanentDeliveryError as exc:
            self._next_provider(job, provider, exc)
        except Exception as exc:  # a provider bug must not kill the worker
            log.exception("attempt %s: provider %s raised", job.attempt_sid, provider.name)
            self._after_transient(job, provider, TransientDeliveryError(type(exc).__name__))
        else:
            if self._queue.complete(job):
                self._queue.record_status(
                    job.attempt_sid,
                    AttemptStatus.SENT,
                    self._clock.now_ms(),
                    provider=receipt.provider,
                    provider_message_id=receipt.provider_message_id or "",
                    sender=self._receipt_sender(provider),
                    route_sid=self._route_in_use(job) or "",
                )
                self._emit(
                    EventType.DELIVERY_SENT, job, self._clock.now_ms(), provider=receipt.provider
                )
            log.info("attempt %s: sent through %s", job.attempt_sid, provider.name)
            self._count_sent(job, provider.name)

    def _route_in_use(self, job: DeliveryJob) -> str | None:
        """The route whose list sends the job, or None: the global list."""
        route = self._routes.get(job.route_sid) if job.route_sid is not None else None
        return job.route_sid if route is not None and job.message.channel in route else None

    def _allowed_sender(self, job: DeliveryJob) -> str | None:
        """The job's sender (Whatsapp.From) if the operator allows it for the list that
        sends it now: it was checked against the service's WhatsApp route at save, but a
        country configuration, a removed route or an edited routes file may send the job
        through another list (another account), which must not send as that sender."""
        if job.whatsapp_sender is None:
            return None
        route_sid = self._route_in_use(job)
        try:
            number = whatsapp_sender_number(job.whatsapp_sender)
        except InvalidParameter:
            number = None
        if number is not None and number in self._route_book.senders_for(route_sid):
            return number
        self._sender_dropped(job, route_sid)
        return None

    def _sender_dropped(self, job: DeliveryJob, route_sid: str | None) -> None:
        """Count a dropped Whatsapp.From and warn, once a minute per (service, list) at
        most: every message of a misrouted service would otherwise log the same line."""
        self._metrics.whatsapp_sender_dropped("global" if route_sid is None else "route")
        key = (job.service_sid, route_sid or "global")
        now_ms = self._clock.now_ms()
        with self._dropped_lock:
            last_ms = self._dropped_warned.get(key)
            if last_ms is not None and now_ms - last_ms < _DROPPED_WARNING_EVERY_MS:
                return
            if len(self._dropped_warned) >= _DROPPED_WARNING_KEYS:
                self._dropped_warned.clear()
            self._dropped_warned[key] = now_ms
        log.warning(
            "service %s: Whatsapp.From is not allowed for the %s list, sent with the list's"
            " own sender",
            job.service_sid,
            route_sid or "global",
        )

    def _providers_for(self, job: DeliveryJob, warn: bool = False) -> Sequence[DeliveryProvider]:
        """The job's route's list for its channel; the global list when the job names no
        route (queued before routes, or none chosen), when its route has no list for the
        channel, or when the operator removed the route since (logged as a warning)."""
        channel = job.message.channel
        if job.route_sid is not None:
            route = self._routes.get(job.route_sid)
            if route is None and warn:
                log.warning(
                    "attempt %s: route %s is not configured (any more), sending through the"
                    " global %s providers",
                    job.attempt_sid,
                    job.route_sid,
                    channel.value,
                )
                self._metrics.unknown_route(channel.value)
            if route is not None and channel in route:
                return route[channel]
        return self._providers.get(channel, ())

    def _after_transient(
        self, job: DeliveryJob, provider: DeliveryProvider, error: DeliveryError
    ) -> None:
        next_try = job.try_number + 1
        if next_try >= self._policy.tries_per_provider:
            self._next_provider(job, provider, error)
            return
        due_ms = self._clock.now_ms() + self._policy.delay_ms(job.try_number)
        self._queue.reschedule(job, due_ms, job.provider_index, next_try)
        self._metrics.delivery_try(job.message.channel.value, provider.name, SendOutcome.RETRY)
        log.info(
            "attempt %s: %s failed (%s), try %d of %d later",
            job.attempt_sid,
            provider.name,
            error.reason,
            next_try + 1,
            self._policy.tries_per_provider,
        )

    def _next_provider(
        self, job: DeliveryJob, provider: DeliveryProvider, error: DeliveryError
    ) -> None:
        providers = self._providers_for(job)
        log.info("attempt %s: %s gave up (%s)", job.attempt_sid, provider.name, error.reason)
        self._metrics.delivery_try(job.message.channel.value, provider.name, SendOutcome.FAILED)
        if job.provider_index + 1 >= len(providers):
            reason = _naming(provider.name, error.reason)
            self._give_up(job, reason, self._clock.now_ms(), error, provider.name)
            return
        self._queue.reschedule(job, self._clock.now_ms(), job.provider_index + 1, 0)

    def _give_up(
        self,
        job: DeliveryJob,
        reason: str,
        now_ms: int,
        error: DeliveryError | None = None,
        provider: str | None = None,
    ) -> None:
        if self._queue.dead_letter(job, reason, now_ms):
            error_code = (error.error_code if error else None) or "all_providers_failed"
            self._queue.record_status(
                job.attempt_sid,
                AttemptStatus.FAILED,
                now_ms,
                error_code=error_code,
                route_sid=self._route_in_use(job) or "",
            )
            self._emit(
                EventType.DELIVERY_FAILED, job, now_ms, provider=provider, error_code=error_code
            )
            log.warning("attempt %s: every provider failed, dead-lettered", job.attempt_sid)
            self._metrics.dead_lettered(job.message.channel.value)
            if self._fallback is not None:
                self._fallback.delivery_failed(job, now_ms)

    def _count_sent(self, job: DeliveryJob, provider: str) -> None:
        """A send, and how long after its start (`enqueued_ms`) the provider accepted it."""
        channel = job.message.channel.value
        self._metrics.delivery_try(channel, provider, SendOutcome.SENT)
        seconds = (self._clock.now_ms() - job.enqueued_ms) / 1000
        self._metrics.delivery_latency(channel, provider, seconds)

    def _emit(
        self,
        event_type: EventType,
        job: DeliveryJob,
        now_ms: int,
        provider: str | None = None,
        error_code: str | None = None,
    ) -> None:
        """delivery.sent / delivery.failed for webhooks that want it (docs/webhooks.md)."""
        events = self._events
        if events is None:
            return
        events.emit(
            job.service_sid,
            event_type,
            lambda: delivery_event(
                event_type,
                events.account_sid,
                job.service_sid,
                job.verification_sid,
                job.attempt_sid,
                job.message.channel.value,
                job.to,
                destination_country(job.message.channel, job.to),
                now_ms,
                provider=provider,
                error_code=error_code,
            ),
        )


def _naming(provider: str, reason: str) -> str:
    """A dead letter's reason names its provider once: the adapters' reasons mostly start
    with it already (`smtp://mail:25 could not be reached`)."""
    return reason if reason.startswith(provider) else f"{provider}: {reason}"

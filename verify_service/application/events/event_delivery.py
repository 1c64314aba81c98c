"""The events loop of the worker process: sends each event to each subscribed webhook,
signed, at least once; retries with exponential backoff and jitter (by the Clock), then a
dead letter; and settles due expiry watches: a verification still pending at its expiry
is counted (`verify_verifications_expired_total`) and, for a webhook that wants it, a
`verification.expired` event.

At-least-once: a delivery is acknowledged only after the receiver answered 2xx (or it was
dropped, rescheduled or dead-lettered in one atomic step); a worker that dies mid-send
leaves it pending, and a worker reclaims it after the visibility timeout. The receiver
de-duplicates by `uuid` (= `I-Twilio-Idempotency-Token`), the same on every retry.

Isolation (one slow or dead receiver must not hold up the others): sends run concurrently
on a small pool (`senders`), at most one in flight per webhook and at most half the pool
per service; a worker reads only as many deliveries as it has senders free and starts each
at once, so none waits past the visibility timeout in its hands. A delivery whose webhook
is busy waits in this process (`parked`) and is re-claimed just before it is sent. A
webhook that failed `BREAKER_FAILURES` times in a row has its deliveries deferred, not
tried, until its breaker's time is up; then one delivery probes it. A webhook with more
than `backlog_cap` deliveries pending has the ones it cannot send now dead-lettered."""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from verify_service.application.delivery.resilient_loop import run_until_stopped
from verify_service.application.events.ports import (
    EventDelivery,
    EventOutbox,
    EventSender,
    ExpirySchedule,
    ExpiryState,
    ExpiryWatch,
    SendResult,
)
from verify_service.application.events.publisher import EventPublisher
from verify_service.application.metrics.ports import NO_METRICS, EventOutcome, Metrics
from verify_service.application.ports import Clock
from verify_service.application.webhooks.ports import Webhook, WebhookDirectory
from verify_service.domain.events.event_types import EventType
from verify_service.domain.events.events import expired_event
from verify_service.domain.events.signing import (
    IDEMPOTENCY_HEADER,
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    twilio_signature,
)

log = logging.getLogger(__name__)
_jitter = random.SystemRandom()

# An expiry watch claimed by a worker is hidden this long: a worker that dies before it
# wrote the event leaves it to another one after that.
EXPIRY_LEASE_MS = 30_000
EXPIRIES_PER_TURN = 100
# How often (clock ms) a worker looks for due retries and due expiries: a retry goes at
# most this late, an expiry event at most a second after the expiry. Between looks an
# idle worker only reads the streams: a few commands a second per worker, not hundreds.
PROMOTE_EVERY_MS = 250
EXPIRIES_EVERY_MS = 1_000
# Concurrent sends per worker (Settings: VERIFY_EVENT_SENDERS), and how many deliveries
# may wait in a worker for their webhook's previous send (past that: deferred in Redis).
SENDERS = 8
PARKED_PER_SENDER = 4
PARKED_PER_WEBHOOK = 16
BUSY_DEFER_MS = 1_000
# The circuit breaker: this many failures in a row open it for 10 s, doubling on every
# failed probe up to 5 minutes; a delivered probe closes it.
BREAKER_FAILURES = 5
BREAKER_FIRST_OPEN_MS = 10_000
BREAKER_LONGEST_OPEN_MS = 300_000
# Deliveries pending per webhook past which the ones it cannot send now are dead letters
# (Redis runs `noeviction`: an unbounded backlog would end in 503s for everything).
BACKLOG_CAP = 10_000


@dataclass(frozen=True, slots=True)
class EventRetryPolicy:
    """Sends per delivery and the backoff between them: equal jitter (half the delay
    fixed, half random) over `base · 2^try`, capped. The defaults try 10 times, the waits
    between tries up to 1 s, 2 s, 4 s … 256 s (about 4 to 8.5 minutes in all), then
    dead-letter (Settings: VERIFY_EVENT_*)."""

    max_tries: int = 10
    base_delay_ms: int = 1_000
    max_delay_ms: int = 300_000
    visibility_timeout_ms: int = 30_000
    # Handed out this many times (its worker died or hung each time): a dead letter.
    max_deliveries: int = 5

    def delay_ms(self, try_number: int) -> int:
        ceiling: int = min(self.max_delay_ms, self.base_delay_ms * 2**try_number)
        return ceiling // 2 + int(_jitter.uniform(0, ceiling / 2))


@dataclass(frozen=True, slots=True)
class Signer:
    """The primary ring key's webhook signing token and its id (the token never in a repr,
    so never in a log line or a traceback's locals)."""

    token: str = field(repr=False)
    key_id: str


@dataclass(slots=True)
class _Breaker:
    failures: int = 0  # in a row
    opens: int = 0  # times opened in a row (the next open lasts twice as long)
    open_until_ms: int = 0


class CircuitBreakers:
    """Per webhook, in this worker's memory: Redis is not asked (no round trip per send),
    and each worker learns a receiver is down from its own `failures` sends; with W
    workers at most W probes go to a dead receiver per open period. A restart forgets
    them: the receiver then gets `failures` tries again, which is what a new worker
    should do anyway. Entries go when their webhook delivers."""

    def __init__(
        self,
        failures: int = BREAKER_FAILURES,
        first_open_ms: int = BREAKER_FIRST_OPEN_MS,
        longest_open_ms: int = BREAKER_LONGEST_OPEN_MS,
    ) -> None:
        self._failures = failures
        self._first_open_ms = first_open_ms
        self._longest_open_ms = longest_open_ms
        self._lock = threading.Lock()
        self._by_webhook: dict[str, _Breaker] = {}

    def open_until(self, webhook_sid: str, now_ms: int) -> int | None:
        """When the webhook may be tried again, if not now (its breaker is open)."""
        with self._lock:
            breaker = self._by_webhook.get(webhook_sid)
            if breaker is None or breaker.open_until_ms <= now_ms:
                return None
            return breaker.open_until_ms

    def delivered(self, webhook_sid: str) -> bool:
        """A 2xx: closed. True if it was open (a transition worth a log line)."""
        with self._lock:
            breaker = self._by_webhook.pop(webhook_sid, None)
        return breaker is not None and breaker.opens > 0

    def failed(self, webhook_sid: str, now_ms: int) -> int | None:
        """A failed send; returns when it may be tried again if this opened the breaker."""
        with self._lock:
            breaker = self._by_webhook.setdefault(webhook_sid, _Breaker())
            breaker.failures += 1
            if breaker.failures < self._failures:
                return None
            open_ms = min(self._longest_open_ms, self._first_open_ms * 2**breaker.opens)
            breaker.opens += 1
            breaker.open_until_ms = now_ms + open_ms
            return breaker.open_until_ms


class EventDeliveryWorker:
    def __init__(
        self,
        outbox: EventOutbox,
        directory: WebhookDirectory,
        sender: EventSender,
        signer: Signer,
        clock: Clock,
        policy: EventRetryPolicy,
        consumer: str,
        account_sid: str,
        expiries: ExpirySchedule | None = None,
        publisher: EventPublisher | None = None,
        metrics: Metrics = NO_METRICS,
        senders: int = SENDERS,
        breakers: CircuitBreakers | None = None,
        backlog_cap: int = BACKLOG_CAP,
    ) -> None:
        self._metrics = metrics
        self._outbox = outbox
        self._directory = directory
        self._sender = sender
        self._signer = signer
        self._clock = clock
        self._policy = policy
        self._consumer = consumer
        self._account_sid = account_sid
        self._expiries = expiries
        self._publisher = publisher
        self._next_promote_ms = 0
        self._next_expiries_ms = 0
        self._senders = max(1, senders)
        self._service_share = max(1, self._senders // 2)
        self._breakers = breakers or CircuitBreakers()
        self._backlog_cap = backlog_cap
        self._pool = ThreadPoolExecutor(self._senders, thread_name_prefix="events-send")
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._in_flight: dict[str, str] = {}  # webhook sid → its service sid
        self._per_service: Counter[str] = Counter()
        self._parked: dict[str, deque[tuple[EventDelivery, Webhook]]] = {}
        self._parked_count = 0
        self._full: set[str] = set()  # webhooks over their backlog cap (logged once)
        self._closing = False

    def run_once(self, batch: int | None = None) -> int:
        """Promote due retries, emit due expiries, then read as many deliveries as there
        are senders free (at most `batch`) and start sending them; returns how many
        deliveries and expiries were handled (sends may still be in flight: `settle`)."""
        now_ms = self._clock.now_ms()
        handled = 0
        if now_ms >= self._next_promote_ms:
            self._next_promote_ms = now_ms + PROMOTE_EVERY_MS
            self._outbox.promote_due(now_ms)
        if now_ms >= self._next_expiries_ms:
            self._next_expiries_ms = now_ms + EXPIRIES_EVERY_MS
            handled += self.emit_due_expiries(now_ms)
        with self._lock:
            free = self._senders - len(self._in_flight)
        if batch is not None:
            free = min(free, batch)
        if free <= 0:
            return handled
        deliveries = self._outbox.read(self._consumer, free, self._policy.visibility_timeout_ms)
        for delivery in deliveries:
            self.process(delivery)
        return handled + len(deliveries)

    def run(self, stop: threading.Event, idle_wait_s: float = 0.2) -> None:
        """Until `stop` is set; a Redis outage pauses the loop, which resumes by itself.
        The sends in flight are finished before it returns."""
        self._outbox.ensure_groups()

        def turn() -> float:
            if self.run_once() > 0:
                return 0.0
            self.settle(idle_wait_s, any_one=True)  # a sender freed: read again at once
            return 0.0

        try:
            run_until_stopped("events worker", stop, turn)
        finally:
            self.close()

    def settle(self, timeout_s: float | None = None, any_one: bool = False) -> bool:
        """Wait until no send is in flight (or, `any_one`, until one finishes), at most
        `timeout_s`; True if any was in flight when called."""
        with self._changed:
            busy = len(self._in_flight)
            if busy == 0:
                if any_one and timeout_s:
                    self._changed.wait(timeout_s)  # an idle turn: a short nap
                return False
            if any_one:
                self._changed.wait_for(lambda: len(self._in_flight) < busy, timeout_s)
            else:
                self._changed.wait_for(lambda: not self._in_flight, timeout_s)
            return True

    def close(self) -> None:
        """Finish the sends in flight (each bounded by the sender's total timeout); the
        deliveries waiting here for their webhook stay pending in Redis, and a worker
        takes them over after the visibility timeout."""
        with self._lock:
            self._closing = True
        self._pool.shutdown(wait=True, cancel_futures=False)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    # -- expiries -------------------------------------------------------------------------

    def emit_due_expiries(self, now_ms: int) -> int:
        if self._expiries is None:
            return 0
        watches = self._expiries.claim_due(now_ms, EXPIRY_LEASE_MS, EXPIRIES_PER_TURN)
        for watch in watches:
            self.settle_expiry(watch, now_ms)
        return len(watches)

    def settle_expiry(self, watch: ExpiryWatch, now_ms: int) -> None:
        """A claimed watch: still pending at its expiry → the event (only for a webhook
        that wants it; at least once), then the count, exactly once: a claim is a lease,
        and when two workers' leases overlapped (the first stalled past it), only the one
        whose `done` removed the watch counts it."""
        expired = self._expiries is not None and (
            self._expiries.state(watch, now_ms) is ExpiryState.EXPIRED
        )
        if expired and self._publisher is not None:
            self._publisher.emit(
                watch.service_sid,
                EventType.VERIFICATION_EXPIRED,
                lambda: expired_event(
                    self._account_sid,
                    watch.service_sid,
                    watch.verification_sid,
                    watch.channel,
                    watch.masked_to,
                    watch.country,
                    watch.created_ms,
                    watch.expires_ms,
                    now_ms,
                    tags=watch.tags,
                ),
            )
        if self._expiries is not None and self._expiries.done(watch) and expired:
            self._metrics.verification_expired(watch.channel)

    # -- deliveries -----------------------------------------------------------------------

    def process(self, delivery: EventDelivery) -> None:
        """Start sending `delivery` on a free sender, or let it wait for its webhook's
        send in flight, or defer it (breaker open), or drop it (webhook gone)."""
        event = delivery.event
        if delivery.deliveries > self._policy.max_deliveries:
            reason = f"abandoned by {delivery.deliveries - 1} workers"
            self._give_up(delivery, reason)
            return
        webhook = self._directory.get(event.service_sid, delivery.webhook_sid)
        if webhook is None or not webhook.wants(event.type):
            # Deleted, disabled or unsubscribed since the event was written: nothing more.
            if self._outbox.complete(delivery):
                log.info(
                    "events: %s for %s dropped (webhook deleted, disabled or unsubscribed)",
                    delivery.key,
                    event.type.value,
                )
            return
        if self._defer_if_open(delivery):
            return
        sid, service = delivery.webhook_sid, event.service_sid
        with self._lock:
            busy = sid in self._in_flight or self._per_service[service] >= self._service_share
            if not busy:
                self._in_flight[sid] = service
                self._per_service[service] += 1
            elif (
                self._parked_count < self._senders * PARKED_PER_SENDER
                and len(self._parked.get(sid, ())) < PARKED_PER_WEBHOOK
            ):
                self._parked.setdefault(sid, deque()).append((delivery, webhook))
                self._parked_count += 1
                return
        if busy:  # too many waiting here already: back to Redis, a little later
            if not self._over_cap(delivery):
                self._outbox.reschedule(
                    delivery, self._clock.now_ms() + BUSY_DEFER_MS, delivery.try_number
                )
            return
        self._pool.submit(self._send_all, delivery, webhook, False)

    def _send_all(self, delivery: EventDelivery, webhook: Webhook, parked: bool) -> None:
        """On a sender thread: this delivery, then the ones waiting for this webhook (or
        for another webhook of its service), until none waits."""
        next_one: tuple[EventDelivery, Webhook, bool] | None = (delivery, webhook, parked)
        while next_one is not None:
            current, hook, was_parked = next_one
            try:
                self._send_one(current, hook, was_parked)
            except Exception:  # Redis down mid-way: the delivery is reclaimed later
                log.exception("events: %s: not finished", current.key)
            next_one = self._after(current)

    def _after(self, done: EventDelivery) -> tuple[EventDelivery, Webhook, bool] | None:
        """The next delivery this sender takes (the same webhook's first, else another
        webhook of the same service not in flight), or None: the sender is free."""
        sid, service = done.webhook_sid, done.event.service_sid
        with self._changed:
            if self._closing:  # stopping: what waits here stays pending, for a reclaim
                self._parked.clear()
                self._parked_count = 0
            candidates = [sid] + [
                other
                for other, queue in self._parked.items()
                if other != sid
                and other not in self._in_flight
                and queue
                and queue[0][0].event.service_sid == service
            ]
            for candidate in candidates:
                queue = self._parked.get(candidate)
                if queue:
                    delivery, webhook = queue.popleft()
                    if not queue:
                        del self._parked[candidate]
                    self._parked_count -= 1
                    del self._in_flight[sid]
                    self._in_flight[candidate] = service
                    return delivery, webhook, True
            del self._in_flight[sid]
            self._per_service[service] -= 1
            if self._per_service[service] <= 0:
                del self._per_service[service]
            self._changed.notify_all()
            return None

    def _send_one(self, delivery: EventDelivery, webhook: Webhook, parked: bool) -> None:
        if parked:
            if self._defer_if_open(delivery):
                return
            if not self._outbox.hold(delivery, self._consumer):
                return  # another worker took it over while it waited here: it sends it
        event = delivery.event
        form = event.form(webhook.include_destination)
        headers = {
            SIGNATURE_HEADER: twilio_signature(self._signer.token, webhook.webhook_url, form),
            KEY_ID_HEADER: self._signer.key_id,
            IDEMPOTENCY_HEADER: event.event_id,
        }
        try:
            outcome = self._sender.send(webhook.webhook_url, form, headers)
        except Exception as exc:  # a sender bug must not kill the loop: a retry
            log.exception("events: %s: the sender raised", delivery.key)
            self._failed(delivery)
            self._retry(delivery, type(exc).__name__)
            return
        if outcome.result is SendResult.DELIVERED:
            if self._breakers.delivered(delivery.webhook_sid):
                log.info("events: webhook %s answers again (breaker closed)", webhook.sid)
            if self._outbox.complete(delivery):
                self._metrics.event_delivery(EventOutcome.SENT)
                log.info("events: %s (%s) delivered", delivery.key, event.type.value)
            return
        if outcome.result is SendResult.REFUSED:
            # The target failed the rules at send time (its name resolves elsewhere now,
            # or its URL cannot be sent): never sent, recorded as a dead letter an
            # operator can requeue after a fix.
            self._give_up(delivery, outcome.detail)
            self._metrics.event_delivery(EventOutcome.REFUSED)
            return
        self._failed(delivery)
        self._retry(delivery, outcome.detail)

    def _failed(self, delivery: EventDelivery) -> None:
        opened = self._breakers.failed(delivery.webhook_sid, self._clock.now_ms())
        if opened is not None:
            log.warning(
                "events: webhook %s failed %d times in a row: its deliveries wait %d s "
                "(breaker open), then one probes it",
                delivery.webhook_sid,
                BREAKER_FAILURES,
                (opened - self._clock.now_ms()) // 1000,
            )

    def _defer_if_open(self, delivery: EventDelivery) -> bool:
        """The webhook's breaker is open: the delivery waits in Redis until it may be
        tried (no try counted), or is a dead letter if its webhook's backlog is full."""
        until_ms = self._breakers.open_until(delivery.webhook_sid, self._clock.now_ms())
        if until_ms is None:
            return False
        if not self._over_cap(delivery):
            due_ms = until_ms + int(_jitter.uniform(0, BUSY_DEFER_MS))
            self._outbox.reschedule(delivery, due_ms, delivery.try_number)
        return True

    def _over_cap(self, delivery: EventDelivery) -> bool:
        """Dead-letters `delivery` if its webhook has more than the cap pending (logged
        once when a webhook goes over, once when it is back under)."""
        sid = delivery.webhook_sid
        pending = self._outbox.backlog_of(sid)
        with self._lock:
            was_full = sid in self._full
            full = pending > self._backlog_cap
            if full:
                self._full.add(sid)
            else:
                self._full.discard(sid)
        if full and not was_full:
            log.warning(
                "events: webhook %s has %d deliveries pending, over its cap of %d: the ones "
                "it cannot take now are dead letters (backlog full)",
                sid,
                pending,
                self._backlog_cap,
            )
        elif was_full and not full:
            log.info("events: webhook %s is back under its backlog cap", sid)
        if full:
            self._give_up(delivery, f"backlog full ({self._backlog_cap} pending)", quiet=True)
        return full

    def _retry(self, delivery: EventDelivery, detail: str) -> None:
        next_try = delivery.try_number + 1
        if next_try >= self._policy.max_tries:
            self._give_up(delivery, f"{next_try} tries, last: {detail}")
            return
        due_ms = self._clock.now_ms() + self._policy.delay_ms(delivery.try_number)
        if self._outbox.reschedule(delivery, due_ms, next_try):
            self._metrics.event_delivery(EventOutcome.RETRIED)
            log.info(
                "events: %s failed (%s), try %d of %d later",
                delivery.key,
                detail,
                next_try + 1,
                self._policy.max_tries,
            )

    def _give_up(self, delivery: EventDelivery, reason: str, quiet: bool = False) -> None:
        """A dead letter (logged, unless `quiet`: a full backlog logs its transitions)."""
        if self._outbox.dead_letter(delivery, reason, self._clock.now_ms()):
            self._metrics.event_delivery(EventOutcome.DEAD_LETTERED)
            if quiet:
                return
            log.warning("events: %s dead-lettered (%s)", delivery.key, reason)

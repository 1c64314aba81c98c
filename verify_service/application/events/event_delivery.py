"""The events loop of the worker process: sends each event to each subscribed webhook,
signed, at least once; retries with exponential backoff and jitter (by the Clock), then a
dead letter; and turns due expiry watches into `verification.expired` events.

At-least-once: a delivery is acknowledged only after the receiver answered 2xx (or it was
dropped, rescheduled or dead-lettered in one atomic step); a worker that dies mid-send
leaves it pending, and a worker reclaims it after the visibility timeout. The receiver
de-duplicates by `uuid` (= `I-Twilio-Idempotency-Token`), the same on every retry."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass

from verify_service.application.delivery.resilient_loop import run_until_stopped
from verify_service.application.events.ports import (
    EventDelivery,
    EventOutbox,
    EventSender,
    ExpirySchedule,
    ExpiryState,
    SendResult,
)
from verify_service.application.events.publisher import EventPublisher
from verify_service.application.metrics.ports import NO_METRICS, EventOutcome, Metrics
from verify_service.application.ports import Clock
from verify_service.application.webhooks.ports import WebhookDirectory
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
    """The primary ring key's webhook signing token and its id."""

    token: str
    key_id: str


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

    def run_once(self, batch: int = 1) -> int:
        """Promote due retries, emit due expiries, then send one batch; returns how many
        deliveries and expiries were handled. One delivery per read by default: the
        visibility timeout runs from the read, and a send may take its whole timeout."""
        now_ms = self._clock.now_ms()
        handled = 0
        if now_ms >= self._next_promote_ms:
            self._next_promote_ms = now_ms + PROMOTE_EVERY_MS
            self._outbox.promote_due(now_ms)
        if now_ms >= self._next_expiries_ms:
            self._next_expiries_ms = now_ms + EXPIRIES_EVERY_MS
            handled += self.emit_due_expiries(now_ms)
        deliveries = self._outbox.read(self._consumer, batch, self._policy.visibility_timeout_ms)
        for delivery in deliveries:
            self.process(delivery)
        return handled + len(deliveries)

    def run(self, stop: threading.Event, idle_wait_s: float = 0.2) -> None:
        """Until `stop` is set; a Redis outage pauses the loop, which resumes by itself."""
        self._outbox.ensure_groups()

        def turn() -> float:
            return idle_wait_s if self.run_once() == 0 else 0.0

        run_until_stopped("events worker", stop, turn)

    # -- expiries -------------------------------------------------------------------------

    def emit_due_expiries(self, now_ms: int) -> int:
        if self._expiries is None or self._publisher is None:
            return 0
        watches = self._expiries.claim_due(now_ms, EXPIRY_LEASE_MS, EXPIRIES_PER_TURN)
        for watch in watches:
            if self._expiries.state(watch, now_ms) is ExpiryState.EXPIRED:
                self._publisher.emit(
                    watch.service_sid,
                    EventType.VERIFICATION_EXPIRED,
                    lambda watch=watch: expired_event(  # type: ignore[misc]
                        self._account_sid,
                        watch.service_sid,
                        watch.verification_sid,
                        watch.channel,
                        watch.masked_to,
                        watch.country,
                        watch.created_ms,
                        watch.expires_ms,
                        now_ms,
                    ),
                )
            self._expiries.done(watch)
        return len(watches)

    # -- deliveries -----------------------------------------------------------------------

    def process(self, delivery: EventDelivery) -> None:
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
            self._retry(delivery, type(exc).__name__)
            return
        if outcome.result is SendResult.DELIVERED:
            if self._outbox.complete(delivery):
                self._metrics.event_delivery(EventOutcome.SENT)
                log.info("events: %s (%s) delivered", delivery.key, event.type.value)
            return
        if outcome.result is SendResult.REFUSED:
            # The target failed the rules at send time (its name resolves elsewhere now):
            # never sent, recorded as a dead letter an operator can requeue after a fix.
            self._give_up(delivery, outcome.detail)
            self._metrics.event_delivery(EventOutcome.REFUSED)
            return
        self._retry(delivery, outcome.detail)

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

    def _give_up(self, delivery: EventDelivery, reason: str) -> None:
        if self._outbox.dead_letter(delivery, reason, self._clock.now_ms()):
            self._metrics.event_delivery(EventOutcome.DEAD_LETTERED)
            log.warning("events: %s dead-lettered (%s)", delivery.key, reason)

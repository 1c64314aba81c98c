"""What event publishing and delivery need from the outside: the event outbox (Redis
streams, retries, dead letters), the expiry schedule, and the HTTP sender."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from verify_service.domain.events.events import Event


@dataclass(frozen=True, slots=True)
class EventDelivery:
    """One event on its way to one webhook (each webhook's delivery retries on its own)."""

    delivery_id: str  # where it sits in the outbox (`<shard tag>/<stream entry id>`)
    event: Event
    webhook_sid: str
    try_number: int  # sends tried so far
    enqueued_ms: int
    deliveries: int = 1  # times a worker was handed it (more than 1: reclaimed)

    @property
    def key(self) -> str:
        """The delivery's name in the dead letters (`<event uuid>.<YW sid>`)."""
        return delivery_key(self.event.event_id, self.webhook_sid)


def delivery_key(event_id: str, webhook_sid: str) -> str:
    return f"{event_id}.{webhook_sid}"


@dataclass(frozen=True, slots=True)
class EventDeadLetter:
    key: str  # `<event uuid>.<YW sid>`
    failed_ms: int
    event_type: str
    reason: str


@dataclass(frozen=True, slots=True)
class ExpiryWatch:
    """A verification whose expiry is watched (a webhook wants `verification.expired`, or
    metrics count `verify_verifications_expired_total`): what the event needs (the
    destination masked only), and when to look."""

    service_sid: str
    verification_sid: str
    tag: str  # the verification's destination tag (its keys)
    channel: str
    masked_to: str
    country: str | None
    created_ms: int
    expires_ms: int
    # The start's `Tags` (JSON object text; None: none, or a watch from before tags), sent
    # as `tags` like the verification's other events. Stored sealed: `sealed_tags` is that
    # stored form (the schedule's own, set by it; kept so the watch can be found again).
    tags: str | None = None
    sealed_tags: str | None = None


class ExpiryState(enum.StrEnum):
    EXPIRED = "expired"  # still pending when its time came: emit verification.expired
    ENDED = "ended"  # approved or canceled before: nothing to emit


class EventOutbox(Protocol):
    def append(self, event: Event, webhook_sids: Sequence[str]) -> None:
        """One delivery per webhook, in one round trip."""
        ...

    def ensure_groups(self) -> None: ...

    def read(self, consumer: str, count: int, visibility_ms: int) -> list[EventDelivery]:
        """At most `count` deliveries in all, taken from the shards in turn."""
        ...

    def hold(self, delivery: EventDelivery, consumer: str) -> bool:
        """Just before sending a delivery read a while ago: whether `consumer` still holds
        it (its idle time then starts again)."""
        ...

    def backlog_of(self, webhook_sid: str) -> int:
        """Deliveries pending for one webhook (queued, in hand or waiting for a retry)."""
        ...

    def complete(self, delivery: EventDelivery) -> bool: ...

    def reschedule(self, delivery: EventDelivery, due_ms: int, try_number: int) -> bool: ...

    def dead_letter(self, delivery: EventDelivery, reason: str, now_ms: int) -> bool: ...

    def promote_due(self, now_ms: int) -> int: ...

    def dead_letters(self, limit: int) -> list[EventDeadLetter]: ...

    def requeue(self, key: str, now_ms: int) -> bool: ...


class ExpirySchedule(Protocol):
    def claim_due(self, now_ms: int, lease_ms: int, limit: int) -> list[ExpiryWatch]:
        """Watches due by `now_ms`, each hidden for `lease_ms` (a worker that dies before
        `done` leaves it to be claimed again)."""
        ...

    def state(self, watch: ExpiryWatch, now_ms: int) -> ExpiryState: ...

    def done(self, watch: ExpiryWatch) -> bool:
        """Remove the watch; True for the one caller that removed it (of two workers whose
        leases overlapped, only one counts the expiry)."""
        ...


class SendResult(enum.StrEnum):
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # anything else (non-2xx, timeout, refused connection): retried
    REFUSED = "refused"  # the target failed the SSRF rules at send time: never retried


@dataclass(frozen=True, slots=True)
class SendOutcome:
    result: SendResult
    detail: str  # "http 500", "timeout", "target refused: …" (never a body or a secret)


class EventSender(Protocol):
    def send(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> SendOutcome:
        """POST `form` (form-encoded) to `url`, re-checking the target first and
        connecting only to the address that was checked; no redirects."""
        ...

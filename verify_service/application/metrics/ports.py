"""The metrics port: what the use cases, the worker and the HTTP layer report.

Every argument is a value from a small, fixed set (a channel, a provider's display name, an
outcome word, a route template): never a destination, a code or a sid, so no label can
carry one (tests/unit/test_metrics_labels.py holds the adapter to it). `NO_METRICS`
records nothing: tests and the embedded mode need nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Refusal:
    """Why a start or a check was refused, as the `reason` label says it."""

    RATE_LIMIT = "rate_limit"
    GEO_PERMISSION = "geo_permission"
    FRAUD_GUARD = "fraud_guard"


class SendOutcome:
    """What became of one try of a message with one provider (the `outcome` label)."""

    SENT = "sent"  # the provider accepted it
    RETRY = "retry"  # a transient failure: the same provider again later
    FAILED = "failed"  # a permanent failure (or tries used up): the next provider
    DROPPED = "dropped"  # its verification ended before the send: nothing sent


class EventOutcome:
    """What became of one try of a webhook event delivery (the `outcome` label of
    `verify_event_deliveries_total`). A `refused` delivery is also a dead letter, and
    counted as `dead_lettered` too."""

    SENT = "sent"  # the receiver answered 2xx
    RETRIED = "retried"  # a failed send, tried again later
    DEAD_LETTERED = "dead_lettered"  # moved to the event dead letters (any reason)
    REFUSED = "refused"  # the target failed the target rules at send time


@dataclass(frozen=True, slots=True)
class QueueBacklog:
    """What a queue holds at one instant (read at scrape time)."""

    ready: int  # in the streams: waiting for a worker, or in a worker's hands
    delayed: int  # waiting for a retry's due time
    dead_letters: int
    oldest_enqueued_ms: int | None  # the oldest message in the streams (None: empty)

    @property
    def depth(self) -> int:
        """Every message still to send: queued, in a worker's hands, or waiting to retry."""
        return self.ready + self.delayed

    @property
    def oldest_ms(self) -> int | None:
        """`/readyz`'s name for `oldest_enqueued_ms` (application/delivery/supervision.py)."""
        return self.oldest_enqueued_ms


class QueueProbe(Protocol):
    """A queue whose backlog the metrics show (the delivery outbox; the event outbox)."""

    @property
    def queue_name(self) -> str:
        """The `queue` label: `delivery`, `events`."""
        ...

    def backlog(self) -> QueueBacklog:
        """One bounded read (a pipeline of a few commands per shard); raises
        `StoreUnavailable` when Redis does not answer."""
        ...


class Metrics(Protocol):
    """What is counted. Every method is cheap and never raises."""

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request; `route` is the URL rule's template (`/v2/Services/<sid>`),
        never the path a client sent."""

    def verification_started(self, channel: str, result: str) -> None:
        """A start that queued a message: `result` is `created` or `resent`."""

    def verification_approved(self, channel: str) -> None: ...

    def verification_expired(self, channel: str) -> None:
        """Reported by whoever sees a verification expire (the event schedule)."""

    def refused(self, reason: str, operation: str) -> None:
        """A start or a check (`operation`) refused by a `Refusal` reason."""

    def delivery_try(self, channel: str, provider: str, outcome: str) -> None: ...

    def delivery_latency(self, channel: str, provider: str, seconds: float) -> None:
        """From the start that queued the message to its provider's acceptance."""

    def dead_lettered(self, channel: str) -> None: ...

    def unknown_route(self, channel: str) -> None:
        """A queued message named a route the operator removed: the global list sent it."""

    def whatsapp_sender_dropped(self, sending_list: str) -> None:
        """A WhatsApp message went out without the service's Whatsapp.From: the list that
        sent it (`route` or `global`) does not allow that sender."""

    def redis_error(self, process: str) -> None:
        """The store failed closed (a 503 from the API, a paused turn of the worker)."""

    def event_delivery(self, outcome: str) -> None:
        """One webhook event delivery's try, by `EventOutcome`."""

    def fraud_guard_trip(self, mode: str) -> None:
        """Fraud Guard tripped on a prefix (`block`) or would have (`monitor`)."""


class NoMetrics:
    """Records nothing (metrics off: `VERIFY_METRICS_TOKEN` unset, tests, embedded mode)."""

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        pass

    def verification_started(self, channel: str, result: str) -> None:
        pass

    def verification_approved(self, channel: str) -> None:
        pass

    def verification_expired(self, channel: str) -> None:
        pass

    def refused(self, reason: str, operation: str) -> None:
        pass

    def delivery_try(self, channel: str, provider: str, outcome: str) -> None:
        pass

    def delivery_latency(self, channel: str, provider: str, seconds: float) -> None:
        pass

    def dead_lettered(self, channel: str) -> None:
        pass

    def unknown_route(self, channel: str) -> None:
        pass

    def whatsapp_sender_dropped(self, sending_list: str) -> None:
        pass

    def redis_error(self, process: str) -> None:
        pass

    def event_delivery(self, outcome: str) -> None:
        pass

    def fraud_guard_trip(self, mode: str) -> None:
        pass


NO_METRICS: Metrics = NoMetrics()

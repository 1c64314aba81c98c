"""The metrics port on `prometheus_client`: the families the service exports
(docs/operations.md, "Monitoring and alerts", lists them with their labels).

Label values come from small fixed sets only. What a caller passes is checked against them
here, so that a mistake at a call site cannot put a destination, a code or a sid in a label:
a method outside HTTP's usual ones is `other`, a route must be a URL rule's template, an
outcome or a reason outside its set is `other`.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram

from verify_service.application.metrics.ports import EventOutcome, Refusal, SendOutcome
from verify_service.domain.models import Channel

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CHANNELS = frozenset(channel.value for channel in Channel)
_STARTS = frozenset({"created", "resent"})
_REASONS = frozenset({Refusal.RATE_LIMIT, Refusal.GEO_PERMISSION, Refusal.FRAUD_GUARD})
_OPERATIONS = frozenset({"start", "check"})
_OUTCOMES = frozenset(
    {SendOutcome.SENT, SendOutcome.RETRY, SendOutcome.FAILED, SendOutcome.DROPPED}
)
_PROCESSES = frozenset({"api", "worker"})
# Every value exported from the start (at zero), so rate() and alerts see the series.
_EVENT_OUTCOMES = (
    EventOutcome.SENT,
    EventOutcome.RETRIED,
    EventOutcome.DEAD_LETTERED,
    EventOutcome.REFUSED,
)
_TRIP_MODES = ("block", "monitor")
_SENDING_LISTS = ("route", "global")
# A route template: path words and `<converter:name>` placeholders, nothing a client typed.
_ROUTE = re.compile(r"^(/([A-Za-z0-9_.-]+|<([a-z]+:)?[A-Za-z_]+>)?)+$")
# Never in a template: a sid, or a run of digits (a number, a code).
_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
_DIGITS = re.compile(r"[0-9]{4}")
# A provider's display name (`twilio`, `smtp://mail.example.com`): configuration, bounded.
# A host and port only (an IPv6 host in brackets): a path or a query is never a label.
_PROVIDER = re.compile(r"^[a-z][a-z0-9+.-]*(://[A-Za-z0-9.:\[\]-]+)?$")
OTHER = "other"
UNMATCHED_ROUTE = "unmatched"  # a 404 with no route: the path a client sent is never a label

# Seconds. Requests: a check costs a few ms of argon2, a slow Redis up to its timeout.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From a start to its provider's acceptance: near 0 normally, minutes through retries.
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)


def _one_of(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


def _route(route: str) -> str:
    if route == UNMATCHED_ROUTE:
        return route
    if not _ROUTE.fullmatch(route) or _SID.search(route) or _DIGITS.search(route):
        return OTHER
    return route


def _provider(name: str) -> str:
    return name if len(name) <= 100 and _PROVIDER.fullmatch(name) else OTHER


class PrometheusMetrics:
    """Counters and histograms in `registry` (one per process; under gunicorn their values
    live in the multiprocess directory: multiprocess.py)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self._requests = Counter(
            "verify_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self._request_seconds = Histogram(
            "verify_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self._started = Counter(
            "verify_verifications_started",
            "Starts that queued a code: a new verification (created) or a resend.",
            ["channel", "result"],
            registry=r,
        )
        self._approved = Counter(
            "verify_verifications_approved",
            "Verifications approved (a right code, or an update to approved).",
            ["channel"],
            registry=r,
        )
        self._expired = Counter(
            "verify_verifications_expired",
            "Verifications that reached their expiry pending.",
            ["channel"],
            registry=r,
        )
        self._refusals = Counter(
            "verify_refusals",
            "Starts and checks refused by a rate limit, geo permissions or Fraud Guard.",
            ["reason", "operation"],
            registry=r,
        )
        self._sends = Counter(
            "verify_sends",
            "Tries to hand a message to a provider, by channel, provider and outcome.",
            ["channel", "provider", "outcome"],
            registry=r,
        )
        self._delivery_seconds = Histogram(
            "verify_delivery_latency_seconds",
            "From the start that queued a message to its provider's acceptance.",
            ["channel", "provider"],
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        self._dead_letters = Counter(
            "verify_dead_letters",
            "Messages no provider accepted, moved to the dead letters.",
            ["channel"],
            registry=r,
        )
        self._unknown_routes = Counter(
            "verify_delivery_unknown_route",
            "Messages naming a route no longer configured, sent through the global list.",
            ["channel"],
            registry=r,
        )
        self._whatsapp_senders_dropped = Counter(
            "verify_whatsapp_sender_dropped",
            "WhatsApp messages sent without Whatsapp.From: the sending list does not allow it.",
            ["list"],
            registry=r,
        )
        self._redis_errors = Counter(
            "verify_redis_errors",
            "Times the store failed closed: a 503 from the API, a paused worker turn.",
            ["process"],
            registry=r,
        )
        self._event_deliveries = Counter(
            "verify_event_deliveries",
            "Webhook event delivery tries, by outcome (refused ones are dead letters too).",
            ["outcome"],
            registry=r,
        )
        self._fraud_guard_trips = Counter(
            "verify_fraud_guard_trips",
            "Fraud Guard trips on a number prefix: blocking (block) or only reported (monitor).",
            ["mode"],
            registry=r,
        )
        for outcome in _EVENT_OUTCOMES:
            self._event_deliveries.labels(outcome)
        for mode in _TRIP_MODES:
            self._fraud_guard_trips.labels(mode)
        for sending_list in _SENDING_LISTS:
            self._whatsapp_senders_dropped.labels(sending_list)
        self._start_at_zero()

    def _start_at_zero(self) -> None:
        """Every label set known up front is exported at 0 from the start: a series that
        appeared at 1 would hide its first increment from `increase()`, so the first dead
        letter or Fraud Guard refusal after a (re)start would never fire its alert. (Labels
        with open sets, a route, a status, a provider, appear at their first sample.)"""
        for channel in sorted(_CHANNELS):
            for result in sorted(_STARTS):
                self._started.labels(channel, result)
            self._approved.labels(channel)
            self._expired.labels(channel)
            self._dead_letters.labels(channel)
            self._unknown_routes.labels(channel)
        for reason in sorted(_REASONS):
            for operation in sorted(_OPERATIONS):
                self._refusals.labels(reason, operation)
        for process in sorted(_PROCESSES):
            self._redis_errors.labels(process)

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method, route = _one_of(method, _METHODS), _route(route)
        self._requests.labels(method, route, str(status)).inc()
        self._request_seconds.labels(method, route).observe(seconds)

    def verification_started(self, channel: str, result: str) -> None:
        self._started.labels(_one_of(channel, _CHANNELS), _one_of(result, _STARTS)).inc()

    def verification_approved(self, channel: str) -> None:
        self._approved.labels(_one_of(channel, _CHANNELS)).inc()

    def verification_expired(self, channel: str) -> None:
        self._expired.labels(_one_of(channel, _CHANNELS)).inc()

    def refused(self, reason: str, operation: str) -> None:
        self._refusals.labels(_one_of(reason, _REASONS), _one_of(operation, _OPERATIONS)).inc()

    def delivery_try(self, channel: str, provider: str, outcome: str) -> None:
        self._sends.labels(
            _one_of(channel, _CHANNELS), _provider(provider), _one_of(outcome, _OUTCOMES)
        ).inc()

    def delivery_latency(self, channel: str, provider: str, seconds: float) -> None:
        self._delivery_seconds.labels(_one_of(channel, _CHANNELS), _provider(provider)).observe(
            max(0.0, seconds)
        )

    def dead_lettered(self, channel: str) -> None:
        self._dead_letters.labels(_one_of(channel, _CHANNELS)).inc()

    def unknown_route(self, channel: str) -> None:
        self._unknown_routes.labels(_one_of(channel, _CHANNELS)).inc()

    def whatsapp_sender_dropped(self, sending_list: str) -> None:
        self._whatsapp_senders_dropped.labels(
            _one_of(sending_list, frozenset(_SENDING_LISTS))
        ).inc()

    def redis_error(self, process: str) -> None:
        self._redis_errors.labels(_one_of(process, _PROCESSES)).inc()

    def event_delivery(self, outcome: str) -> None:
        self._event_deliveries.labels(_one_of(outcome, frozenset(_EVENT_OUTCOMES))).inc()

    def fraud_guard_trip(self, mode: str) -> None:
        self._fraud_guard_trips.labels(_one_of(mode, frozenset(_TRIP_MODES))).inc()

"""What a scrape answers: the counters (this process's, or every gunicorn worker's through
the multiprocess directory) and the queues' backlogs read from Redis at that moment.

The backlog is one bounded read per queue (a pipeline, a few commands per shard), and
fail-soft: when Redis does not answer, the scrape still succeeds, with
`verify_outbox_up{queue} 0` and no backlog samples for that queue, so that an alert sees a
store that is down instead of a target that is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from verify_service.adapters.metrics.multiprocess import reading, shared_directory
from verify_service.adapters.metrics.prometheus_metrics import PrometheusMetrics
from verify_service.application.metrics.ports import QueueBacklog, QueueProbe
from verify_service.application.ports import Clock

log = logging.getLogger(__name__)

Exposition = Callable[[], tuple[bytes, str]]
# The classic text format, which every Prometheus server reads (2.x included).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class BacklogCollector(Collector):
    """The queues' backlogs, read when Prometheus asks (never cached: every scrape sees now)."""

    def __init__(self, probes: Sequence[QueueProbe], clock: Clock) -> None:
        self._probes = probes
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "verify_outbox_up",
            "1 when the queue's backlog could be read from Redis.",
            None,
            ["queue"],
        )
        messages = GaugeMetricFamily(
            "verify_outbox_messages",
            "Messages in the queue: ready (waiting or in a worker's hands) or delayed (a "
            "retry not yet due).",
            labels=["queue", "state"],
        )
        oldest = GaugeMetricFamily(
            "verify_outbox_oldest_message_age_seconds",
            "Age of the oldest ready message (0 when none is).",
            labels=["queue"],
        )
        dead = GaugeMetricFamily(
            "verify_outbox_dead_letters",
            "Messages in the queue's dead-letter lists.",
            labels=["queue"],
        )
        now_ms = self._clock.now_ms()
        for probe in self._probes:
            backlog = self._read(probe)
            up.add_metric([probe.queue_name], 0 if backlog is None else 1)
            if backlog is None:
                continue
            messages.add_metric([probe.queue_name, "ready"], backlog.ready)
            messages.add_metric([probe.queue_name, "delayed"], backlog.delayed)
            age_ms = (
                0 if backlog.oldest_enqueued_ms is None else now_ms - backlog.oldest_enqueued_ms
            )
            oldest.add_metric([probe.queue_name], max(0, age_ms) / 1000)
            dead.add_metric([probe.queue_name], backlog.dead_letters)
        yield from (up, messages, oldest, dead)

    @staticmethod
    def _read(probe: QueueProbe) -> QueueBacklog | None:
        try:
            return probe.backlog()
        except Exception as exc:  # a scrape must answer even when Redis does not
            log.warning(
                "metrics: the %s backlog could not be read (%s)",
                probe.queue_name,
                type(exc).__name__,
            )
            return None


class _OwnSamples(Collector):
    """This process's own counters (no multiprocess directory)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


class _Read(Collector):
    """Samples already read."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics


def exposition(
    metrics: PrometheusMetrics, probes: Sequence[QueueProbe], clock: Clock
) -> Exposition:
    """The body and content type of one scrape."""
    backlog = BacklogCollector(probes, clock)

    def render() -> tuple[bytes, str]:
        registry = CollectorRegistry(auto_describe=False)
        directory = shared_directory()
        if directory is not None:
            # Read under the lock (never while a dead worker's samples are being folded:
            # multiprocess.py), the Redis backlog after it.
            with reading():
                shared = list(MultiProcessCollector(None, directory).collect())  # type: ignore[no-untyped-call]
            registry.register(_Read(shared))
        else:
            registry.register(_OwnSamples(metrics.registry))
        registry.register(backlog)
        return generate_latest(registry), CONTENT_TYPE

    return render

"""The delivery worker's metrics (retries, failures, dead letters, Redis errors) on a real
Redis, and its own listener: `/metrics` behind the bearer token, `/healthz` from its loop."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest
import redis
import requests
from flask import Flask

from tests.conftest import Api
from tests.integration.test_metrics_api import BEARER, TOKEN, scrape
from tests.support.fakes import FixedClock
from tests.support.processes import free_port
from tests.support.prometheus_text import value
from verify_service.adapters.metrics.exposition import exposition
from verify_service.adapters.metrics.prometheus_metrics import PrometheusMetrics
from verify_service.adapters.metrics.worker_listener import LastTurn, WorkerListener
from verify_service.app import CONTAINER_KEY, Container, create_app
from verify_service.application.delivery.delivery_worker import RetryPolicy
from verify_service.domain.delivery.delivery import (
    DeliveryReceipt,
    DeliveryRequest,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from verify_service.domain.models import Channel
from verify_service.settings import Settings

GB_MOBILE = "+447400123456"
POLICY = RetryPolicy(tries_per_provider=2, base_delay_ms=1_000, max_delay_ms=1_000)


@dataclasses.dataclass
class Gateway:
    """A provider at the process edge that answers as it is told."""

    name: str
    failure: type[Exception] | None = None

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        del request
        if self.failure is not None:
            raise self.failure("gateway says no")
        return DeliveryReceipt(self.name, "msg-1")


def build(settings: Settings, clock: FixedClock, *gateways: Gateway) -> Flask:
    return create_app(
        dataclasses.replace(settings, metrics_token=TOKEN),
        clock=clock,
        providers={channel: list(gateways) for channel in Channel},
    )


def drain(app: Flask, clock: FixedClock) -> None:
    """Run the worker, letting every retry come due, until nothing is left."""
    container: Container = app.extensions[CONTAINER_KEY]
    worker = container.delivery_worker("tests", POLICY)
    for _ in range(10):
        worker.run_once(block_ms=0)
        clock.advance(2)


def test_retries_failover_and_dead_letters_are_counted(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock
) -> None:
    """A transient failure is a retry, tries used up a failure and the next provider; the
    last provider's refusal a dead letter; the latency is counted for sends only."""
    app = build(
        settings,
        clock,
        Gateway("flaky", TransientDeliveryError),
        Gateway("refuser", PermanentDeliveryError),
    )
    api = Api(app.test_client())
    service = api.create_service()
    api.post(f"/v2/Services/{service}/Verifications", To=GB_MOBILE, Channel="sms")
    drain(app, clock)
    text = scrape(api.client)
    sends = "verify_sends_total"
    assert value(text, sends, channel="sms", provider="flaky", outcome="retry") == 1
    assert value(text, sends, channel="sms", provider="flaky", outcome="failed") == 1
    assert value(text, sends, channel="sms", provider="refuser", outcome="failed") == 1
    assert value(text, sends, outcome="sent") == 0
    assert value(text, "verify_dead_letters_total", channel="sms") == 1
    assert value(text, "verify_outbox_dead_letters", queue="delivery") == 1
    assert value(text, "verify_delivery_latency_seconds_count") == 0


def test_the_latency_runs_from_the_start_to_the_provider_s_acceptance(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock
) -> None:
    app = build(settings, clock, Gateway("twilio"))
    api = Api(app.test_client())
    service = api.create_service()
    api.post(f"/v2/Services/{service}/Verifications", To=GB_MOBILE, Channel="sms")
    clock.advance(3)  # the worker takes it 3 s after the start
    app.extensions[CONTAINER_KEY].delivery_worker("tests", POLICY).run_once(block_ms=0)
    text = scrape(api.client)
    latency = "verify_delivery_latency_seconds"
    assert value(text, f"{latency}_sum", channel="sms", provider="twilio") == 3.0
    assert value(text, f"{latency}_bucket", provider="twilio", le="2.5") == 0
    assert value(text, f"{latency}_bucket", provider="twilio", le="5.0") == 1


def test_a_message_whose_verification_ended_is_counted_as_dropped(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock
) -> None:
    app = build(settings, clock, Gateway("twilio"))
    api = Api(app.test_client())
    service = api.create_service()
    sid = api.post(f"/v2/Services/{service}/Verifications", To=GB_MOBILE, Channel="sms").json[
        "sid"  # type: ignore[index]
    ]
    api.update(service, sid, "canceled")
    drain(app, clock)
    text = scrape(api.client)
    assert value(text, "verify_sends_total", provider="none", outcome="dropped") == 1


def test_a_worker_turn_that_redis_fails_is_a_redis_error(
    settings: Settings, clock: FixedClock
) -> None:
    """The worker's loop pauses on a Redis outage; each failed turn is counted."""
    down = dataclasses.replace(
        settings, redis_url=f"redis://127.0.0.1:{free_port()}/0", metrics_token=TOKEN
    )
    app = create_app(down, clock=clock, providers={c: [Gateway("twilio")] for c in Channel})
    container: Container = app.extensions[CONTAINER_KEY]
    stop = threading.Event()
    turns: list[int] = []

    def on_turn() -> None:
        turns.append(1)
        stop.set()  # one turn is enough

    worker = container.delivery_worker("tests", POLICY, on_turn=on_turn)
    worker.run(stop, block_ms=0)
    text = scrape(app.test_client())
    assert turns == [1]  # a failed turn still shows the loop alive
    assert value(text, "verify_redis_errors_total", process="worker") == 1


# -- the worker's listener ------------------------------------------------------------------


class Liveness:
    def __init__(self) -> None:
        self.ok = True

    def __call__(self) -> bool:
        return self.ok


@pytest.fixture
def listener(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock
) -> Iterator[tuple[WorkerListener, Liveness, PrometheusMetrics]]:
    app = build(settings, clock, Gateway("twilio"))
    container: Container = app.extensions[CONTAINER_KEY]
    metrics = container.metrics
    assert isinstance(metrics, PrometheusMetrics)
    alive = Liveness()
    server = WorkerListener(
        "127.0.0.1",
        0,
        alive=alive,
        exposition=exposition(metrics, container.queue_probes(), clock),
        token=TOKEN,
    ).start()
    yield server, alive, metrics
    server.close()


def test_the_worker_s_metrics_need_the_bearer_token(
    listener: tuple[WorkerListener, Liveness, PrometheusMetrics],
) -> None:
    server, _alive, metrics = listener
    metrics.delivery_try("sms", "twilio", "sent")
    url = f"http://127.0.0.1:{server.port}/metrics"
    refused = requests.get(url, timeout=5)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code == 401
    scraped = requests.get(url, headers=BEARER, timeout=5)
    assert scraped.status_code == 200
    assert value(scraped.text, "verify_sends_total", provider="twilio", outcome="sent") == 1
    assert value(scraped.text, "verify_outbox_up", queue="delivery") == 1


def test_the_worker_s_healthz_follows_its_liveness(
    listener: tuple[WorkerListener, Liveness, PrometheusMetrics],
) -> None:
    """No credential needed; 200 while alive, 503 `stalled` when not; other paths 404."""
    server, alive, _metrics = listener
    url = f"http://127.0.0.1:{server.port}"
    healthy = requests.get(f"{url}/healthz", timeout=5)
    assert (healthy.status_code, healthy.json()) == (200, {"status": "ok"})
    alive.ok = False
    stalled = requests.get(f"{url}/healthz", timeout=5)
    assert (stalled.status_code, stalled.json()) == (503, {"status": "stalled"})
    assert requests.get(f"{url}/v2/Services", timeout=5).status_code == 404


def test_the_last_turn_liveness_stalls_after_its_limit() -> None:
    turns = LastTurn(stall_seconds=0.0)
    assert not turns.alive()
    assert LastTurn(stall_seconds=60).alive()

"""Webhook event deliveries and Fraud Guard trips on the metrics: a receiver on loopback
that answers, fails, or is refused by the target rules at send time; and a prefix that
trips Fraud Guard in monitor mode (nothing refused, so only the trips counter sees it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from tests.conftest import Api
from tests.integration.test_metrics_api import TOKEN, scrape
from tests.support.events import LOOPBACK, Hooks, run_events
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.prometheus_text import value
from tests.support.standin_http import Failure, StandinHttp
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.application.events.event_delivery import EventDeliveryWorker, EventRetryPolicy
from verify_service.settings import Settings

TO = "+14155552671"
FAMILY = "verify_event_deliveries_total"


@pytest.fixture
def receiver() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> Flask:
    configured = dataclasses.replace(
        settings, metrics_token=TOKEN, webhook_allowed_networks=LOOPBACK
    )
    return create_app(configured, clock=clock, providers=sender.as_providers())


def worker(app: Flask, tries: int = 2) -> EventDeliveryWorker:
    policy = EventRetryPolicy(max_tries=tries, base_delay_ms=1_000, max_delay_ms=1_000)
    events: EventDeliveryWorker = app.extensions[CONTAINER_KEY].event_worker("tests", policy)
    return events


def test_every_event_delivery_outcome_is_exported_at_zero(api: Api) -> None:
    """Before any event: every outcome's series exists, so rate() and alerts see them."""
    text = scrape(api.client)
    for outcome in ("sent", "retried", "dead_lettered", "refused"):
        assert f'{FAMILY}{{outcome="{outcome}"}} 0.0' in text
    for mode in ("block", "monitor"):
        assert f'verify_fraud_guard_trips_total{{mode="{mode}"}} 0.0' in text


def test_a_delivered_event_is_counted_as_sent(app: Flask, api: Api, receiver: StandinHttp) -> None:
    service = api.create_service()
    Hooks(api).add(service, f"http://{receiver.netloc}/events", ("verification.started",))
    api.start(service, TO)
    run_events(worker(app))
    text = scrape(api.client)
    assert value(text, FAMILY, outcome="sent") == 1
    assert value(text, FAMILY, outcome="dead_lettered") == 0


def test_a_failing_receiver_is_retried_then_dead_lettered(
    app: Flask, api: Api, receiver: StandinHttp, clock: FixedClock
) -> None:
    service = api.create_service()
    Hooks(api).add(service, f"http://{receiver.netloc}/events", ("verification.started",))
    receiver.fail_next(Failure.server_error(), times=5)
    api.start(service, TO)
    events = worker(app, tries=2)
    run_events(events)
    clock.advance(2)
    run_events(events)
    text = scrape(api.client)
    assert value(text, FAMILY, outcome="retried") == 1
    assert value(text, FAMILY, outcome="dead_lettered") == 1
    assert value(text, FAMILY, outcome="sent") == 0


def test_a_target_refused_at_send_time_is_counted_refused_and_dead_lettered(
    settings: Settings,
    clock: FixedClock,
    sender: RecordingSender,
    api: Api,
    receiver: StandinHttp,
) -> None:
    """The API allows loopback, the worker does not (its VERIFY_WEBHOOK_ALLOWED_NETWORKS
    unset): every event becomes a dead letter, which the metrics now show."""
    service = api.create_service()
    Hooks(api).add(service, f"http://{receiver.netloc}/events", ("verification.started",))
    api.start(service, TO)
    bare = dataclasses.replace(settings, metrics_token=TOKEN)
    worker_app = create_app(bare, clock=clock, providers=sender.as_providers())
    run_events(worker(worker_app))
    text = scrape(worker_app.test_client())
    assert value(text, FAMILY, outcome="refused") == 1
    assert value(text, FAMILY, outcome="dead_lettered") == 1
    assert receiver.requests == []


def test_a_fraud_guard_trip_in_monitor_mode_is_counted(api: Api, clock: FixedClock) -> None:
    """Monitor mode refuses nothing (verify_refusals_total stays 0) but counts the trip."""
    service = api.create_service(
        FraudGuardMinSends=10, FraudGuardMinApprovalRate=30, FraudGuardMode="monitor"
    )
    for n in range(1, 31):
        assert api.start(service, f"+447400{n:06d}").status_code == 201
        clock.advance(20)
    text = scrape(api.client)
    assert value(text, "verify_fraud_guard_trips_total", mode="monitor") == 1
    assert value(text, "verify_refusals_total", reason="fraud_guard") == 0

"""One slow or dead receiver must not hold up anyone else's events (docs/webhooks.md,
"Isolation between receivers"): sends run concurrently, at most one in flight per webhook
and half the senders per service; a webhook that keeps failing has its deliveries
deferred, not tried, until one probe gets through (its breaker); a webhook's backlog is
capped; and a delivery is never sent by two workers when none failed.

Real Redis, the real events loop and sender, receivers on loopback (StandinHttp). A black
hole is a receiver that accepts the request and answers only when the test stops it,
after the sender's 10 s total timeout. Progress is measured by what the receivers got,
never by how long it took."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from flask import Flask

from tests.conftest import Api
from tests.support.events import LOOPBACK, Hooks, loopback_resolver, run_events
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.standin_http import Failure, StandinHttp
from verify_service.adapters.redis_store.keys import EventOutboxKeys
from verify_service.app import CONTAINER_KEY, Container, create_app
from verify_service.application.events.event_delivery import (
    BREAKER_FAILURES,
    EventRetryPolicy,
)
from verify_service.cli import main
from verify_service.settings import Settings

POLICY = EventRetryPolicy(
    max_tries=10, base_delay_ms=1_000, max_delay_ms=2_000, visibility_timeout_ms=60_000
)
STARTED = ("verification.started",)


@pytest.fixture
def receiver() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def black_hole() -> Iterator[StandinHttp]:
    """Answers nothing before the sender gives up (released when the test stops it)."""
    with StandinHttp() as server:
        server.fail_next(Failure.timeout(60), times=1_000)
        yield server


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, webhook_allowed_networks=LOOPBACK)


@pytest.fixture
def app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> Flask:
    return create_app(
        settings,
        clock=clock,
        providers=sender.as_providers(),
        webhook_targets=loopback_resolver(),
    )


@pytest.fixture
def container(app: Flask) -> Container:
    found: Container = app.extensions[CONTAINER_KEY]
    return found


@pytest.fixture
def hooks(api: Api) -> Hooks:
    return Hooks(api)


def start_many(api: Api, service_sid: str, count: int, first: int = 0) -> None:
    for i in range(first, first + count):
        response = api.start(service_sid, f"+1415555{i:04d}")
        assert response.status_code == 201, response.json


def pending(redis_client: redis.Redis, settings: Settings) -> int:
    keys = EventOutboxKeys(settings.key_prefix)
    return sum(
        int(redis_client.xlen(shard.stream)) + int(redis_client.zcard(shard.delayed))
        for shard in keys.every_shard
    )


def test_a_black_hole_receiver_does_not_hold_up_another_services_events(
    api: Api,
    hooks: Hooks,
    container: Container,
    receiver: StandinHttp,
    black_hole: StandinHttp,
) -> None:
    """Service "noisy" has more webhooks than the worker has senders, all pointing at a
    receiver that never answers, and writes its events first; service "victim" gets all
    its events while noisy's first sends are still hanging (before this fix the one
    events thread spent 10 s on each of noisy's deliveries, in the order written)."""
    noisy = api.create_service(FriendlyName="Noisy")
    for i in range(6):
        hooks.add(noisy, f"http://{black_hole.netloc}/hook/{i}", event_types=STARTED)
    victim = api.create_service(FriendlyName="Victim")
    hooks.add(victim, f"http://{receiver.netloc}/events", event_types=STARTED)
    start_many(api, noisy, 3)
    start_many(api, victim, 5, first=100)
    worker = container.event_worker("tests", POLICY, senders=4)
    try:
        for _ in range(2_000):
            worker.run_once()
            if len(receiver.requests) == 5:
                break
            worker.settle(timeout_s=0.05, any_one=True)
        assert len(receiver.requests) == 5
        # Half the senders at most for noisy, each still waiting for its first answer.
        assert len(black_hole.requests) <= 2
    finally:
        black_hole.stop()  # its hanging sends end now
        worker.close()


def test_one_webhook_has_at_most_one_send_in_flight(
    api: Api,
    hooks: Hooks,
    container: Container,
    black_hole: StandinHttp,
) -> None:
    service = api.create_service()
    hooks.add(service, f"http://{black_hole.netloc}/events", event_types=STARTED)
    start_many(api, service, 4)
    worker = container.event_worker("tests", POLICY, senders=8)
    try:
        for _ in range(20):
            worker.run_once()
        assert worker.in_flight == 1
        assert len(black_hole.requests) <= 1
    finally:
        black_hole.stop()
        worker.close()


def test_a_webhook_that_keeps_failing_is_not_tried_until_its_breaker_lets_one_probe(
    api: Api,
    hooks: Hooks,
    container: Container,
    receiver: StandinHttp,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = api.create_service()
    hooks.add(service, f"http://{receiver.netloc}/events", event_types=STARTED)
    receiver.fail_next(Failure.server_error(), times=BREAKER_FAILURES + 1)
    worker = container.event_worker("tests", POLICY)
    start_many(api, service, BREAKER_FAILURES)
    with caplog.at_level(logging.INFO):
        run_events(worker)  # each fails once, in a row: the breaker opens (10 s)
        assert len(receiver.requests) == BREAKER_FAILURES
        start_many(api, service, 3, first=50)
        for _ in range(3):  # retries fall due, new events come: none is tried
            clock.advance(3)
            run_events(worker)
        assert len(receiver.requests) == BREAKER_FAILURES
        clock.advance(2)  # the breaker's time is up: one probe, which fails again
        run_events(worker)
        assert len(receiver.requests) == BREAKER_FAILURES + 1
        clock.advance(12)  # open twice as long (20 s) now
        run_events(worker)
        assert len(receiver.requests) == BREAKER_FAILURES + 1
        clock.advance(10)  # the probe gets through: the breaker closes, the rest follow
        run_events(worker)
    worker.close()
    delivered = receiver.requests[BREAKER_FAILURES + 1 :]
    assert len({request.form["uuid"] for request in delivered}) == BREAKER_FAILURES + 3
    assert "breaker open" in caplog.text
    assert "answers again (breaker closed)" in caplog.text


def test_a_webhooks_backlog_past_its_cap_goes_to_the_dead_letters(
    api: Api,
    hooks: Hooks,
    container: Container,
    receiver: StandinHttp,
    redis_client: redis.Redis,
    settings: Settings,
    cli: CliRunner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis runs `noeviction`: a dead receiver's backlog must not grow without end."""
    service = api.create_service()
    hooks.add(service, f"http://{receiver.netloc}/events", event_types=STARTED)
    receiver.fail_next(Failure.server_error(), times=100)
    worker = container.event_worker("tests", POLICY, backlog_cap=6)
    start_many(api, service, BREAKER_FAILURES)
    run_events(worker)  # the breaker opens with 5 pending
    start_many(api, service, 4, first=50)
    with caplog.at_level(logging.INFO):
        run_events(worker)
    worker.close()
    assert len(receiver.requests) == BREAKER_FAILURES
    assert pending(redis_client, settings) == 6
    listed = cli.invoke(main, ["webhooks", "dead-letters", "list"])
    reasons = [line for line in listed.stdout.splitlines() if "backlog full" in line]
    assert len(reasons) == 3
    assert caplog.text.count("over its cap of 6") == 1  # once per transition


def test_a_delivery_is_not_sent_twice_when_no_worker_failed(
    api: Api,
    hooks: Hooks,
    container: Container,
    receiver: StandinHttp,
) -> None:
    """Two workers, a short visibility timeout, a receiver that takes 0.3 s to answer and
    twelve webhooks: before this fix a worker read one delivery per shard and sent them
    one after the other, so the other worker took over (and sent again) the ones it still
    held. Each delivery now starts at once on a free sender, or is re-claimed just before
    it is sent if it waited."""
    slow = Failure(200, {}, delay_seconds=0.3)
    receiver.fail_next(slow, times=1_000)
    service = api.create_service()
    for i in range(12):
        hooks.add(service, f"http://{receiver.netloc}/hook/{i}", event_types=STARTED)
    start_many(api, service, 2)
    policy = replace(POLICY, visibility_timeout_ms=1_000)
    workers = [container.event_worker(name, policy) for name in ("one", "two")]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop, 0.02)) for w in workers]
    for thread in threads:
        thread.start()
    try:
        for _ in range(600):  # at most a minute
            if len(receiver.requests) >= 24 and all(w.in_flight == 0 for w in workers):
                break
            threading.Event().wait(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    sent: Counter[Any] = Counter(
        (request.path, request.form["uuid"]) for request in receiver.requests
    )
    assert len(sent) == 24
    assert [key for key, times in sent.items() if times > 1] == []

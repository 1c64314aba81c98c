"""`verify_verifications_expired_total` through the real API on a real Redis, time by the
FixedClock: with metrics on, every created verification gets an expiry watch in its start's
own pipeline (no webhook needed, no extra round trip), and the worker's expiry loop counts
it once at its expiry if it is still pending; an approved or canceled one is not counted,
two workers count it once, and with metrics off and no webhook nothing is watched."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.prometheus_text import value
from verify_service import delivery_runner
from verify_service.adapters.redis_store.keys import ExpiryKeys
from verify_service.app import CONTAINER_KEY, Container, create_app
from verify_service.application.events.event_delivery import EXPIRY_LEASE_MS
from verify_service.settings import Settings

TOKEN = "metrics-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
GB_MOBILE = "+447400123456"
OTHER_MOBILE = "+447400123457"
TTL_S = 600  # a service's default verification lifetime


@pytest.fixture
def metrics_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, metrics_token=TOKEN)


@pytest.fixture
def app(
    metrics_settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
) -> Flask:
    return create_app(metrics_settings, clock=clock, providers=sender.as_providers())


def container_of(app: Flask) -> Container:
    found: Container = app.extensions[CONTAINER_KEY]
    return found


def expired(client: FlaskClient, channel: str = "sms") -> float:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.data
    text = response.get_data(as_text=True)
    return value(text, "verify_verifications_expired_total", channel=channel)


def settle(app: Flask, consumer: str = "tests") -> int:
    """One look of the worker's expiry loop (the events loop runs it every second)."""
    container = container_of(app)
    return container.event_worker(consumer).emit_due_expiries(container.clock.now_ms())


def watches(redis_client: redis.Redis, settings: Settings) -> int:
    return sum(int(redis_client.zcard(key)) for key in ExpiryKeys(settings.key_prefix).every_shard)


def started(api: Api, service: str, to: str = GB_MOBILE, channel: str = "sms") -> str:
    response = api.start(service, to, channel)
    assert response.status_code == 201, response.json
    sid: str = response.json["sid"]  # type: ignore[index]
    return sid


def test_a_verification_left_to_lapse_counts_one_expired_on_its_channel(
    app: Flask, api: Api, clock: FixedClock, redis_client: redis.Redis, settings: Settings
) -> None:
    """No webhook at all: the watch is there because metrics are on; counted at its expiry
    (not a second before), once, and the watch is gone after."""
    service = api.create_service()
    started(api, service)
    started(api, service, "someone@example.com", "email")
    assert watches(redis_client, settings) == 2
    clock.advance(TTL_S - 1)
    assert settle(app) == 0
    assert expired(api.client) == 0
    clock.advance(1)
    assert settle(app) == 2
    assert expired(api.client, "sms") == 1
    assert expired(api.client, "email") == 1
    assert watches(redis_client, settings) == 0
    clock.advance(60)
    assert settle(app) == 0
    assert expired(api.client, "sms") == 1


def test_a_resend_keeps_one_watch_and_one_count(
    app: Flask, api: Api, clock: FixedClock, redis_client: redis.Redis, settings: Settings
) -> None:
    service = api.create_service()
    started(api, service)
    started(api, service)  # a resend: the same verification, the same expiry
    assert watches(redis_client, settings) == 1
    clock.advance(TTL_S)
    settle(app)
    assert expired(api.client) == 1


@pytest.mark.parametrize("end", ["approved", "canceled"])
def test_a_verification_ended_before_its_expiry_is_not_counted(
    app: Flask,
    api: Api,
    clock: FixedClock,
    sender: RecordingSender,
    redis_client: redis.Redis,
    settings: Settings,
    end: str,
) -> None:
    service = api.create_service()
    sid = started(api, service)
    if end == "approved":
        response = api.check(service, sender.codes_for(sid)[0], VerificationSid=sid)
    else:
        response = api.update(service, sid, "canceled")
    assert response.json["status"] == end  # type: ignore[index]
    clock.advance(TTL_S)
    assert settle(app) == 1
    assert expired(api.client) == 0
    assert watches(redis_client, settings) == 0


@pytest.fixture
def second_app(metrics_settings: Settings, redis_client: redis.Redis, clock: FixedClock) -> Flask:
    """Another worker process on the same Redis (its own counters)."""
    return create_app(metrics_settings, clock=clock, providers=RecordingSender().as_providers())


def test_two_workers_count_an_expiry_once(
    app: Flask, second_app: Flask, api: Api, clock: FixedClock
) -> None:
    """Both look at the same time: the claim hides the watch from the second."""
    service = api.create_service()
    started(api, service)
    clock.advance(TTL_S)
    assert settle(app, "one") + settle(second_app, "two") == 1
    assert expired(api.client) + expired(second_app.test_client()) == 1


def test_a_worker_that_stalls_past_its_lease_does_not_count_twice(
    app: Flask, second_app: Flask, api: Api, clock: FixedClock
) -> None:
    """The first worker claims, then stalls past the lease; the second claims it again and
    counts it; the first, resuming, finds the watch gone and counts nothing."""
    service = api.create_service()
    started(api, service)
    clock.advance(TTL_S)
    first = container_of(app)
    assert first.expiries is not None
    (claimed,) = first.expiries.claim_due(clock.now_ms(), EXPIRY_LEASE_MS, 10)
    clock.advance(EXPIRY_LEASE_MS / 1000 + 1)
    assert settle(second_app, "two") == 1
    first.event_worker("one").settle_expiry(claimed, clock.now_ms())
    assert expired(api.client) + expired(second_app.test_client()) == 1


def test_a_create_the_script_refuses_leaves_no_watch(
    app: Flask,
    second_app: Flask,
    api: Api,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    """A concurrent start creates the destination's verification between this start's read
    and its script: the script refuses this create ('conflict'; the start then resends on
    the other one). The watch that rode with the refused create goes at once: at due time
    it would look like a lapsed verification and be counted."""
    service = api.create_service()
    store = container_of(app).verification_store
    original = store.prepare_protected_start
    raced: list[str] = []

    def read_then_race(*args: Any, **kwargs: Any) -> Any:
        context = original(*args, **kwargs)
        if not raced:
            raced.append(started(Api(second_app.test_client()), service))
        return context

    monkeypatch.setattr(store, "prepare_protected_start", read_then_race)
    assert started(api, service) == raced[0]
    assert watches(redis_client, settings) == 1
    clock.advance(TTL_S)
    settle(app)
    assert expired(api.client) + expired(second_app.test_client()) == 1
    assert watches(redis_client, settings) == 0


class RoundTrips:
    """Redis round trips made by this process: commands sent alone, and pipelines."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        for owner, name in ((redis.Redis, "execute_command"), (redis.client.Pipeline, "execute")):
            original = getattr(owner, name)

            def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                self.count += 1
                return _original(*args, **kwargs)

            monkeypatch.setattr(owner, name, counted)


def round_trips_of_a_start(app: Flask, monkeypatch: pytest.MonkeyPatch) -> int:
    api = Api(app.test_client())
    service = api.create_service()
    assert api.post(f"/v2/Services/{service}/Verifications", To=OTHER_MOBILE, Channel="sms")
    with monkeypatch.context() as patch:
        trips = RoundTrips(patch)
        response = api.post(f"/v2/Services/{service}/Verifications", To=GB_MOBILE, Channel="sms")
        assert response.status_code == 201
        return trips.count


@pytest.fixture
def app_without_metrics(settings: Settings, redis_client: redis.Redis, clock: FixedClock) -> Flask:
    return create_app(settings, clock=clock, providers=RecordingSender().as_providers())


def test_watching_costs_no_round_trip_of_its_own(
    app: Flask, app_without_metrics: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start with metrics on (its watch in the start's pipeline) makes as many round
    trips as one with metrics off and no webhook (no watch at all)."""
    with_metrics = round_trips_of_a_start(app, monkeypatch)
    without = round_trips_of_a_start(app_without_metrics, monkeypatch)
    assert with_metrics == without


def test_with_metrics_off_and_no_webhook_no_watch_is_written(
    app_without_metrics: Flask, redis_client: redis.Redis, settings: Settings
) -> None:
    """Redis holds nothing beyond what the start itself writes: no expiry schedule key."""
    api = Api(app_without_metrics.test_client())
    service = api.create_service()
    started(api, service)
    due = set(ExpiryKeys(settings.key_prefix).every_shard)
    assert not due & {key.decode() for key in redis_client.scan_iter(count=1000)}


def test_a_watch_in_the_earlier_named_form_is_still_settled(
    app: Flask, api: Api, clock: FixedClock, redis_client: redis.Redis, settings: Settings
) -> None:
    """Watches written before the compact form (a JSON object) are read as before."""
    service = api.create_service()
    sid = started(api, service)
    (key,) = [k for k in ExpiryKeys(settings.key_prefix).every_shard if redis_client.zcard(k)]
    ((member, due),) = redis_client.zrange(key, 0, -1, withscores=True)
    service_sid, verification_sid, channel, masked_to, country, created, expires = json.loads(
        member
    )
    named = {
        "service_sid": service_sid,
        "verification_sid": verification_sid,
        "tag": verification_sid[2:22],
        "channel": channel,
        "masked_to": masked_to,
        "country": country,
        "created_ms": created,
        "expires_ms": expires,
    }
    redis_client.zrem(key, member)
    redis_client.zadd(key, {json.dumps(named, separators=(",", ":"), sort_keys=True): due})
    assert verification_sid == sid
    clock.advance(TTL_S)
    assert settle(app) == 1
    assert expired(api.client) == 1
    assert watches(redis_client, settings) == 0


def test_the_worker_runs_the_expiry_loop_with_no_webhook_at_all(
    app: Flask, api: Api, clock: FixedClock, redis_client: redis.Redis, settings: Settings
) -> None:
    """The worker process's events thread (delivery_runner) starts without any webhook, and
    its loop settles a due watch: the expiry is counted by the worker's own counters."""
    service = api.create_service()
    started(api, service)
    clock.advance(TTL_S)
    stop = threading.Event()
    thread = delivery_runner.start_events_thread(container_of(app), stop)
    assert thread is not None
    try:
        for _ in range(200):  # the thread's turns, not time: done as soon as it settled
            if watches(redis_client, settings) == 0:
                break
            thread.join(0.05)
    finally:
        stop.set()
        thread.join(10)
    assert watches(redis_client, settings) == 0
    assert expired(api.client) == 1

"""A protected start counts its limits in its first read (issue 10): two round trips, as an
unprotected start, with the service's settings as this process last read them. The read
confirms them; a refusal decided after it takes back what it counted, and a changed
setting is counted afresh (one more round trip), so every limit stays exact."""

from __future__ import annotations

import threading
from typing import Any

import redis
from flask import Flask

from tests.conftest import Api, deliver_queued
from tests.integration.test_rate_limiter import CountingClient
from tests.integration.test_store_scripts import run_concurrently
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.application.protection.ports import TallyHit
from verify_service.settings import Settings

GB_MOBILE = "+447400123456"
GB_OTHER = "+447400123457"
PREFIX = "+44740"


def counting_app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> tuple[Flask, Api]:
    counting = CountingClient(connection_pool=redis_client.connection_pool)
    app = create_app(settings, clock=clock, providers=sender.as_providers(), redis_client=counting)
    return app, Api(app.test_client())


def round_trips_of(action: Any) -> int:
    CountingClient.round_trips = 0
    assert action().status_code == 201
    return CountingClient.round_trips


def post_start(api: Api, service: str, to: str) -> Any:
    """A start, without delivering what it queued (as `Api.start` does)."""
    return api.post(f"/v2/Services/{service}/Verifications", To=to, Channel="sms")


def tally_counts(app: Flask, service: str) -> tuple[int, ...]:
    """Fraud Guard's (sends in the window, sends in the grace, approvals) of the prefix."""
    container = app.extensions[CONTAINER_KEY]
    tally = TallyHit(service, PREFIX, 3600, 120)
    outcome = container.protection._limiter.hit([], [], container.clock.now_ms(), tally)
    return tuple(outcome.counts)


def recent_destinations(app: Flask, service: str) -> tuple[str, ...]:
    fraud_guard = app.extensions[CONTAINER_KEY].protection._fraud_guard
    return tuple(fraud_guard.recent_destinations(service, PREFIX))


def test_a_protected_start_is_two_round_trips_once_the_process_has_seen_its_service(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    app, api = counting_app(settings, redis_client, clock, sender)
    service = api.create_service()  # the default protection: limits and Fraud Guard on
    first = round_trips_of(lambda: post_start(api, service, GB_OTHER))
    # This process has not seen the service: it reads it, then counts; and it reads the
    # service's webhooks once (application/webhooks/directory.py).
    assert first == 4
    deliver_queued(app)
    new = round_trips_of(lambda: post_start(api, service, GB_MOBILE))
    assert new == 2
    deliver_queued(app)
    resend = round_trips_of(lambda: post_start(api, service, GB_MOBILE))
    assert resend == 2  # its early Fraud Guard send is taken back with the write
    deliver_queued(app)
    # Two verifications, three sends: Fraud Guard counts verifications, not resends.
    assert tally_counts(app, service)[0] == 2
    assert recent_destinations(app, service)[0].endswith("56")
    # A minute later the webhook list is refreshed off the request path: still two.
    container = app.extensions[CONTAINER_KEY]
    container.webhook_directory.run_in_background = lambda _work: None
    clock.advance(59)
    assert round_trips_of(lambda: post_start(api, service, GB_OTHER)) == 2


def test_a_limit_changed_since_the_process_read_it_holds_at_once(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    _app, api = counting_app(settings, redis_client, clock, sender)
    service = api.create_service(SendsPerDestinationPerHour=10)
    assert api.start(service, GB_OTHER).status_code == 201  # the process sees Max 10
    other = Api(create_app(settings, clock=clock, providers=sender.as_providers()).test_client())
    assert other.post(f"/v2/Services/{service}", SendsPerDestinationPerHour=2).status_code == 200
    # The read shows the change: what was counted under Max 10 is taken back, and the start
    # counted under Max 2 (one more round trip, this once).
    changed = round_trips_of(lambda: post_start(api, service, GB_MOBILE))
    assert changed == 4  # read + counted, take back, count again, write
    assert api.start(service, GB_MOBILE).status_code == 201
    refused = api.start(service, GB_MOBILE)
    assert refused.status_code == 429
    assert refused.json["code"] == 60203


def test_a_start_refused_after_its_read_counts_nowhere(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    """PSD2 terms missing (60xxx, decided after the read): the limits counted early in the
    read are taken back, Fraud Guard's send and note too."""
    app, api = counting_app(settings, redis_client, clock, sender)
    service = api.create_service(Psd2Enabled=True, SendsPerDestinationPerHour=2, DailySendCap=2)
    terms = {"Amount": "9.99", "Payee": "Acme"}
    assert api.start(service, "+447911000500", **terms).status_code == 201  # warm
    for _ in range(4):
        refused = api.start(service, GB_MOBILE)
        assert refused.status_code == 400, refused.json
    assert tally_counts(app, service)[0] == 0
    assert recent_destinations(app, service) == ()
    # The daily cap (2) has one send left, the destination both of its hour's.
    assert api.start(service, GB_MOBILE, **terms).status_code == 201
    capped = api.start(service, GB_MOBILE, **terms)
    assert capped.status_code == 403
    assert capped.json["code"] == 60410


def test_a_safe_listed_number_is_not_watched_by_fraud_guard(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    app, api = counting_app(settings, redis_client, clock, sender)
    service = api.create_service()
    assert api.post("/v2/SafeList/Numbers", PhoneNumber=GB_MOBILE).status_code == 201
    assert api.start(service, "+447911000500").status_code == 201  # warm, another prefix
    trips = round_trips_of(lambda: post_start(api, service, GB_MOBILE))
    assert trips == 2  # the early tally is taken back in the write's round trip
    assert tally_counts(app, service)[0] == 0
    assert recent_destinations(app, service) == ()


def test_a_burst_of_starts_after_a_cap_was_lowered_admits_exactly_the_new_cap(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    """20 concurrent starts (distinct numbers) by a process that cached DailySendCap=50,
    lowered to 5 by another process: each start counts under 50 in its read, sees 5, takes
    back and counts again: exactly 5 are admitted, and the window holds exactly 5."""
    app = create_app(settings, clock=clock, providers=sender.as_providers())
    api = Api(app.test_client())
    service = api.create_service(DailySendCap=50)
    assert api.start(service, "+447911000500").status_code == 201  # cached: cap 50
    other = Api(create_app(settings, clock=clock, providers=sender.as_providers()).test_client())
    assert other.post(f"/v2/Services/{service}", DailySendCap=6).status_code == 200
    numbers = iter([f"+447400{n:06d}" for n in range(1, 21)])
    lock = threading.Lock()

    def start() -> int:
        with lock:
            to = next(numbers)
        response = Api(app.test_client()).start(service, to)
        return int(response.status_code)

    statuses = run_concurrently(20, start)
    # one send of the day was the warm-up's: five more.
    assert sorted(statuses) == [201] * 5 + [403] * 15
    assert api.start(service, "+447911000501").json["code"] == 60410

"""A process counts a start's limits in its first read with the service's settings as it last
read them (docs/abuse-protection.md). Those may be stale: another process may have raised an
interval or added a limit since. A hit counted under stale settings must never drop events
that the current settings still count, or the recount under the current settings finds a
wiped window and admits past the limit."""

from __future__ import annotations

import redis
from flask import Flask

from tests.conftest import Api
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import create_app
from verify_service.settings import Settings


def _two_processes(
    settings: Settings, clock: FixedClock, sender: RecordingSender
) -> tuple[Api, Api]:
    def app() -> Flask:
        return create_app(settings, clock=clock, providers=sender.as_providers())

    return Api(app().test_client()), Api(app().test_client())


def test_a_bucket_whose_interval_was_raised_holds_against_a_process_that_saw_the_old_one(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    stale, current = _two_processes(settings, clock, sender)
    service = stale.create_service()
    limit = stale.post(f"/v2/Services/{service}/RateLimits", UniqueName="user").json["sid"]
    bucket = stale.post(
        f"/v2/Services/{service}/RateLimits/{limit}/Buckets", Max=3, Interval=60
    ).json["sid"]
    assert stale.start(service, "+447400000001").status_code == 201  # caches Interval=60
    clock.advance(61)
    raised = current.post(
        f"/v2/Services/{service}/RateLimits/{limit}/Buckets/{bucket}", Interval=3600
    )
    assert raised.status_code == 200, raised.json
    assert current.start(service, "+447400000002").status_code == 201
    assert current.start(service, "+447400000003").status_code == 201
    assert current.start(service, "+447400000004").status_code == 429  # 3 in the hour

    clock.advance(120)
    answers = [stale.start(service, "+447400000006").status_code]
    answers += [current.start(service, f"+44740000001{n}").status_code for n in range(3)]

    assert answers == [429, 429, 429, 429]


def test_a_day_limit_added_since_holds_against_a_process_that_saw_only_the_hour_limit(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    stale, current = _two_processes(settings, clock, sender)
    service = stale.create_service(SendsPerDestinationPerHour=3, SendsPerDestinationPerDay=0)
    assert stale.start(service, "+447400000009").status_code == 201  # caches: no day limit
    changed = current.post(f"/v2/Services/{service}", SendsPerDestinationPerDay=4)
    assert changed.status_code == 200
    to = "+447400000001"
    admitted = 0
    for _ in range(3):
        admitted += current.start(service, to).status_code == 201
        clock.advance(1)
    clock.advance(2 * 3600)
    admitted += stale.start(service, to).status_code == 201
    for _ in range(3):
        admitted += current.start(service, to).status_code == 201

    assert admitted == 4  # SendsPerDestinationPerDay=4

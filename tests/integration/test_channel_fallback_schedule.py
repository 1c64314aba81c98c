"""The channel fallback schedule in Redis holds nothing its verification does not outlive: an
ended verification's step leaves at once, an expired one's when the verification expires, a
refused start schedules nothing, and every schedule key has a TTL. Steps are taken in batches
(due entries of expired verifications are dropped without being handed out)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
from flask import Flask

from tests.conftest import Api, deliver_queued
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.adapters.redis_store.delivery.fallback_schedule import RedisFallbackSchedule
from verify_service.adapters.redis_store.keys import FallbackKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.app import CONTAINER_KEY
from verify_service.domain.models import Channel
from verify_service.settings import Settings

TO = "+14155552671"


def _schedule(app: Flask) -> RedisFallbackSchedule:
    container = app.extensions[CONTAINER_KEY]
    return RedisFallbackSchedule(
        container.redis, ScriptBook(), FallbackKeys(container.settings.key_prefix)
    )


def _service(api: Api, **params: Any) -> str:
    params.setdefault("FallbackChannels", "call")
    params.setdefault("FallbackAfterSeconds", 60)
    return api.create_service(**params)


def _start(api: Api, service_sid: str, to: str = TO) -> str:
    response = api.start(service_sid, to, "sms")
    assert response.status_code == 201, response.json
    sid: str = response.json["sid"]  # type: ignore[index]
    return sid


def _attempt_sids(api: Api, service_sid: str, verification_sid: str) -> list[str]:
    body: Any = api.fetch(service_sid, verification_sid).json
    return [attempt["attempt_sid"] for attempt in body["send_code_attempts"]]


def _channels(sender: RecordingSender) -> list[Channel]:
    return [message.channel for message in sender.sent]


@pytest.mark.parametrize("ending", ["approved", "canceled"])
def test_an_ended_verification_leaves_the_schedule_at_once(
    api: Api, app: Flask, sender: RecordingSender, ending: str
) -> None:
    """Approving or cancelling a verification removes its fallback step from the schedule."""
    service_sid = _service(api)
    verification_sid = _start(api, service_sid)
    other_sid = _start(api, service_sid, "+14155550100")
    assert set(_schedule(app).pending()) == {
        f"{service_sid}:{verification_sid}",
        f"{service_sid}:{other_sid}",
    }
    if ending == "approved":
        code = sender.last_code(verification_sid)
        checked: Any = api.check(service_sid, code, To=TO).json
        assert checked["status"] == "approved"
    else:
        assert api.update(service_sid, verification_sid, "canceled").status_code == 200
    assert set(_schedule(app).pending()) == {f"{service_sid}:{other_sid}"}


def test_an_expired_verification_leaves_the_schedule_when_it_expires(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    """A step due after its verification's expiry is dropped at the expiry, never sent."""
    service_sid = _service(api, VerificationTtlSeconds=60, FallbackAfterSeconds=120)
    _start(api, service_sid)
    clock.advance(61)
    deliver_queued(app)
    assert _schedule(app).pending() == {}
    assert _channels(sender) == [Channel.SMS]


def test_every_schedule_key_expires_with_the_latest_verification(
    api: Api, app: Flask, redis_client: redis.Redis, settings: Settings
) -> None:
    """A shard's keys carry a TTL that only grows: its latest verification's expiry."""
    keys = FallbackKeys(settings.key_prefix)
    long_lived = _service(api, VerificationTtlSeconds=900)
    short_lived = _service(api, VerificationTtlSeconds=60)
    shard = keys.for_verification(_start(api, long_lived))
    for key in (shard.due, shard.steps):
        assert 850_000 < redis_client.pttl(key) <= 900_000
    other = keys.for_verification(_start(api, short_lived, "+14155550100"))
    for key in (shard.due, shard.steps):
        assert 850_000 < redis_client.pttl(key) <= 900_000
    if other != shard:
        for key in (other.due, other.steps):
            assert 0 < redis_client.pttl(key) <= 60_000


def test_racing_starts_schedule_only_the_accepted_sends_step(
    api: Api, app: Flask, redis_client: redis.Redis, settings: Settings
) -> None:
    """Racing starts: the refused ones schedule nothing; one step follows a send it holds."""
    service_sid = _service(api)
    keys = FallbackKeys(settings.key_prefix)
    threads_per_number = 8
    numbers = [f"+1415555{index:04d}" for index in range(10, 15)]
    barrier = threading.Barrier(threads_per_number * len(numbers))
    answers: list[tuple[str, int, Any]] = []
    errors: list[BaseException] = []

    def start(to: str) -> None:
        client = app.test_client()
        barrier.wait()
        try:
            response = client.post(
                f"/v2/Services/{service_sid}/Verifications",
                data={"To": to, "Channel": "sms"},
                headers=api.headers,
            )
            answers.append((to, response.status_code, response.json))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=start, args=(to,))
        for to in numbers
        for _ in range(threads_per_number)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {status for _to, status, _body in answers} <= {201, 429}
    verification_sids = {to: body["sid"] for to, status, body in answers if status == 201}
    assert len(verification_sids) == len(numbers)
    assert {body["sid"] for _to, status, body in answers if status == 201} == set(
        verification_sids.values()
    )
    members = set(_schedule(app).pending())
    assert members == {f"{service_sid}:{sid}" for sid in verification_sids.values()}
    for sid in verification_sids.values():
        raw = redis_client.hget(keys.for_verification(sid).steps, f"{service_sid}:{sid}")
        assert isinstance(raw, bytes)
        after_attempt_sid = raw.decode().split("|")[1]
        assert after_attempt_sid in _attempt_sids(api, service_sid, sid)


def test_a_backlog_of_stale_steps_is_cleared_in_one_pass(
    api: Api,
    app: Flask,
    clock: FixedClock,
    sender: RecordingSender,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    """Thousands of stale due steps go in one pass, beside a live one; none is left."""
    keys = FallbackKeys(settings.key_prefix)
    service_sid = _service(api)
    verification_sid = _start(api, service_sid)
    clock.advance(61)
    now = clock.now_ms()
    pipe = redis_client.pipeline(transaction=False)
    for index in range(3_000):  # expired verifications' steps (with their expiry)
        member = f"{service_sid}:VE{index:032x}"
        shard = keys.for_verification(f"VE{index:032x}")
        pipe.zadd(shard.due, {member: now - 30_000 + index})
        pipe.hset(shard.steps, member, f"1|VL{index:032x}|{now - 1}")
    for index in range(1_000):  # steps of verifications ended long ago (no expiry recorded)
        member = f"{service_sid}:VE{index + 10_000:032x}"
        pipe.zadd(keys.legacy.due, {member: now - 20_000 + index})  # before sharding
        pipe.hset(keys.legacy.steps, member, f"1|VL{index:032x}")
    pipe.execute()
    deliver_queued(app)
    assert _channels(sender) == [Channel.SMS, Channel.CALL]
    assert sender.sent[1].verification_sid == verification_sid
    assert _schedule(app).pending() == {}

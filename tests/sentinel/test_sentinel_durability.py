"""Opt-in durability (`VERIFY_REDIS_WAIT_REPLICAS`, docs/durability.md) and a demoted master,
in-process against the suite's Sentinel group.

With one replica required and replicas up, checks work as always. With the replicas paused
(SIGSTOP: connected, acknowledging nothing), a check is still answered (the attempt and the
approval are made on the master and cannot be taken back), and the shortfall is logged once
when it starts and once when replicas acknowledge again, with how many writes it covered.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from redis.sentinel import Sentinel

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY, Api
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.processes import wait_until
from tests.support.redis_sentinel_group import MASTER_NAME, SentinelGroup
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.settings import Settings

pytestmark = pytest.mark.sentinel

TO = "+14155552671"
SHORTFALL = "only 0 of the 1 Redis replicas required acknowledged a durable write"
# The wrong check reserved an attempt; the right one reserved one and approved: 3 writes.
AGAIN = "Redis replicas acknowledge durable writes again; 3 were answered"


def wrong(code: str) -> str:
    return "".join(str((int(digit) + 1) % 10) for digit in code)


def sentinel_app(group: SentinelGroup, sender: RecordingSender, wait_replicas: int) -> Flask:
    settings = Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        secret_key=SECRET_KEY.encode(),
        redis_url=group.url,
        public_url="https://verify.example.test",
        key_prefix="it",
        redis_wait_replicas=wait_replicas,
        redis_wait_timeout_ms=200,
    )
    return create_app(settings, clock=FixedClock(), providers=sender.as_providers())


@pytest.fixture
def durable_api(sentinel_group: SentinelGroup, sentinel_redis: redis.Redis) -> Api:
    """The API in-process on the Sentinel URL, with `VERIFY_REDIS_WAIT_REPLICAS=1`."""
    sender = RecordingSender()
    api = Api(sentinel_app(sentinel_group, sender, 1).test_client())
    api.sender = sender  # type: ignore[attr-defined]
    return api


def started(api: Api) -> tuple[str, str]:
    """A new service and a verification on it: (service sid, code)."""
    service_sid = api.create_service()
    response = api.start(service_sid, to=TO)
    assert response.status_code == 201, response.json
    sid = response.json["sid"]  # type: ignore[index]
    return service_sid, api.sender.last_code(sid)  # type: ignore[attr-defined]


def test_checks_wait_for_one_replica_and_work_when_replicas_are_up(
    durable_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """WAIT 1 with both replicas up: a wrong code is pending, the right one approved, and
    no shortfall is logged."""
    service_sid, code = started(durable_api)
    assert durable_api.check(service_sid, wrong(code), To=TO).json["status"] == "pending"  # type: ignore[index]
    assert durable_api.check(service_sid, code, To=TO).json["status"] == "approved"  # type: ignore[index]
    assert SHORTFALL not in caplog.text


def test_with_replicas_paused_checks_are_answered_and_the_shortfall_logged_once(
    durable_api: Api, sentinel_group: SentinelGroup, caplog: pytest.LogCaptureFixture
) -> None:
    """No replica acknowledges: the wrong check (pending) and the right one (approved) are
    answered after the wait; one warning when it starts, one with the count when replicas
    acknowledge again."""
    service_sid, code = started(durable_api)
    paused = sentinel_group.pause_replicas()
    try:
        wrong_check = durable_api.check(service_sid, wrong(code), To=TO)
        right_check = durable_api.check(service_sid, code, To=TO)
    finally:
        sentinel_group.resume(paused)
    assert (wrong_check.status_code, wrong_check.json["status"]) == (200, "pending")  # type: ignore[index]
    assert (right_check.status_code, right_check.json["status"]) == (200, "approved")  # type: ignore[index]
    assert caplog.text.count(SHORTFALL) == 1

    sentinel_group.wait_for_replicas(sentinel_group.master(), 2)
    service_sid, code = started(durable_api)
    assert durable_api.check(service_sid, code, To=TO).json["status"] == "approved"  # type: ignore[index]
    assert caplog.text.count(AGAIN) == 1


def test_a_demoted_master_answers_503_and_the_next_request_finds_the_new_master(
    sentinel_group: SentinelGroup, sentinel_redis: redis.Redis
) -> None:
    """A graceful failover (SENTINEL FAILOVER) demotes the master the app is connected to
    (Sentinel closes its clients' connections): the next check is a 200 from the promoted
    replica (or at worst a 503, never a 500), the one after approves."""
    sender = RecordingSender()
    api = Api(sentinel_app(sentinel_group, sender, 0).test_client())
    service_sid = api.create_service()
    response = api.start(service_sid, to=TO)
    code = sender.last_code(response.json["sid"])  # type: ignore[index]
    sentinel_redis.wait(2, 5_000)  # the replicas have it: the promoted one will too

    old = sentinel_group.master()
    sentinel = sentinel_group.sentinels[0].client()
    try:
        sentinel.execute_command("SENTINEL", "FAILOVER", MASTER_NAME)
    finally:
        sentinel.close()
    sentinel_group.wait_for_failover(old)

    def demoted() -> bool:
        client = old.client()
        try:
            return client.info("replication").get("role") == "slave"
        finally:
            client.close()

    wait_until(demoted, "the old master's demotion", 30)

    first = api.check(service_sid, wrong(code), To=TO)
    assert first.status_code in (200, 503), first.json
    if first.status_code == 503:
        assert first.json["code"] == 20503  # type: ignore[index]
    second = api.check(service_sid, code, To=TO)
    assert (second.status_code, second.json["status"]) == (200, "approved")  # type: ignore[index]
    sentinel_group.wait_for_sentinels(sentinel_group.master_port())


def test_a_write_on_a_replica_named_as_master_is_503_then_the_pool_asks_again(
    sentinel_group: SentinelGroup, sentinel_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale answer (a sentinel still names a node that is now a replica): the write there
    fails with READONLY, which is a 503 (20503), never a 500; redis-py drops the connection,
    asks the sentinels again, and the next check reaches the master."""
    sender = RecordingSender()
    api = Api(sentinel_app(sentinel_group, sender, 0).test_client())
    service_sid = api.create_service()
    code = sender.last_code(api.start(service_sid, to=TO).json["sid"])  # type: ignore[index]
    sentinel_redis.wait(2, 5_000)
    replica = sentinel_group.replicas()[0]
    app_client = api.client.application.extensions[CONTAINER_KEY].redis
    app_client.connection_pool.disconnect()  # the next command connects afresh
    discover = Sentinel.discover_master
    answers = iter([("127.0.0.1", replica.port)])

    def stale_once(self: Sentinel, service_name: str) -> tuple[str, int]:
        return next(answers, None) or discover(self, service_name)

    monkeypatch.setattr(Sentinel, "discover_master", stale_once)

    first = api.check(service_sid, wrong(code), To=TO)
    assert (first.status_code, first.json["code"]) == (503, 20503)  # type: ignore[index]
    second = api.check(service_sid, code, To=TO)
    assert (second.status_code, second.json["status"]) == (200, "approved")  # type: ignore[index]


@pytest.fixture(autouse=True)
def _whole_group(sentinel_group: SentinelGroup) -> Iterator[None]:
    """Each test starts and ends on a group whose master has both replicas in sync."""
    sentinel_group.wait_for_replicas(sentinel_group.master(), 2)
    yield
    sentinel_group.wait_for_replicas(sentinel_group.master(), 2)

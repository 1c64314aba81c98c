"""Redis must keep what it is given (docs/operations.md): `serve` and `worker` refuse a Redis
whose `maxmemory-policy` may evict keys unless the operator overrides it, `/readyz` says so
while it lasts, and a Redis without AOF is a warning at start. Real redis-server processes
with those configurations, the real CLI."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import redis
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.e2e.conftest import server_env
from tests.support.processes import ApiServer, RedisServer, free_port, run_cli
from verify_service.adapters.redis_durability import Durability
from verify_service.adapters.redis_preflight import RedisNotUsable, check_redis, readiness_problem
from verify_service.app import create_app
from verify_service.settings import Settings

EVICTING = {"maxmemory": "64mb", "maxmemory-policy": "volatile-lru"}


@pytest.fixture(scope="module")
def evicting_redis() -> Iterator[RedisServer]:
    """A Redis configured like many managed services: evicts keys with a TTL when full."""
    server = RedisServer(config=EVICTING).start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def durable_redis() -> Iterator[RedisServer]:
    """A Redis as production needs it: no eviction, append-only file on."""
    server = RedisServer(config={"maxmemory-policy": "noeviction", "appendonly": "yes"}).start()
    yield server
    server.remove()


def env_for(redis_server: RedisServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**server_env(redis_server.url, tmp_path / "outbox.jsonl"), **extra}


@pytest.mark.parametrize("command", [["serve", "--no-worker"], ["worker"]])
def test_an_evicting_redis_stops_the_start_with_a_clear_message(
    evicting_redis: RedisServer, tmp_path: Path, command: list[str]
) -> None:
    """`serve` and `worker` exit at once, naming the policy, the fix and the override."""
    arguments = [*command, "--port", str(free_port())] if command[0] == "serve" else command
    result = run_cli(arguments, env_for(evicting_redis, tmp_path), timeout_seconds=30)
    assert result.returncode != 0
    assert f"127.0.0.1:{evicting_redis.port}" in result.stderr
    assert "maxmemory-policy volatile-lru" in result.stderr
    assert "noeviction" in result.stderr
    assert "VERIFY_ALLOW_REDIS_EVICTION=true" in result.stderr


def test_the_documented_override_starts_on_an_evicting_redis_with_a_warning(
    evicting_redis: RedisServer, tmp_path: Path
) -> None:
    """`VERIFY_ALLOW_REDIS_EVICTION=true`: the operator accepted the risk; it is logged."""
    env = env_for(evicting_redis, tmp_path, VERIFY_ALLOW_REDIS_EVICTION="true")
    server = ApiServer(env, workers=1, options=("--no-worker",))
    try:
        server.start(tmp_path / "server.log")
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text(encoding="utf-8")
    assert "may evict keys (maxmemory-policy volatile-lru)" in log


def settings_for(server: RedisServer, **extra: bool) -> Settings:
    return Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        secret_key=SECRET_KEY.encode(),
        redis_url=server.url,
        **extra,
    )


def test_readyz_is_503_while_redis_may_evict(caplog: pytest.LogCaptureFixture) -> None:
    """A policy changed at run time takes the instance out of rotation with a code only
    (`/readyz` is open to anyone: no host, port or policy); the log says which Redis and
    which policy, once; it is ready again once the policy is back to noeviction."""
    server = RedisServer(config={"maxmemory-policy": "noeviction"}).start()
    try:
        client = create_app(settings_for(server)).test_client()
        assert client.get("/readyz").json["status"] == "ready"  # type: ignore[index]
        with server.client() as admin, caplog.at_level(logging.ERROR, "verify_service.app"):
            admin.config_set("maxmemory-policy", "allkeys-lru")
            answers = [client.get("/readyz") for _ in range(3)]
            admin.config_set("maxmemory-policy", "noeviction")
        assert {answer.status_code for answer in answers} == {503}
        assert [answer.json for answer in answers] == [
            {"status": "misconfigured", "problem": "redis_eviction_policy"}
        ] * 3
        assert [answer.text for answer in answers if str(server.port) in answer.text] == []
        details = [r.getMessage() for r in caplog.records if "maxmemory-policy" in r.getMessage()]
        assert len(details) == 1  # once per change, not at every probe
        assert f"Redis at 127.0.0.1:{server.port} has maxmemory-policy allkeys-lru" in details[0]
        assert client.get("/readyz").status_code == 200
    finally:
        server.remove()


class PolicyHidingRedis:
    """A Redis-compatible server (or proxy) whose `INFO memory` has no `maxmemory_policy`:
    the real suite Redis, with that one field taken out of its answer."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def ping(self) -> bool:
        return bool(self._client.ping())

    def info(self, section: str) -> dict[str, object]:
        answer: dict[str, object] = self._client.info(section)
        answer.pop("maxmemory_policy", None)
        return answer

    @property
    def connection_pool(self) -> redis.ConnectionPool:
        return self._client.connection_pool


def hiding(redis_client: redis.Redis) -> redis.Redis:
    return cast("redis.Redis", PolicyHidingRedis(redis_client))


def test_a_redis_that_does_not_report_its_policy_is_refused(redis_client: redis.Redis) -> None:
    """What cannot be read is not proven safe: the start stops, saying the policy could not
    be read, naming the Redis and the override (before: taken for noeviction, and started)."""
    with pytest.raises(RedisNotUsable) as refused:
        check_redis(hiding(redis_client), allow_eviction=False)
    message = str(refused.value)
    assert "does not report its maxmemory-policy" in message
    assert f":{redis_client.connection_pool.connection_kwargs['port']}" in message
    assert "VERIFY_ALLOW_REDIS_EVICTION=true" in message
    unfit = readiness_problem(hiding(redis_client), allow_eviction=False)
    assert unfit is not None
    assert unfit.code == "redis_eviction_policy_unknown"


def test_the_override_accepts_a_redis_that_does_not_report_its_policy(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """`VERIFY_ALLOW_REDIS_EVICTION=true` covers an unknown policy too, with a warning."""
    with caplog.at_level(logging.WARNING, "verify_service.adapters.redis_preflight"):
        check_redis(hiding(redis_client), allow_eviction=True)
    assert "may evict keys (maxmemory-policy not reported)" in caplog.text
    assert readiness_problem(hiding(redis_client), allow_eviction=True) is None


@pytest.mark.parametrize("reported", [{}, {"maxmemory_policy": ""}])
def test_a_missing_or_empty_policy_is_read_as_unknown(reported: dict[str, str]) -> None:
    """Neither is taken for `noeviction`."""

    class Answers:
        def info(self, section: str) -> dict[str, str]:
            return reported if section == "memory" else {"aof_enabled": "1"}

    durability = Durability.read(cast("redis.Redis", Answers()))
    assert durability.eviction_policy is None
    assert durability.eviction_problem("127.0.0.1:6379", allow_eviction=False) is not None


def test_readyz_names_an_unreported_policy_by_code(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the HTTP API: a Redis whose INFO lacks the policy is not ready, with a code."""
    real_info = redis.Redis.info

    def info_without_policy(self: redis.Redis, *args: object, **kwargs: object) -> object:
        answer = real_info(self, *args, **kwargs)  # type: ignore[arg-type]
        answer.pop("maxmemory_policy", None)
        return answer

    client = create_app(settings_for(redis_server)).test_client()
    monkeypatch.setattr(redis.Redis, "info", info_without_policy)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json == {"status": "misconfigured", "problem": "redis_eviction_policy_unknown"}


def test_persistence_off_is_a_warning_at_start(redis_server: RedisServer, tmp_path: Path) -> None:
    """The suite's Redis has no AOF: the service starts, and says what a restart would lose."""
    server = ApiServer(env_for(redis_server, tmp_path), workers=1, options=("--no-worker",))
    try:
        server.start(tmp_path / "server.log")
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text(encoding="utf-8")
    assert f"Redis at 127.0.0.1:{redis_server.port} has appendonly no" in log


def test_a_durable_redis_starts_without_a_warning(
    durable_redis: RedisServer, tmp_path: Path
) -> None:
    """noeviction and AOF: nothing to warn about."""
    server = ApiServer(env_for(durable_redis, tmp_path), workers=1, options=("--no-worker",))
    try:
        server.start(tmp_path / "server.log")
        assert requests.get(f"{server.url}/readyz", timeout=5).json()["status"] == "ready"
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text(encoding="utf-8")
    assert "appendonly" not in log
    assert "evict" not in log

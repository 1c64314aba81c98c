"""Redis must keep what it is given (docs/operations.md): `serve` and `worker` refuse a Redis
whose `maxmemory-policy` may evict keys unless the operator overrides it, `/readyz` says so
while it lasts, and a Redis without AOF is a warning at start. Real redis-server processes
with those configurations, the real CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.e2e.conftest import server_env
from tests.support.processes import ApiServer, RedisServer, free_port, run_cli
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


def test_readyz_is_503_while_redis_may_evict() -> None:
    """A policy changed at run time takes the instance out of rotation, saying why; it is
    ready again once the policy is back to noeviction."""
    server = RedisServer(config={"maxmemory-policy": "noeviction"}).start()
    settings = Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        secret_key=SECRET_KEY.encode(),
        redis_url=server.url,
    )
    try:
        client = create_app(settings).test_client()
        assert client.get("/readyz").json == {"status": "ready"}
        with server.client() as admin:
            admin.config_set("maxmemory-policy", "allkeys-lru")
            answer = client.get("/readyz")
            assert answer.status_code == 503
            assert answer.json is not None
            assert answer.json["status"] == "misconfigured"
            assert "maxmemory-policy allkeys-lru" in answer.json["problem"]
            admin.config_set("maxmemory-policy", "noeviction")
        assert client.get("/readyz").status_code == 200
    finally:
        server.remove()


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
        assert requests.get(f"{server.url}/readyz", timeout=5).json() == {"status": "ready"}
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text(encoding="utf-8")
    assert "appendonly" not in log
    assert "evict" not in log

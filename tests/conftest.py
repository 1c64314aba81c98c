"""Shared fixtures: a real redis-server per session, flushed for each test."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.fakes import FixedClock, RecordingSender
from tests.support.processes import RedisServer
from tests.support.redis_binary import NoRedisServer, redis_server_binary
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.settings import Settings

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789"
SECRET_KEY = "test-secret-key-that-is-at-least-32-bytes-long"


def pytest_report_header() -> str:
    """Say which redis-server the tests start, and why that one (tests/support/redis_binary.py)."""
    try:
        return redis_server_binary().describe()
    except NoRedisServer as exc:
        return f"redis-server: {exc}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def settings(redis_server: RedisServer) -> Settings:
    return Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        secret_key=SECRET_KEY.encode(),
        redis_url=redis_server.url,
        public_url="https://verify.example.test",
        # Not the default prefix: the end-to-end server (and its delivery worker) shares
        # this Redis, and must not take the in-process tests' queued messages.
        key_prefix="it",
    )


@pytest.fixture(autouse=True)
def _close_redis_pools(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every Redis connection pool a test opens (an app it builds, a client) is closed when
    the test ends. Left to the garbage collector, a pool closes its sockets at some later,
    arbitrary moment, as a ResourceWarning that warnings-as-errors turns into a failure of
    whichever test happens to be running then."""
    pools: list[redis.ConnectionPool] = []
    opened = redis.ConnectionPool.__init__

    def recording(self: redis.ConnectionPool, *args: Any, **kwargs: Any) -> None:
        opened(self, *args, **kwargs)
        pools.append(self)

    monkeypatch.setattr(redis.ConnectionPool, "__init__", recording)
    yield
    for pool in pools:
        pool.disconnect()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> Flask:
    return create_app(settings, clock=clock, providers=sender.as_providers())


def deliver_queued(app: Flask) -> int:
    """Run the app's delivery worker and its due channel fallback steps until neither has
    anything left (the worker process's job in production); returns how many deliveries
    and fallback steps were handled."""
    container = app.extensions[CONTAINER_KEY]
    worker = container.delivery_worker("tests")
    handled = 0
    while True:
        steps = container.fallback.run_due() if container.fallback is not None else 0
        batch = worker.run_once(block_ms=0)
        if steps == 0 and batch == 0:
            return handled
        handled += steps + batch


class Api:
    """The HTTP API as a test sees it: form-encoded PascalCase, account credentials.
    Queued messages are delivered before `start` returns, as a worker would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        token = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def post(self, path: str, **params: Any) -> TestResponse:
        return self.client.post(path, data=params, headers=self.headers)

    def get(self, path: str) -> TestResponse:
        return self.client.get(path, headers=self.headers)

    def create_service(self, **params: Any) -> str:
        params.setdefault("FriendlyName", "Acme")
        response = self.post("/v2/Services", **params)
        assert response.status_code == 201, response.json
        sid: str = response.json["sid"]  # type: ignore[index]
        return sid

    def start(
        self, service_sid: str, to: str = "+14155552671", channel: str = "sms", **params: Any
    ) -> TestResponse:
        response = self.post(
            f"/v2/Services/{service_sid}/Verifications", To=to, Channel=channel, **params
        )
        if response.status_code == 201:
            deliver_queued(self.client.application)
        return response

    def check(self, service_sid: str, code: str, **params: Any) -> TestResponse:
        return self.post(f"/v2/Services/{service_sid}/VerificationCheck", Code=code, **params)

    def fetch(self, service_sid: str, verification_sid: str) -> TestResponse:
        return self.get(f"/v2/Services/{service_sid}/Verifications/{verification_sid}")

    def update(self, service_sid: str, verification_sid: str, status: str) -> TestResponse:
        return self.post(
            f"/v2/Services/{service_sid}/Verifications/{verification_sid}", Status=status
        )


@pytest.fixture
def api(app: Flask) -> Api:
    return Api(app.test_client())


@pytest.fixture
def cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis
) -> CliRunner:
    """The CLI run in-process like a process beside the test app: same (flushed) Redis,
    prefix and secrets, and nothing of the caller's own `VERIFY_*` environment."""
    for name in list(os.environ):
        if name.startswith("VERIFY_"):
            monkeypatch.delenv(name)
    assert settings.redis_url is not None
    return CliRunner(
        env={
            "VERIFY_REDIS_URL": settings.redis_url,
            "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
            "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
            "VERIFY_SECRET_KEY": SECRET_KEY,
            "VERIFY_REDIS_KEY_PREFIX": settings.key_prefix,
        }
    )

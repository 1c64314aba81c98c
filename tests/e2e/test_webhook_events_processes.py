"""Webhook events across real processes: `verify-service serve --no-worker` under gunicorn
changes state, `verify-service worker` processes send the events (the events loop runs in
a thread of the worker), and a receiver on loopback records them. The webhook is created
with the official twilio SDK; the receiver validates each request with Twilio's own
RequestValidator and the token `verify-service webhooks signing-token` prints.

At-least-once: a worker SIGKILLed while the receiver holds its request loses nothing; the
next worker takes the delivery over once its visibility timeout has passed, with the same
`uuid` (the receiver's de-duplication key)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from twilio.request_validator import RequestValidator

from tests.e2e.conftest import server_env, twilio_client
from tests.support.delivery_processes import ServeProcess, WorkerProcess
from tests.support.processes import RedisServer
from tests.support.standin_http import Failure, StandinHttp

TO = "+14155552671"
VISIBILITY_SECONDS = 1.5
WAIT_SECONDS = 20.0
HOLD = Failure.timeout(seconds=60)  # answered only when the receiver stops


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(own_redis: RedisServer) -> Iterator[redis.Redis]:
    client = own_redis.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def receiver() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def env(own_redis: RedisServer, redis_client: redis.Redis, tmp_path: Path) -> dict[str, str]:
    return {
        **server_env(own_redis.url, tmp_path / "outbox.jsonl"),
        "VERIFY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "VERIFY_EVENT_VISIBILITY_TIMEOUT_MS": str(int(VISIBILITY_SECONDS * 1000)),
        "VERIFY_EVENT_BACKOFF_MS": "50",
        "VERIFY_EVENT_MAX_BACKOFF_MS": "200",
    }


def wait_for(predicate: Callable[[], bool], what: str) -> float:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT_SECONDS} s")
        time.sleep(0.01)
    return time.monotonic()


def signing_token(env: dict[str, str]) -> str:
    """What the operator gives the receiver: `verify-service webhooks signing-token`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    done = subprocess.run(
        [sys.executable, "-m", "verify_service.cli", "webhooks", "signing-token"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    token = done.stdout.strip()
    assert len(token) == 32
    int(token, 16)
    return token


def test_a_worker_killed_mid_send_loses_no_event_the_next_one_sends_it_again(
    env: dict[str, str], receiver: StandinHttp, tmp_path: Path
) -> None:
    api = ServeProcess(env, with_worker=False).start(tmp_path / "server.log")
    first = WorkerProcess(env)
    second = WorkerProcess(env)
    hook_url = f"http://{receiver.netloc}/verify-events"
    try:
        twilio = twilio_client(api.url)
        service = twilio.verify.v2.services.create(friendly_name="Acme")
        webhook = twilio.verify.v2.services(service.sid).webhooks.create(
            friendly_name="events", event_types=["verification.started"], webhook_url=hook_url
        )
        assert webhook.sid.startswith("YW")
        verification = twilio.verify.v2.services(service.sid).verifications.create(
            to=TO, channel="sms"
        )
        receiver.fail_next(HOLD)
        first.start(tmp_path / "worker-1.log")
        in_flight_at = wait_for(lambda: len(receiver.requests) == 1, "worker 1's send")
        assert first.kill() == -9
        second.start(tmp_path / "worker-2.log")
        again_at = wait_for(lambda: len(receiver.requests) == 2, "worker 2's send")
        assert second.stop() == 0
    finally:
        first.stop()
        second.stop()
        api.stop()

    assert VISIBILITY_SECONDS - 0.3 <= again_at - in_flight_at <= VISIBILITY_SECONDS + 10
    lost, sent = receiver.requests
    assert lost.form == sent.form
    assert sent.form["type"] == "verification.started"
    assert sent.form["verification_sid"] == verification.sid
    assert sent.headers["I-Twilio-Idempotency-Token"] == sent.form["uuid"]
    validator = RequestValidator(signing_token(env))
    assert validator.validate(hook_url, sent.form, sent.headers["X-Twilio-Signature"])
    assert not validator.validate(
        hook_url, {**sent.form, "to": TO}, sent.headers["X-Twilio-Signature"]
    )

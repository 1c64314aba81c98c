"""At-least-once delivery across processes: a worker SIGKILLed while its provider request is
in flight loses nothing, because another worker takes the message over once the visibility
timeout has passed; and `serve` runs a worker of its own that delivers signed webhooks.

Real processes throughout: a Redis of this module's own, `verify-service serve` under
gunicorn, `verify-service worker` processes, and a webhook gateway stand-in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import server_env
from tests.support.delivery_processes import ServeProcess, WorkerProcess
from tests.support.processes import RedisServer
from tests.support.standin_http import Failure, StandinHttp
from verify_service.adapters.delivery.providers.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_webhook_signature,
)
from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.attempts.attempt_records import RedisAttemptRecords
from verify_service.adapters.redis_store.delivery.delivery_queue import GROUP
from verify_service.adapters.redis_store.keys import HistoryKeys, OutboxKeys
from verify_service.adapters.redis_store.scripts import ScriptBook

TO = "+14155552671"
WEBHOOK_SECRET = "whsec-crash-recovery-0123456789"
VISIBILITY_SECONDS = 1.5
WAIT_SECONDS = 15.0
# The stand-in answers only when it stops: the worker's request stays in flight.
HOLD = Failure.timeout(seconds=60)
KEYS = OutboxKeys()  # the server's default prefix, on a Redis of its own


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
def gateway() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def env(own_redis: RedisServer, gateway: StandinHttp, tmp_path: Path) -> dict[str, str]:
    return {
        **server_env(own_redis.url, tmp_path / "outbox.jsonl"),
        "VERIFY_SMS_PROVIDERS": (
            f"webhook+http://{gateway.netloc}/hook?secret={WEBHOOK_SECRET}&timeout=30"
        ),
        "VERIFY_DELIVERY_VISIBILITY_TIMEOUT_MS": str(int(VISIBILITY_SECONDS * 1000)),
        "VERIFY_DELIVERY_BACKOFF_MS": "50",
        "VERIFY_DELIVERY_MAX_BACKOFF_MS": "200",
    }


def wait_for(predicate: Callable[[], bool], what: str) -> float:
    """Poll until `predicate` holds; returns the monotonic time it was first seen true."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT_SECONDS} s")
        time.sleep(0.01)
    return time.monotonic()


def start_verification(api: ServeProcess) -> tuple[str, str]:
    """A service and a verification on it, through the HTTP API: (verification, attempt)."""
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    service = requests.post(
        f"{api.url}/v2/Services", data={"FriendlyName": "Acme"}, auth=auth, timeout=10
    )
    assert service.status_code == 201, service.text
    started = requests.post(
        f"{api.url}/v2/Services/{service.json()['sid']}/Verifications",
        data={"To": TO, "Channel": "sms"},
        auth=auth,
        timeout=10,
    )
    assert started.status_code == 201, started.text
    body = started.json()
    (attempt,) = body["send_code_attempts"]
    return body["sid"], attempt["attempt_sid"]


def attempt_status(client: redis.Redis, attempt_sid: str) -> dict[str, str]:
    """The attempt's delivery status, as its history record holds it (no destination: the
    cipher is never asked to open one here)."""
    records = RedisAttemptRecords(client, ScriptBook(), HistoryKeys(), DestinationCipher(bytes(32)))
    return records.fields(attempt_sid)


def test_a_worker_killed_mid_delivery_loses_nothing_another_takes_over_after_the_timeout(
    env: dict[str, str], gateway: StandinHttp, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """`serve --no-worker` only queues; worker 1 is SIGKILLed while the gateway holds its
    request; worker 2 reclaims the message once it has been idle for the visibility timeout,
    and delivers it: the same attempt, completed, recorded as sent, nothing left pending."""
    api = ServeProcess(env, with_worker=False).start(tmp_path / "server.log")
    first = WorkerProcess(env)
    second = WorkerProcess(env)
    try:
        verification_sid, attempt_sid = start_verification(api)
        assert gateway.requests == []
        assert attempt_status(redis_client, attempt_sid)["status"] == "queued"

        gateway.fail_next(HOLD)
        first.start(tmp_path / "worker-1.log")
        in_flight_at = wait_for(lambda: len(gateway.requests) == 1, "worker 1's request")
        assert first.kill() == -9
        second.start(tmp_path / "worker-2.log")

        redelivered_at = wait_for(lambda: len(gateway.requests) == 2, "worker 2's request")
        wait_for(
            lambda: attempt_status(redis_client, attempt_sid)["status"] == "sent",
            "the attempt recorded as sent",
        )
        assert second.stop() == 0  # SIGTERM: it finishes its batch and exits cleanly
    finally:
        first.stop()
        second.stop()
        api.stop()

    assert VISIBILITY_SECONDS - 0.3 <= redelivered_at - in_flight_at <= VISIBILITY_SECONDS + 5
    lost, delivered = gateway.requests
    assert lost.json["attempt_sid"] == delivered.json["attempt_sid"] == attempt_sid
    assert delivered.json["verification_sid"] == verification_sid
    assert delivered.body == lost.body  # the same message, the same code
    status = attempt_status(redis_client, attempt_sid)
    assert status["provider"] == f"webhook+http://{gateway.netloc}"
    assert status["pmid"] == gateway.replies[1]["id"]
    for shard in KEYS.every_shard:
        assert redis_client.xlen(shard.stream) == 0
        if redis_client.exists(shard.stream):
            assert redis_client.xpending(shard.stream, GROUP)["pending"] == 0
        assert redis_client.zcard(shard.delayed) == 0


def test_serve_runs_its_own_worker_that_delivers_a_signed_webhook(
    env: dict[str, str], gateway: StandinHttp, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """By default `serve` starts a worker child: a start arrives at the gateway with the
    documented fields and a signature the gateway can check with the shared secret."""
    api = ServeProcess(env).start(tmp_path / "server.log")
    try:
        verification_sid, attempt_sid = start_verification(api)
        wait_for(lambda: len(gateway.requests) == 1, "the webhook")
        wait_for(
            lambda: attempt_status(redis_client, attempt_sid)["status"] == "sent",
            "the attempt recorded as sent",
        )
    finally:
        api.stop()

    (sent,) = gateway.requests
    assert (sent.method, sent.path) == ("POST", "/hook")
    assert sent.json["to"] == TO
    assert sent.json["channel"] == "sms"
    assert sent.json["verification_sid"] == verification_sid
    assert sent.json["attempt_sid"] == attempt_sid
    assert "verification code is: " in sent.json["body"]
    timestamp, signature = sent.headers[TIMESTAMP_HEADER], sent.headers[SIGNATURE_HEADER]
    assert verify_webhook_signature(
        WEBHOOK_SECRET, timestamp, sent.body, signature, now_seconds=time.time()
    )
    assert not verify_webhook_signature(
        "whsec-some-other-secret-000", timestamp, sent.body, signature, now_seconds=time.time()
    )
    assert not verify_webhook_signature(
        WEBHOOK_SECRET, timestamp, sent.body + b" ", signature, now_seconds=time.time()
    )
    assert WEBHOOK_SECRET not in sent.body.decode() + sent.path

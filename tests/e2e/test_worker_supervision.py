"""A worker an operator can supervise, with real processes: `serve` restarts its child
worker after a SIGKILL and deliveries go on; a SIGTERMed worker finishes the message a slow
provider holds, acknowledged once; a SIGTERMed `serve` still answers the request in flight;
`/readyz` reports live workers and the outbox's age; `worker --check` is a liveness probe.

Time is never waited out: a stale heartbeat or an old message is written with Redis's own
clock moved back (a score, a stream entry id), not slept for."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import server_env
from tests.support.delivery_processes import ServeProcess, WorkerProcess
from tests.support.processes import RedisServer, run_cli
from tests.support.standin_http import Failure, StandinHttp
from verify_service.adapters.redis_store.delivery.delivery_queue import GROUP
from verify_service.adapters.redis_store.keys import OutboxKeys

TO = "+14155552671"
KEYS = OutboxKeys()
HEARTBEATS = KEYS.worker_heartbeats
WAIT_SECONDS = 20.0
# The stand-in takes this long to accept a message: the worker is SIGTERMed meanwhile.
SLOW_ACCEPT = Failure(200, {"id": "wh_slow"}, delay_seconds=2.0)


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
        "VERIFY_SMS_PROVIDERS": f"webhook+http://{gateway.netloc}/hook?secret=whsec-0123456789abcdef&timeout=30",
        "VERIFY_LOG_FORMAT": "json",
    }


def wait_for(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT_SECONDS} s")
        time.sleep(0.02)


def live_workers(client: redis.Redis) -> list[str]:
    seconds, micros = client.time()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    return [name.decode() for name in client.zrangebyscore(HEARTBEATS, now_ms - 15_000, "+inf")]


def redis_now_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def start_verification(url: str) -> str:
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    service = requests.post(
        f"{url}/v2/Services", data={"FriendlyName": "Ops"}, auth=auth, timeout=10
    )
    assert service.status_code == 201, service.text
    started = requests.post(
        f"{url}/v2/Services/{service.json()['sid']}/Verifications",
        data={"To": TO, "Channel": "sms"},
        auth=auth,
        timeout=10,
    )
    assert started.status_code == 201, started.text
    (attempt,) = started.json()["send_code_attempts"]
    return str(attempt["attempt_sid"])


def outbox_is_empty(client: redis.Redis) -> bool:
    for shard in KEYS.every_shard:
        if client.xlen(shard.stream) or client.zcard(shard.delayed):
            return False
        if client.exists(shard.stream) and client.xpending(shard.stream, GROUP)["pending"]:
            return False
    return True


def test_serve_restarts_its_child_worker_after_a_sigkill_and_deliveries_go_on(
    env: dict[str, str], gateway: StandinHttp, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """The child's heartbeat names its pid; after `kill -9` a new child (another pid) beats
    within the first restart delay, and the next start is delivered."""
    api = ServeProcess(env).start(tmp_path / "server.log")
    try:
        wait_for(lambda: live_workers(redis_client), "the child worker's heartbeat")
        (first,) = live_workers(redis_client)
        os.kill(int(first.rpartition("-")[2]), signal.SIGKILL)
        wait_for(
            lambda: [name for name in live_workers(redis_client) if name != first],
            "a new child worker",
        )
        start_verification(api.url)
        wait_for(lambda: len(gateway.requests) == 1, "the delivery by the new child")
    finally:
        api.stop()
    log = (tmp_path / "server.log").read_text(encoding="utf-8")
    assert "restarting it in 1 s" in log


def test_a_sigtermed_worker_finishes_the_message_a_slow_provider_holds_and_acks_it_once(
    env: dict[str, str], gateway: StandinHttp, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """SIGTERM while the provider holds the request: the worker waits for the answer,
    records the attempt as sent, acknowledges it, leaves the live set and exits 0; nothing
    stays queued or pending, so no other worker sends it again."""
    api = ServeProcess(env, with_worker=False).start(tmp_path / "server.log")
    worker = WorkerProcess(env)
    try:
        attempt_sid = start_verification(api.url)
        gateway.fail_next(SLOW_ACCEPT)
        worker.start(tmp_path / "worker.log")
        wait_for(lambda: len(gateway.requests) == 1, "the worker's request")
        os.kill(worker.pid, signal.SIGTERM)
        assert worker.stop() == 0
        assert outbox_is_empty(redis_client)
        assert live_workers(redis_client) == []  # it left: no need to wait for staleness
        # A second worker finds nothing to send again.
        second = WorkerProcess(env).start(tmp_path / "worker-2.log")
        wait_for(lambda: live_workers(redis_client), "the second worker")
        assert second.stop() == 0
    finally:
        worker.stop()
        api.stop()
    assert len(gateway.requests) == 1
    assert gateway.requests[0].json["attempt_sid"] == attempt_sid
    # The worker's own log: JSON lines, saying what it did with the signal.
    events = [
        json.loads(line)["event"]
        for line in (tmp_path / "worker.log").read_text(encoding="utf-8").splitlines()
    ]
    assert events.index("delivery worker %s: %s, finishing the message in hand") < events.index(
        "attempt %s: sent through %s"
    )
    assert events[-1] == "delivery worker %s stopped"


def test_a_sigtermed_serve_answers_the_request_in_flight(
    env: dict[str, str], redis_client: redis.Redis, tmp_path: Path
) -> None:
    """A request whose body is still coming when SIGTERM arrives (gunicorn said
    `100 Continue`: a worker holds it) is answered, then serve exits 0."""
    api = ServeProcess(env, with_worker=False).start(tmp_path / "server.log")
    assert api._process is not None
    body = b"FriendlyName=Graceful"
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    head = (
        "POST /v2/Services HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{api.port}\r\n"
        f"Authorization: Basic {credentials}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as connection:
            connection.sendall(head)
            assert connection.recv(1024).startswith(b"HTTP/1.1 100 Continue")
            api._process.send_signal(signal.SIGTERM)
            connection.sendall(body)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201 "), answer[:200]
        assert api._process.wait(15) == 0
    finally:
        api.stop()


def test_readyz_reports_live_workers_and_the_outbox_age(
    env: dict[str, str], redis_client: redis.Redis, tmp_path: Path
) -> None:
    """No worker: `no_live_worker` (still 200: the API itself is fine). A worker: `ok`.
    A message queued ten minutes ago (by Redis's clock): `backlog_too_old`, with its age
    and the outbox's depth."""
    env = {**env, "VERIFY_READY_MAX_OUTBOX_AGE_SECONDS": "300"}
    api = ServeProcess(env, with_worker=False).start(tmp_path / "server.log")
    worker = WorkerProcess(env)

    def delivery() -> dict[str, object]:
        answer = requests.get(f"{api.url}/readyz", timeout=10)
        assert answer.status_code == 200
        assert answer.json()["status"] == "ready"
        report: dict[str, object] = answer.json()["delivery"]
        return report

    try:
        assert delivery() == {
            "status": "no_live_worker",
            "live_workers": 0,
            "outbox_depth": 0,
            "oldest_message_age_seconds": None,
            "max_outbox_age_seconds": 300,
        }
        worker.start(tmp_path / "worker.log")
        wait_for(lambda: delivery()["status"] == "ok", "a live worker")
        assert delivery()["live_workers"] == 1
        assert worker.stop() == 0
        # (the delivery section is kept a second per process: health.py)
        wait_for(lambda: delivery()["status"] == "no_live_worker", "no live worker")

        # A message put on a shard ten minutes ago, and a worker that beat just now.
        now_ms = redis_now_ms(redis_client)
        redis_client.xadd(KEYS.shard(3).stream, {"att": "x"}, id=f"{now_ms - 600_000}-0")
        redis_client.zadd(HEARTBEATS, {"elsewhere-1": now_ms})
        wait_for(lambda: delivery()["status"] == "backlog_too_old", "an old backlog")
        report = delivery()
        assert report["outbox_depth"] == 1
        age = report["oldest_message_age_seconds"]
        assert isinstance(age, float)
        assert 600 <= age < 660
        # That worker's beat is older than 15 s by Redis's clock: not live any more.
        redis_client.zadd(HEARTBEATS, {"elsewhere-1": now_ms - 16_000})
        wait_for(lambda: delivery()["status"] == "no_live_worker", "a stale heartbeat")
    finally:
        worker.stop()
        api.stop()


def test_worker_check_is_a_liveness_probe(
    env: dict[str, str], redis_client: redis.Redis, tmp_path: Path
) -> None:
    """`verify-service worker --check` exits 0 while a worker on this host beats, 1 when
    none does."""
    assert run_cli(["worker", "--check"], env).returncode == 1
    worker = WorkerProcess(env).start(tmp_path / "worker.log")
    try:
        wait_for(lambda: live_workers(redis_client), "the worker's heartbeat")
        checked = run_cli(["worker", "--check"], env)
        assert checked.returncode == 0, checked.stderr
    finally:
        assert worker.stop() == 0
    assert run_cli(["worker", "--check"], env).returncode == 1

"""Channel fallback behind a backlog, across real processes: `verify-service serve` (gunicorn
and its worker child, console provider writing to an outbox file) with thousands of due
fallback steps in Redis, stale (their verifications expired or ended) and live; a step that
falls due now still goes out at once (issue 9, item 11: within 2 s).

The wait below is a generous poll, not the bound: the measured delay is printed
(`pytest -s`), and docs/performance.md records the figures of `bench.run --only fallback`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import server_env, twilio_client
from tests.support.delivery_processes import ServeProcess
from tests.support.processes import RedisServer
from verify_service.adapters.redis_store.keys import FallbackKeys

PREFIX = "fallback"  # its own keys: the session's server (and its worker) share this Redis
STALE_EXPIRED = 5_000  # steps of verifications that expired (the expiry is recorded)
STALE_ENDED = 1_000  # steps written before expiries were recorded, of ended verifications
LIVE = 20  # pending verifications whose step is due too: each is sent
WAIT_SECONDS = 30.0  # a poll that never passes on the old worker (one step per loop turn)


@pytest.fixture
def outbox_file(tmp_path: Path) -> Path:
    return tmp_path / "outbox.jsonl"


@pytest.fixture
def server(
    redis_server: RedisServer, redis_client: object, outbox_file: Path, tmp_path: Path
) -> Iterator[ServeProcess]:
    env = {**server_env(redis_server.url, outbox_file), "VERIFY_REDIS_KEY_PREFIX": PREFIX}
    process = ServeProcess(env, workers=1)
    process.start(tmp_path / "server.log")
    yield process
    process.stop()


def _messages(outbox_file: Path) -> list[dict[str, Any]]:
    if not outbox_file.exists():
        return []
    lines = outbox_file.read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def _wait_for(outbox_file: Path, channel: str, verification_sids: set[str]) -> float:
    """Seconds until the outbox holds a message on `channel` for each verification."""
    started = time.monotonic()
    while True:
        sent = {
            message["verification_sid"]
            for message in _messages(outbox_file)
            if message["channel"] == channel
        }
        if verification_sids <= sent:
            return time.monotonic() - started
        assert time.monotonic() - started < WAIT_SECONDS, (
            f"{len(verification_sids - sent)} {channel} message(s) not sent in {WAIT_SECONDS} s"
        )
        time.sleep(0.01)


def test_a_step_due_now_is_sent_at_once_behind_thousands_of_due_steps(
    server: ServeProcess, redis_server: RedisServer, outbox_file: Path
) -> None:
    """Behind thousands of due steps, stale and live, a step falling due now goes at once."""
    created = requests.post(
        f"{server.url}/v2/Services",
        data={"FriendlyName": "Acme", "FallbackChannels": "call", "FallbackAfterSeconds": 60},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    service_sid = created.json()["sid"]
    verify = twilio_client(server.url).verify.v2.services(service_sid)
    live = [
        verify.verifications.create(to=f"+1415555{index:04d}", channel="sms").sid
        for index in range(100, 100 + LIVE)
    ]
    probe = verify.verifications.create(to="+14155552671", channel="sms").sid
    _wait_for(outbox_file, "sms", {*live, probe})

    keys = FallbackKeys(PREFIX)
    client = redis_server.client()
    assert isinstance(client, redis.Redis)
    now = int(time.time() * 1000)
    pipe = client.pipeline(transaction=True)  # the whole backlog appears at once
    for index in range(STALE_EXPIRED):
        member = f"{service_sid}:VE{index:032x}"
        shard = keys.for_verification(f"VE{index:032x}")
        pipe.zadd(shard.due, {member: now - 600_000 + index})
        pipe.hset(shard.steps, member, f"1|VL{index:032x}|{now - 1}")
    for index in range(STALE_ENDED):
        member = f"{service_sid}:VE{index + 100_000:032x}"
        shard = keys.for_verification(f"VE{index + 100_000:032x}")
        pipe.zadd(shard.due, {member: now - 500_000 + index})
        pipe.hset(shard.steps, member, f"1|VL{index + 100_000:032x}")
    for index, sid in enumerate(live):  # their steps fall due, before the probe's
        due = keys.for_verification(sid).due
        pipe.zadd(due, {f"{service_sid}:{sid}": now - 1_000 + index}, xx=True, ch=True)
    due = keys.for_verification(probe).due
    pipe.zadd(due, {f"{service_sid}:{probe}": now}, xx=True, ch=True)  # due now
    replies = pipe.execute()
    assert replies[-LIVE - 1 :] == [1] * (LIVE + 1)  # each had its step scheduled

    delay = _wait_for(outbox_file, "call", {probe})
    print(
        f"\nfallback step sent {delay:.3f} s after falling due, behind "
        f"{STALE_EXPIRED + STALE_ENDED} stale and {LIVE} live due steps"
    )
    _wait_for(outbox_file, "call", set(live))
    assert sum(client.zcard(shard.due) for shard in keys.every_shard) == 0
    client.close()

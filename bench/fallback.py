"""The channel fallback phase: how long a fallback step that falls due now waits behind a
backlog of due steps (issue 9, item 11: within 2 s).

Self-contained: it starts its own redis-server and one `verify-service worker` (console
provider writing to a file, the production XREADGROUP block of 200 ms), and stops both. A
service with `FallbackChannels=call` gets real verifications (the `Verifications.start` use
case in this process, real argon2), then, per round, one transaction makes the backlog
appear at once:

- `stale` due steps of verifications that expired (their expiry is in the entry), plus
  `ended` entries in the format written before expiries were recorded ('step|VL'), of
  verifications that no longer exist;
- `live` steps of pending verifications, due just before the probe (each one is sent);
- the probe's own step, due now.

Delay = when the probe's call appeared in the worker's outbox file (polled every 5 ms)
- when the transaction's EXEC answered (the backlog and the due probe appear at once then).
A round that waits past `--fallback-timeout` seconds is recorded as not sent.

    .venv/bin/python -m bench.run --only fallback
"""

from __future__ import annotations

import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.processes import REPO, DeliveryWorkerProcess, RedisServer
from verify_service.adapters.redis_connection import connect
from verify_service.adapters.redis_store.keys import FallbackKeys
from verify_service.app import Container, build_container
from verify_service.application.verifications.verifications import StartRequest
from verify_service.domain.models import Channel
from verify_service.settings import Settings

RESULTS = REPO / "bench" / "results"
KEY_PREFIX = "vs"
TARGET_DELAY_S = 2.0  # the acceptance bound
NUMBER_BASE = 447_400_900_000  # +44 7400 9NNNNN, apart from the other phases' numbers


@dataclass(frozen=True)
class FallbackOptions:
    stale: int = 5_000
    ended: int = 1_000
    live: int = 20
    rounds: int = 5
    timeout_s: float = 60.0


@dataclass(frozen=True)
class Scenario:
    name: str
    stale: int
    ended: int
    live: int


class Rig:
    def __init__(
        self,
        container: Container,
        client: redis.Redis,
        outbox: Path,
        service_sid: str,
        log: Callable[[str], None],
    ) -> None:
        self.container = container
        self.client = client
        self.outbox = outbox
        self.service_sid = service_sid
        self.keys = FallbackKeys(KEY_PREFIX)
        self.log = log
        self._next_number = NUMBER_BASE

    def start(self) -> str:
        self._next_number += 1
        request = StartRequest(to=f"+{self._next_number}", channel=Channel.SMS)
        return self.container.verifications.start(self.service_sid, request).sid

    def sent(self, channel: str) -> dict[str, float]:
        """verification sid -> when its first message on `channel` was seen (epoch s)."""
        seen: dict[str, float] = {}
        now = time.time()
        if self.outbox.exists():
            for line in self.outbox.read_text("utf-8").splitlines():
                if line.endswith("}"):
                    message = json.loads(line)
                    if message["channel"] == channel:
                        seen.setdefault(message["verification_sid"], now)
        return seen

    def wait_sent(self, channel: str, sids: set[str], timeout_s: float) -> float | None:
        """Epoch seconds when all of `sids` had a message on `channel`, or None."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if sids <= self.sent(channel).keys():
                return time.time()
            time.sleep(0.005)
        return None

    def round(self, scenario: Scenario, timeout_s: float) -> dict[str, Any]:
        for shard in self.keys.every_shard:  # a fresh schedule per round
            self.client.delete(shard.due, shard.steps)
        live = [self.start() for _ in range(scenario.live)]
        probe = self.start()
        if self.wait_sent("sms", {*live, probe}, 30.0) is None:
            raise RuntimeError("the worker did not send the first SMS")
        now = time.time_ns() // 1_000_000
        pipe = self.client.pipeline(transaction=True)
        for index in range(scenario.stale):  # the backlog appears at once
            sid = f"VE{secrets.token_hex(16)}"
            member, shard = f"{self.service_sid}:{sid}", self.keys.for_verification(sid)
            pipe.zadd(shard.due, {member: now - 600_000 + index})
            pipe.hset(shard.steps, member, f"1|VL{secrets.token_hex(16)}|{now - 1}")
        for index in range(scenario.ended):
            sid = f"VE{secrets.token_hex(16)}"
            member, shard = f"{self.service_sid}:{sid}", self.keys.for_verification(sid)
            pipe.zadd(shard.due, {member: now - 500_000 + index})
            pipe.hset(shard.steps, member, f"1|VL{secrets.token_hex(16)}")
        steps = [*live, probe]
        for index, sid in enumerate(steps):  # the steps their starts scheduled fall due
            member = f"{self.service_sid}:{sid}"
            due = self.keys.for_verification(sid).due
            pipe.zadd(due, {member: now - len(steps) + 1 + index}, xx=True, ch=True)
        replies = pipe.execute()
        due_s = time.time()  # the backlog is visible from the EXEC on
        if replies[-len(steps) :] != [1] * len(steps):
            raise RuntimeError("a start scheduled no fallback step")
        arrived = self.wait_sent("call", {probe}, timeout_s)
        left = sum(int(self.client.zcard(shard.due)) for shard in self.keys.every_shard)
        return {
            "delay_s": None if arrived is None else round(arrived - due_s, 3),
            "schedule_left": left,
        }


def run(options: FallbackOptions, log: Callable[[str], None]) -> dict[str, Any]:
    """Every scenario, `options.rounds` times; stops every process it started."""
    scenarios = [
        Scenario("stale", options.stale, 0, 0),
        Scenario("stale+ended+live", options.stale, options.ended, options.live),
    ]
    secret_key = secrets.token_urlsafe(48)
    redis_server = RedisServer()
    worker: DeliveryWorkerProcess | None = None
    store_client: redis.Redis | None = None
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        outbox = Path(scratch) / "outbox.jsonl"
        try:
            redis_server.start()
            verify_env = {
                "VERIFY_REDIS_URL": redis_server.url,
                "VERIFY_SECRET_KEY": secret_key,
                "VERIFY_ACCOUNT_SID": "AC" + secrets.token_hex(16),
                "VERIFY_AUTH_TOKEN": secrets.token_hex(16),
                "VERIFY_CONSOLE_OUTBOX": str(outbox),
                "VERIFY_REDIS_KEY_PREFIX": KEY_PREFIX,
            }
            worker = DeliveryWorkerProcess(verify_env).start(RESULTS / "fallback-worker.log")
            settings = Settings(
                account_sid=verify_env["VERIFY_ACCOUNT_SID"],
                auth_token=verify_env["VERIFY_AUTH_TOKEN"],
                secret_key=secret_key.encode(),
                redis_url=redis_server.url,
                console_outbox=str(outbox),
                key_prefix=KEY_PREFIX,
            )
            store_client = connect(redis_server.url, 5.0)
            container = build_container(settings, redis_client=store_client)
            service = container.catalog.create(
                {
                    "friendly_name": "Fallback",
                    "fallback_channels": (Channel.CALL,),
                    "fallback_after_seconds": 60,
                }
            )
            rig = Rig(container, redis_server.client(), outbox, service.sid, log)
            results: dict[str, Any] = {
                "redis": redis_server.version(),
                "target_delay_s": TARGET_DELAY_S,
            }
            for scenario in scenarios:
                rounds = []
                for number in range(options.rounds):
                    worker.check_alive()
                    figures = rig.round(scenario, options.timeout_s)
                    rounds.append(figures)
                    delay = figures["delay_s"]
                    shown = f"{delay:.3f} s" if delay is not None else "not sent"
                    log(
                        f"  {scenario.name} (stale {scenario.stale}, ended {scenario.ended}, "
                        f"live {scenario.live}) round {number + 1}: probe {shown}, "
                        f"{figures['schedule_left']} entries left"
                    )
                results[scenario.name] = {
                    "stale": scenario.stale,
                    "ended": scenario.ended,
                    "live": scenario.live,
                    "timeout_s": options.timeout_s,
                    "rounds": rounds,
                }
            return results
        finally:
            if worker is not None:
                worker.stop()
            if store_client is not None:
                store_client.close()
            redis_server.stop()


def report(results: dict[str, Any], log: Callable[[str], None]) -> bool:
    """Prints the figures against the target; True when a target was missed."""
    missed = False
    for figures in results.values():
        if not isinstance(figures, dict):
            continue
        delays = [r["delay_s"] for r in figures["rounds"]]
        sent = [d for d in delays if d is not None]
        worst = max(sent) if len(sent) == len(delays) and sent else None
        ok = worst is not None and worst <= TARGET_DELAY_S
        missed |= not ok
        summary = (
            f"min {min(sent):.3f} s, median {statistics.median(sent):.3f} s, max {max(sent):.3f} s"
            if sent
            else "none sent"
        )
        unsent = len(delays) - len(sent)
        log(
            f"fallback probe behind {figures['stale']} stale + {figures['ended']} ended + "
            f"{figures['live']} live due steps: {summary}"
            + (
                f", {unsent} of {len(delays)} not sent within {figures['timeout_s']:.0f} s"
                if unsent
                else ""
            )
            + f"  (target ≤ {TARGET_DELAY_S:.0f} s: {'ok' if ok else 'MISSED'})"
        )
    return missed

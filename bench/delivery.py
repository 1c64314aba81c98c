"""The delivery phase of `make bench`: one `verify-service worker` pushing SMS to a local
stand-in webhook gateway (bench/standin.py).

Self-contained: it starts its own redis-server, the stand-in, `verify-service serve
--no-worker` and one `verify-service worker` (webhook provider,
`VERIFY_SMS_PROVIDERS=webhook+http://127.0.0.1:PORT/hook?secret=…`), and stops them all.

- (h) throughput: N messages are queued first (real `Verifications.start` use case and Redis
  store in this process, argon2 stood in for, so the queue fills in seconds), then the worker
  starts; messages per second = (N - 1) / (last arrival - first arrival) at the stand-in.
- (i) latency under API load: with the worker running, starts are POSTed to the API at a
  steady rate, open loop (wrk with bench/lua/paced_start.lua, whose delay() holds each
  request until its due time; or, without wrk, a Python pacer of several threads); per
  message, enqueue-to-provider-request latency = the stand-in's
  arrival time - the attempt's `t_queued` (stamped by the start use case before it hashes
  the code and writes, so this over-counts by that part of the start), and - the time the
  start's response reached the client (under-counts: the worker may beat the response).
  The XADD happened between the two.
- (j) latency, enqueue only: the same pacing of in-process `Verifications.start` calls (no
  HTTP server load), to show the worker's own latency apart from CPU contention.

The service is the bench's *unprotected* one (bench/services.py: every limit 0, Fraud Guard
off): this phase measures delivery, and its 3 000 + 2 x 2 400 sends to one country would
reach the default daily caps (and Fraud Guard's breaker) of a protected service.

    .venv/bin/python -m bench.run --only delivery
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import resource
import secrets
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench import inprocess, services
from bench.load import RESULT_MARK
from bench.numbers import PREFIX, NumberBlock
from bench.processes import (
    REPO,
    DeliveryWorkerProcess,
    RedisServer,
    StandInProvider,
    VerifyServer,
    machine_cpu_seconds,
)
from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_connection import connect
from verify_service.adapters.redis_store.attempts.attempt_records import RedisAttemptRecords
from verify_service.adapters.redis_store.keys import HistoryKeys, OutboxKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.app import build_container
from verify_service.application.verifications.verifications import StartRequest, Verifications
from verify_service.domain.keyring import Keyring
from verify_service.domain.models import Channel
from verify_service.settings import Settings

RESULTS = REPO / "bench" / "results"
PACED_LUA = REPO / "bench" / "lua" / "paced_start.lua"
KEY_PREFIX = "vs"
TARGET_RATE = 200.0  # sends per second at which the latency targets hold
TARGET_P50_MS = 20.0
TARGET_P99_MS = 100.0
# The worker's XREADGROUP BLOCK (an XADD wakes it at once): delivery_runner derives it from
# VERIFY_REDIS_TIMEOUT_SECONDS, max(10, min(200, timeout * 500)) = 200 ms by default.
WORKER_BLOCK_MS = 200

# Number blocks (+44 7400 NNNNNN), apart from those of the other phases.
THROUGHPUT_BASE, WARMUP_BASE, API_BASE, ENQUEUE_BASE = 700_000, 720_000, 730_000, 760_000


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    messages: int = 3000  # queued before the worker starts (throughput)
    rate: float = TARGET_RATE  # sends per second (latency)
    duration_s: float = 12.0  # seconds of paced load per latency phase
    warmup_s: float = 2.0
    workers: int = 4  # gunicorn workers of `serve --no-worker`
    pacer_threads: int = 32  # Python pacer threads, or wrk connections
    wrk: str | None = None  # paces the API load when set, else the Python pacer does
    drain_timeout_s: float = 60.0
    quiet_wait_s: float = 10.0  # at most, before each measurement, for other load to stop
    enqueue_only: bool = True  # also run (j)


def percentiles(values: list[float]) -> dict[str, float]:
    """Nearest-rank p50/p90/p99, max and mean (0 for no values)."""
    if not values:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0, "min": 0.0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    return {
        "p50": rank(50),
        "p90": rank(90),
        "p99": rank(99),
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
        "min": ordered[0],
    }


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback URL
        body: dict[str, Any] = json.load(response)
        return body


def post_form(url: str, auth: str, data: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL built here
        url,
        data=urllib.parse.urlencode(data).encode(),
        headers={"Authorization": auth},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
        return body


# -- pacing --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Sent:
    """One paced send: when it was due and sent (perf counter, s), when its answer came (wall
    clock, ns), the HTTP status (201 in-process) and the verification sid it created."""

    due_s: float
    sent_s: float
    answered_ns: int
    answered_s: float
    status: int
    verification_sid: str


@dataclass(slots=True)
class Paced:
    sends: list[Sent] = field(default_factory=list)
    errors: int = 0
    duration_s: float = 0.0

    @property
    def created(self) -> dict[str, Sent]:
        return {s.verification_sid: s for s in self.sends if s.status == 201}


@dataclass(slots=True)
class Driven:
    """What a paced load did, whoever generated it."""

    answered_ns: dict[str, int]  # verification sid -> wall clock (ns) its 201 answer was read
    sends: int
    errors: int
    duration_s: float
    achieved_rate: float
    generator: str
    client_cpu_s: float
    start_latency_ms: dict[str, float] | None = None
    pacer_lateness_ms: dict[str, float] | None = None


def driven_by_python(paced: Paced, client_cpu_s: float) -> Driven:
    sent = sorted(s.sent_s for s in paced.sends)
    span = sent[-1] - sent[0] if len(sent) > 1 else 0.0
    return Driven(
        answered_ns={sid: s.answered_ns for sid, s in paced.created.items()},
        sends=len(paced.sends),
        errors=paced.errors,
        duration_s=paced.duration_s,
        achieved_rate=(len(sent) - 1) / span if span else 0.0,
        generator="python pacer",
        client_cpu_s=client_cpu_s,
        start_latency_ms=percentiles(
            [(s.answered_s - s.sent_s) * 1000 for s in paced.sends if s.status == 201]
        ),
        pacer_lateness_ms=percentiles([(s.sent_s - s.due_s) * 1000 for s in paced.sends]),
    )


def drive_python(
    send: Callable[[int], tuple[int, str]], rate: float, duration_s: float, threads: int
) -> Driven:
    cpu0 = time.process_time()
    paced = pace(send, rate, duration_s, threads)
    return driven_by_python(paced, time.process_time() - cpu0)


def drive_wrk(
    wrk: str,
    url: str,
    path: str,
    auth: str,
    block: NumberBlock,
    rate: float,
    duration_s: float,
    connections: int,
) -> Driven:
    """Paced starts by wrk (bench/lua/paced_start.lua), one thread: far lighter on the
    client side than the Python pacer, which matters on 2 cores."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as folder:
        out = Path(folder) / "answers"
        argv = [
            wrk,
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{duration_s:g}s",
            "--timeout",
            "10s",
            "-s",
            str(PACED_LUA),
            url,
            "--",
            path,
            auth,
            PREFIX,
            str(block.base),
            str(block.span),
            f"{rate:g}",
            str(out),
        ]
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=duration_s + 60, check=False
        )
        answered: dict[str, int] = {}
        for answers in Path(folder).glob("answers.*"):
            for line in answers.read_text().splitlines():
                sid, _, ns = line.partition(" ")
                if ns:
                    answered[sid] = int(ns)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [ln for ln in completed.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    raw = json.loads(lines[-1].removeprefix(RESULT_MARK))
    seconds = raw["duration_us"] / 1e6
    return Driven(
        answered_ns=answered,
        sends=raw["requests"],
        errors=sum(raw["errors"].values()),
        duration_s=seconds,
        achieved_rate=raw["requests"] / seconds if seconds else 0.0,
        generator="wrk (bench/lua/paced_start.lua)",
        client_cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        start_latency_ms={k: v / 1000 for k, v in raw["latency_us"].items()},
    )


def pace(
    send: Callable[[int], tuple[int, str]], rate: float, duration_s: float, threads: int
) -> Paced:
    """Calls `send(i)` for i in [0, rate * duration), the i-th at start + i / rate, from
    `threads` threads (a late send goes at once; none is skipped)."""
    total = int(rate * duration_s)
    result = Paced()
    lock = threading.Lock()
    counter = [0]
    start = time.perf_counter() + 0.05

    def loop() -> None:
        while True:
            with lock:
                index = counter[0]
                counter[0] += 1
            if index >= total:
                return
            due = start + index / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            try:
                status, sid = send(index)
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                with lock:
                    result.errors += 1
                continue
            answered_ns, answered = time.time_ns(), time.perf_counter()
            with lock:
                result.sends.append(Sent(due, sent, answered_ns, answered, status, sid))
                if status != 201:
                    result.errors += 1

    pool = [threading.Thread(target=loop, daemon=True) for _ in range(max(1, threads))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    result.duration_s = time.perf_counter() - start
    return result


def api_sender(
    url: str, path: str, auth: str, block: NumberBlock
) -> Callable[[int], tuple[int, str]]:
    parts = urllib.parse.urlsplit(url)
    headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}

    def send(index: int) -> tuple[int, str]:
        body = f"To={urllib.parse.quote(block.number(index))}&Channel=sms"
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        sid = str(json.loads(payload).get("sid", "")) if response.status == 201 else ""
        return response.status, sid

    return send


def inprocess_sender(
    verifications: Verifications, service_sid: str, block: NumberBlock
) -> Callable[[int], tuple[int, str]]:
    def send(index: int) -> tuple[int, str]:
        started = verifications.start(
            service_sid, StartRequest(to=block.number(index), channel=Channel.SMS)
        )
        return 201, started.sid

    return send


class XaddObserver:
    """Reads the outbox stream without a consumer group (XREAD BLOCK, from `$`) and keeps
    each entry's id time, i.e. Redis's clock (ms) when the start's XADD ran, by attempt sid.
    It is woken by every XADD like the worker is; an entry the worker had already sent and
    deleted before the observer read it is simply not seen (counted as unobserved)."""

    def __init__(self, url: str, streams: list[str]) -> None:
        self._client = redis.Redis.from_url(url)
        self._streams = streams  # every outbox shard's (one server: one XREAD for all)
        self._stop = threading.Event()
        self.added_ms: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, name="xadd-observer", daemon=True)

    def __enter__(self) -> XaddObserver:
        self._thread.start()
        time.sleep(0.2)  # its first XREAD from `$` is waiting before the load starts
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._client.close()

    def _run(self) -> None:
        last: dict[Any, str | bytes] = dict.fromkeys(self._streams, "$")
        while not self._stop.is_set():
            reply: Any = self._client.xread(last, block=200)
            for stream, entries in reply or []:
                for entry_id, fields in entries:
                    last[stream.decode() if isinstance(stream, bytes) else stream] = entry_id
                    attempt = fields.get(b"att")
                    if attempt is not None:
                        self.added_ms[attempt.decode()] = int(entry_id.split(b"-")[0])


# -- the phases ----------------------------------------------------------------------------------


@dataclass
class Rig:
    """The processes and clients the delivery phases share."""

    options: DeliveryOptions
    settings: Settings
    auth: str
    redis_server: RedisServer
    redis_client: redis.Redis
    standin: StandInProvider
    api: VerifyServer
    worker: DeliveryWorkerProcess | None
    verify_env: dict[str, str]
    service_sid: str
    verifications: Verifications
    log: Callable[[str], None]

    def arrivals(self) -> dict[str, Any]:
        return get_json(f"{self.standin.url}/_arrivals")

    def count(self) -> int:
        return int(get_json(f"{self.standin.url}/_count")["count"])

    def wait_count(self, expected: int, settle_s: float = 0.0) -> tuple[int, float]:
        """Polls the stand-in until `expected` requests have arrived (or the drain timeout),
        then until no more arrive for `settle_s` (sends whose answer the load generator
        did not wait for); returns the count and the seconds waited until `expected`."""
        started = time.monotonic()
        deadline = started + self.options.drain_timeout_s
        seen = self.count()
        while seen < expected and time.monotonic() < deadline:
            if self.worker is not None:
                self.worker.check_alive()
            time.sleep(0.02)
            seen = self.count()
        waited = time.monotonic() - started
        if settle_s > 0:
            last = -1
            while seen != last and time.monotonic() < deadline:
                last = seen
                time.sleep(settle_s)
                seen = self.count()
        return seen, waited

    def queued_ms(self, attempt_sids: list[str]) -> dict[str, int]:
        """Each attempt's `t_queued` (ms) from its attempt history record."""
        records = RedisAttemptRecords(
            self.redis_client, ScriptBook(), HistoryKeys(KEY_PREFIX), DestinationCipher(bytes(32))
        )
        found: dict[str, int] = {}
        for sid in attempt_sids:
            value = records.fields(sid).get("t_queued")
            if value is not None:
                found[sid] = int(value)
        return found

    def cpu(self) -> dict[str, float]:
        busy, irq = machine_cpu_seconds()
        figures = {
            "api": self.api.cpu_seconds(),
            "redis": self.redis_server.cpu_seconds(),
            "standin": self.standin.cpu_seconds(),
            "machine_busy": busy,
            "kernel_interrupts": irq,
        }
        if self.worker is not None:
            figures["worker"] = self.worker.cpu_seconds()
        return figures


def cpu_delta(
    before: dict[str, float], after: dict[str, float], load_generator_s: float = 0.0
) -> dict[str, float]:
    """CPU seconds per process between two `Rig.cpu` readings, with the load generator's,
    and what the rest of the machine used ("other load")."""
    delta = {k: after[k] - before[k] for k in after if k in before}
    delta["load_generator"] = load_generator_s
    ours = sum(v for k, v in delta.items() if k not in ("machine_busy", "kernel_interrupts"))
    delta["other_load"] = max(delta["machine_busy"] - ours - delta["kernel_interrupts"], 0.0)
    return delta


def wait_for_quiet(limit_s: float, threshold: float = 0.25) -> float:
    """Waits up to `limit_s` for the machine to be idle; returns the busy cores last seen."""
    deadline = time.monotonic() + limit_s

    def busy() -> float:
        before, _ = machine_cpu_seconds()
        time.sleep(0.5)
        return (machine_cpu_seconds()[0] - before) / 0.5

    seen = busy()
    while seen > threshold and time.monotonic() < deadline:
        seen = busy()
    return seen


def measure_throughput(rig: Rig, block: NumberBlock) -> dict[str, Any]:
    """(h): fill the outbox, start one worker, time the stand-in's arrivals."""
    n = block.size
    started = time.monotonic()
    for index in range(n):
        rig.verifications.start(
            rig.service_sid, StartRequest(to=block.number(index), channel=Channel.SMS)
        )
    fill_s = time.monotonic() - started
    queued = sum(int(rig.redis_client.xlen(s.stream)) for s in OutboxKeys(KEY_PREFIX).every_shard)
    rig.log(
        f"  queued {queued} messages in {fill_s:.1f} s (in-process starts); starting the worker"
    )
    quiet = wait_for_quiet(rig.options.quiet_wait_s)

    stats0 = inprocess.commandstats(rig.redis_client)
    worker = DeliveryWorkerProcess(rig.verify_env)
    rig.worker = worker
    spawned = time.monotonic()
    worker.start(RESULTS / "delivery-worker.log")
    rig.wait_count(1)
    first_seen = time.monotonic()
    cpu0 = rig.cpu()
    count0 = rig.count()
    seen, _ = rig.wait_count(n)
    cpu1 = rig.cpu()
    done = time.monotonic()
    commands = inprocess.command_delta(stats0, inprocess.commandstats(rig.redis_client))
    taken = rig.arrivals()
    arrivals: list[list[Any]] = taken["arrivals"]
    times = sorted(int(a[0]) for a in arrivals)
    unique = len({a[1] for a in arrivals})
    span_s = (times[-1] - times[0]) / 1e9 if len(times) > 1 else 0.0
    cpu = cpu_delta(cpu0, cpu1)
    measured = max(seen - count0, 1)
    window_s = max(done - first_seen, 1e-9)
    return {
        "messages_queued": queued,
        "messages_arrived": len(arrivals),
        "distinct_attempts": unique,
        "bad_signatures": taken["bad_signatures"],
        "first_to_last_s": span_s,
        "messages_per_s": (len(times) - 1) / span_s if span_s else 0.0,
        "spawn_to_first_s": first_seen - spawned,
        "spawn_to_last_s": done - spawned,
        "fill_s": fill_s,
        "stream_length_after": sum(
            int(rig.redis_client.xlen(s.stream)) for s in OutboxKeys(KEY_PREFIX).every_shard
        ),
        "cpu_ms_per_message": {
            "worker": cpu.get("worker", 0.0) / measured * 1000,
            "redis": cpu["redis"] / measured * 1000,
            "standin": cpu["standin"] / measured * 1000,
            "kernel_interrupts": cpu["kernel_interrupts"] / measured * 1000,
        },
        "machine_busy_cores": cpu["machine_busy"] / window_s,
        "worker_busy_cores": cpu.get("worker", 0.0) / window_s,
        "other_load_cores": cpu["other_load"] / window_s,
        "machine_busy_cores_before": quiet,
        "redis_commands_per_message": {k: v / max(n, 1) for k, v in commands.items()},
        "redis_commands_total_per_message": sum(commands.values()) / max(n, 1),
    }


def latency_figures(
    rig: Rig, driven: Driven, arrivals: list[list[Any]], added_ms: dict[str, int]
) -> dict[str, Any]:
    """Per arrival: arrival - XADD (the stream entry id's time), arrival - t_queued; and,
    for the sends whose 201 answer the client read, arrival - that answer's time."""
    queued = rig.queued_ms([str(a[1]) for a in arrivals])
    from_xadd: list[float] = []
    from_queued: list[float] = []
    from_response: list[float] = []
    arrived_sids = set()
    for arrived_ns, attempt, verification in arrivals:
        arrived_sids.add(str(verification))
        if str(attempt) in added_ms:
            from_xadd.append(int(arrived_ns) / 1e6 - added_ms[str(attempt)])
        if str(attempt) in queued:
            from_queued.append(int(arrived_ns) / 1e6 - queued[str(attempt)])
        answered = driven.answered_ns.get(str(verification))
        if answered is not None:
            from_response.append((int(arrived_ns) - answered) / 1e6)
    missing = sum(1 for sid in driven.answered_ns if sid not in arrived_sids)
    figures: dict[str, Any] = {
        "load_generator": driven.generator,
        "sends": driven.sends,
        "created": len(driven.answered_ns),
        "errors": driven.errors,
        "achieved_rate": driven.achieved_rate,
        "delivered": len(arrivals),
        "missing": missing,
        "xadd_observed": len(from_xadd),
        "from_xadd_ms": percentiles(from_xadd),
        "from_queued_ms": percentiles(from_queued),
        "from_response_ms": percentiles(from_response),
    }
    if driven.start_latency_ms is not None:
        figures["start_response_ms"] = driven.start_latency_ms
    if driven.pacer_lateness_ms is not None:
        figures["pacer_lateness_ms"] = driven.pacer_lateness_ms
    return figures


def measure_latency(rig: Rig, drive: Callable[[], Driven]) -> dict[str, Any]:
    """(i) or (j): paced sends with the worker running; latency per delivered message."""
    rig.arrivals()  # clear
    quiet = wait_for_quiet(rig.options.quiet_wait_s)
    stats0 = inprocess.commandstats(rig.redis_client)
    streams = [shard.stream for shard in OutboxKeys(KEY_PREFIX).every_shard]
    with XaddObserver(rig.redis_server.url, streams) as observer:
        cpu0 = rig.cpu()
        driven = drive()
        cpu1 = rig.cpu()
        seen, waited = rig.wait_count(len(driven.answered_ns), settle_s=0.3)
    commands = inprocess.command_delta(stats0, inprocess.commandstats(rig.redis_client))
    taken = rig.arrivals()
    figures = latency_figures(rig, driven, taken["arrivals"], observer.added_ms)
    cpu = cpu_delta(cpu0, cpu1, driven.client_cpu_s)
    n = max(driven.sends, 1)
    figures.update(
        {
            "rate_target": rig.options.rate,
            "duration_s": driven.duration_s,
            "drain_wait_s": waited,
            "machine_busy_cores_before": quiet,
            "arrived": seen,
            "bad_signatures": taken["bad_signatures"],
            "busy_cores": {k: v / driven.duration_s for k, v in cpu.items()},
            "redis_commands_total_per_send": sum(commands.values()) / n,
        }
    )
    return figures


def warm_up(rig: Rig, drive: Callable[[], Driven]) -> None:
    """The gunicorn workers import lazily and connect on first use: a short paced load."""
    driven = drive()
    rig.wait_count(len(driven.answered_ns), settle_s=0.3)
    rig.arrivals()


# -- the run -------------------------------------------------------------------------------------


def run(options: DeliveryOptions, log: Callable[[str], None]) -> dict[str, Any]:
    """Runs (h), (i) and (j); returns their figures. Stops every process it started."""
    account_sid = "AC" + secrets.token_hex(16)
    auth_token = secrets.token_hex(16)
    secret_key = secrets.token_urlsafe(48)
    webhook_secret = secrets.token_hex(16)
    auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()

    api_count = int(options.rate * options.duration_s)
    blocks = {
        "throughput": NumberBlock(THROUGHPUT_BASE, options.messages, 1),
        "warmup": NumberBlock(WARMUP_BASE, int(options.rate * options.warmup_s), 1),
        "api": NumberBlock(API_BASE, api_count, 1),
        "enqueue": NumberBlock(ENQUEUE_BASE, api_count, 1),
    }
    for block in blocks.values():
        block.validate()

    redis_server = RedisServer()
    standin = StandInProvider(webhook_secret)
    api: VerifyServer | None = None
    worker: DeliveryWorkerProcess | None = None
    rig: Rig | None = None
    redis_client: redis.Redis | None = None
    store_client: redis.Redis | None = None
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        redis_server.start()
        redis_client = redis_server.client()
        standin.start(RESULTS / "standin.log")
        dsn = f"webhook+http://127.0.0.1:{standin.port}/hook?secret={webhook_secret}"
        verify_env = {
            "VERIFY_REDIS_URL": redis_server.url,
            "VERIFY_SECRET_KEY": secret_key,
            "VERIFY_ACCOUNT_SID": account_sid,
            "VERIFY_AUTH_TOKEN": auth_token,
            "VERIFY_CONSOLE_OUTBOX": "/dev/null",
            "VERIFY_REDIS_KEY_PREFIX": KEY_PREFIX,
            "VERIFY_SMS_PROVIDERS": dsn,
        }
        api = VerifyServer(verify_env, options.workers, with_worker=False)
        verify_env["VERIFY_PUBLIC_URL"] = f"http://127.0.0.1:{api.port}"
        api.start(RESULTS / "delivery-api.log")
        api_url = api.url
        service_sid = services.create(
            lambda path, data: post_form(api_url + path, auth, data), "Delivery", protected=False
        ).sid
        settings = Settings(
            account_sid=account_sid,
            auth_token=auth_token,
            secret_key=secret_key.encode(),
            redis_url=redis_server.url,
            console_outbox="/dev/null",
            key_prefix=KEY_PREFIX,
        )
        store_client = connect(redis_server.url, 5.0)
        container = build_container(settings, redis_client=store_client)
        if container.protection is None:
            raise RuntimeError("build_container made no AbuseProtection")
        verifications = Verifications(
            store=container.verification_store,
            hasher=inprocess.SameSizeHasher(),
            keyring=Keyring.from_secret(settings.secret_key),
            clock=inprocess.WallClock(),
            protection=container.protection,
        )
        rig = Rig(
            options,
            settings,
            auth,
            redis_server,
            redis_client,
            standin,
            api,
            None,
            verify_env,
            service_sid,
            verifications,
            log,
        )
        log(
            f"redis-server on {redis_server.port}, stand-in provider on {standin.port}, "
            f"verify-service serve --no-worker on {api.port} ({options.workers} workers)"
        )
        results: dict[str, Any] = {
            "settings": {
                "messages": options.messages,
                "rate": options.rate,
                "duration_s": options.duration_s,
                "warmup_s": options.warmup_s,
                "api_workers": options.workers,
                "pacer_threads": options.pacer_threads,
                "worker_block_ms": WORKER_BLOCK_MS,
                "provider": "webhook+http://127.0.0.1:PORT/hook (bench/standin.py)",
            },
            "redis": redis_server.version(),
        }

        log(f"\n(h) delivery throughput: {options.messages} queued messages, one worker")
        throughput = measure_throughput(rig, blocks["throughput"])
        worker = rig.worker
        results["throughput"] = throughput
        cpu = throughput["cpu_ms_per_message"]
        log(
            f"  throughput: {throughput['messages_arrived']} messages in "
            f"{throughput['first_to_last_s']:.2f} s = {throughput['messages_per_s']:.1f} msg/s "
            f"(first to last arrival; worker start to first {throughput['spawn_to_first_s']:.2f} s)"
        )
        log(
            f"    CPU per message: worker {cpu['worker']:.2f} ms, redis {cpu['redis']:.3f} ms, "
            f"stand-in {cpu['standin']:.2f} ms, kernel irq {cpu['kernel_interrupts']:.2f} ms; "
            f"worker busy {throughput['worker_busy_cores']:.2f} cores (other load "
            f"{throughput['other_load_cores']:.2f}); redis commands/message "
            f"{throughput['redis_commands_total_per_message']:.2f}"
        )

        log(
            f"\n(i) delivery latency under API load: starts POSTed at {options.rate:g}/s for "
            f"{options.duration_s:g} s (after {options.warmup_s:g} s warm-up)"
        )
        start_path = f"/v2/Services/{service_sid}/Verifications"

        def api_drive(block: NumberBlock, seconds: float) -> Callable[[], Driven]:
            if options.wrk is not None:
                wrk = options.wrk
                return lambda: drive_wrk(
                    wrk, api.url, start_path, auth, block, options.rate, seconds, 32
                )
            sender = api_sender(api.url, start_path, auth, block)
            return lambda: drive_python(sender, options.rate, seconds, options.pacer_threads)

        warm_up(rig, api_drive(blocks["warmup"], options.warmup_s))
        api_latency = measure_latency(rig, api_drive(blocks["api"], options.duration_s))
        results["latency_api"] = api_latency
        print_latency(log, "api", api_latency)

        if options.enqueue_only:
            log(
                f"\n(j) delivery latency, enqueue only: in-process starts at {options.rate:g}/s "
                f"for {options.duration_s:g} s (no HTTP load)"
            )
            sender = inprocess_sender(verifications, service_sid, blocks["enqueue"])
            enqueue_latency = measure_latency(
                rig, lambda: drive_python(sender, options.rate, options.duration_s, 1)
            )
            results["latency_enqueue_only"] = enqueue_latency
            print_latency(log, "enqueue only", enqueue_latency)
        if worker is not None:
            worker.check_alive()
        api.check_alive()
        results["targets"] = targets(results)
        return results
    finally:
        worker = rig.worker if rig is not None else worker
        for process in (worker, api, standin):
            if process is not None:
                process.stop()
        for client in (store_client, redis_client):
            if client is not None:
                client.close()
        redis_server.stop()


def print_latency(log: Callable[[str], None], name: str, figures: dict[str, Any]) -> None:
    x, q, r = figures["from_xadd_ms"], figures["from_queued_ms"], figures["from_response_ms"]
    log(
        f"  {name}: {figures['delivered']} delivered ({figures['created']} 201 answers read, "
        f"{figures['errors']} errors, {figures['missing']} missing) at "
        f"{figures['achieved_rate']:.1f}/s; enqueue (XADD) to provider request p50 "
        f"{x['p50']:.1f} ms, p90 {x['p90']:.1f} ms, p99 {x['p99']:.1f} ms, max {x['max']:.1f} ms "
        f"({figures['xadd_observed']} XADDs observed)"
    )
    line = (
        f"    from t_queued: p50 {q['p50']:.1f} ms, p99 {q['p99']:.1f} ms, max {q['max']:.1f} ms; "
        f"from the start's response: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms"
    )
    if "start_response_ms" in figures:
        s = figures["start_response_ms"]
        line += f"; start latency p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms"
    log(line)
    busy = figures["busy_cores"]
    line = (
        f"    busy cores: worker {busy.get('worker', 0.0):.2f}, API {busy['api']:.2f}, "
        f"redis {busy['redis']:.2f}, stand-in {busy['standin']:.2f}, load generator "
        f"{busy['load_generator']:.2f}, machine {busy['machine_busy']:.2f} (other load "
        f"{busy['other_load']:.2f})"
    )
    if "pacer_lateness_ms" in figures:
        line += f"; pacer lateness p99 {figures['pacer_lateness_ms']['p99']:.1f} ms"
    log(line + f" [{figures['load_generator']}]")


def valid(figures: dict[str, Any]) -> bool:
    """A latency run counts when nothing was lost, the rate was held and XADDs were seen."""
    return bool(
        figures["missing"] == 0
        and figures["errors"] == 0
        and figures["achieved_rate"] >= 0.95 * figures["rate_target"]
        and figures["xadd_observed"] >= 0.99 * figures["delivered"]
    )


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets, on the XADD-to-provider latency of each latency run: (i) is the one the
    issue asks for (the whole service on the machine); (j) the worker alone."""
    found = []
    for name, label in (("latency_api", "API load"), ("latency_enqueue_only", "enqueue only")):
        if name not in results:
            continue
        figures = results[name]
        x = figures["from_xadd_ms"]
        rate = figures["rate_target"]
        for p, limit in (("p50", TARGET_P50_MS), ("p99", TARGET_P99_MS)):
            found.append(
                {
                    "name": f"delivery {p} at {rate:g}/s, {label} (ms)",
                    "value": x[p],
                    "target": f"<= {limit:g}",
                    "pass": valid(figures) and x[p] <= limit,
                    "valid_run": valid(figures),
                }
            )
    return found


def report(results: dict[str, Any], log: Callable[[str], None]) -> bool:
    """Prints the delivery figures and targets; returns True when a target is missed."""
    throughput = results["throughput"]
    rows = [
        ("delivery throughput, one worker (msg/s)", f"{throughput['messages_per_s']:.1f}"),
        ("worker CPU per message (ms)", f"{throughput['cpu_ms_per_message']['worker']:.2f}"),
    ]
    for name, label in (("latency_api", "API load"), ("latency_enqueue_only", "enqueue only")):
        if name not in results:
            continue
        f = results[name]
        x, q, r = f["from_xadd_ms"], f["from_queued_ms"], f["from_response_ms"]
        rows += [
            (
                f"{label}: sends/s achieved (target {f['rate_target']:g})",
                f"{f['achieved_rate']:.1f}",
            ),
            (
                "  XADD→provider p50 / p99 / max (ms)",
                f"{x['p50']:.1f} / {x['p99']:.1f} / {x['max']:.1f}",
            ),
            (
                "  t_queued→provider p50 / p99 / max (ms)",
                f"{q['p50']:.1f} / {q['p99']:.1f} / {q['max']:.1f}",
            ),
            (
                "  201 answer→provider p50 / p99 / max (ms)",
                f"{r['p50']:.1f} / {r['p99']:.1f} / {r['max']:.1f}",
            ),
        ]
    log("delivery figures")
    for name, value in rows:
        log(f"  {name:<52} {value:>24}")
    log("delivery targets")
    missed = False
    for target in results["targets"]:
        missed |= not target["pass"]
        note = "" if target["valid_run"] else "  (run not valid: see warnings)"
        log(
            f"  {target['name']:<44} {target['value']:>8.1f}   {target['target']:<6} "
            f"{'PASS' if target['pass'] else 'MISS'}{note}"
        )
    for name in ("throughput", "latency_api", "latency_enqueue_only"):
        phase = results.get(name, {})
        other = phase.get("other_load_cores", phase.get("busy_cores", {}).get("other_load", 0.0))
        if other > 0.2:
            log(f"  WARNING: other processes used {other:.2f} cores during {name}")
        if name == "throughput" or name not in results:
            continue
        if phase["missing"] or phase["errors"]:
            log(f"  WARNING: {name}: {phase['errors']} errors, {phase['missing']} never arrived")
        if phase["achieved_rate"] < 0.95 * phase["rate_target"]:
            log(
                f"  WARNING: {name}: {phase['achieved_rate']:.1f} sends/s, not the "
                f"{phase['rate_target']:g}/s asked (the machine could not keep up)"
            )
    return missed

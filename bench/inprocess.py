"""Figures measured inside this process, against the bench's redis-server: argon2 time per
hash, Redis round trips and commands per use case, Redis memory per pending verification;
the last two for an unprotected and a protected service alike (bench/services.py)."""

from __future__ import annotations

import base64
import cProfile
import hashlib
import io
import os
import pstats
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis
from redis.connection import AbstractConnection

from bench import services
from bench.numbers import PREFIX, NumberBlock
from bench.services import BenchService
from verify_service.adapters.argon2_hasher import PROFILES, Argon2CodeHasher, Argon2Profile
from verify_service.adapters.redis_connection import connect
from verify_service.app import CONTAINER_KEY, Container, build_container, create_app
from verify_service.application.verifications.verifications import StartRequest, Verifications
from verify_service.domain.delivery.delivery import DeliveryReceipt, DeliveryRequest
from verify_service.domain.errors import VerifyError
from verify_service.domain.keyring import Keyring
from verify_service.domain.models import Channel
from verify_service.settings import Settings

# -- argon2 ------------------------------------------------------------------------------------

HASHES_PER_PROFILE = {"otp-2m": 400, "otp-8m": 150, "otp-19m": 30}


def time_argon2(secret: bytes, profile: Argon2Profile, count: int) -> dict[str, float]:
    """Milliseconds per `Argon2CodeHasher.digest` (HMAC + argon2id), `count` sequential runs
    in this one process after three warm-up runs."""
    hasher = Argon2CodeHasher(Keyring.from_secret(secret), profile)
    sid, salt = "VE" + "0" * 32, hasher.new_salt()
    for _ in range(3):
        hasher.digest(sid, "123456", salt)
    samples = []
    for index in range(count):
        started = time.perf_counter()
        hasher.digest(sid, f"{index % 1_000_000:06d}", salt)
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "hashes": count,
        "mean_ms": statistics.fmean(samples),
        "median_ms": statistics.median(samples),
        "min_ms": min(samples),
        "p90_ms": sorted(samples)[int(0.9 * len(samples))],
    }


def time_all_profiles(secret: bytes) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for name, profile in PROFILES.items():
        figures = time_argon2(secret, profile, HASHES_PER_PROFILE.get(name, 50))
        table[name] = {
            "time_cost": profile.time_cost,
            "memory_cost_kib": profile.memory_cost_kib,
            "parallelism": profile.parallelism,
            **figures,
        }
    return table


# -- Redis commands and round trips --------------------------------------------------------------


def commandstats(client: redis.Redis) -> Counter[str]:
    """Calls per command name since the server started (script-internal calls included)."""
    stats: dict[str, Any] = client.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


def command_delta(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    """Commands run between two snapshots, without the bench's own INFO calls."""
    delta = after - before
    return {name: calls for name, calls in sorted(delta.items()) if name != "info"}


@contextmanager
def counting_round_trips() -> Iterator[list[int]]:
    """Counts calls of redis-py's `send_packed_command`: one per request written to a socket,
    where a whole pipeline is one call (and one reply read), i.e. one network round trip."""
    counter = [0]
    original = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        counter[0] += 1
        original(self, command, check_health)  # type: ignore[no-untyped-call]

    AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


@contextmanager
def timing_argon2() -> Iterator[list[float]]:
    """Seconds spent in `Argon2CodeHasher.digest` (HMAC + argon2id; a check's `matches` runs
    it once) and how many hashes ran, measured in this process around each call: the argon2
    share of a request's CPU, measured, not computed."""
    spent = [0.0, 0.0]  # seconds, hashes
    original = Argon2CodeHasher.digest

    def timed(self: Argon2CodeHasher, verification_sid: str, code: str, salt: bytes) -> bytes:
        started = time.process_time()
        try:
            return original(self, verification_sid, code, salt)
        finally:
            spent[0] += time.process_time() - started
            spent[1] += 1

    Argon2CodeHasher.digest = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        Argon2CodeHasher.digest = original  # type: ignore[method-assign]


def redis_cpu_seconds(client: redis.Redis) -> float:
    """redis-server's own CPU time (`INFO cpu`, user + system, µs resolution)."""
    info: dict[str, Any] = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def profile_top(profiler: cProfile.Profile, count: int = 30) -> str:
    """The functions with the most own time (cProfile), as pstats prints them."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(count)
    return out.getvalue()


class CodeCatcher:
    """A delivery provider that keeps the last code of each verification (so the round trips
    of a right-code check can be counted too)."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}

    @property
    def name(self) -> str:
        return "catcher"

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        found = re.search(r"verification code is: (\d{4,10})", request.message.text)
        if found:
            self.codes[request.verification_sid] = found.group(1)
        return DeliveryReceipt(self.name, None)


def drain_outbox(container: Container) -> None:
    """Deliver everything queued (outside the measured sections: delivery is the worker's)."""
    worker = container.delivery_worker("bench")
    while worker.run_once(block_ms=0):
        pass


def rate_limit_value(number: str) -> str:
    """The `RateLimits` value a bench start names: its number's digits, distinct per start."""
    return number.removeprefix(PREFIX)


def measure_round_trips(
    settings: Settings,
    protected: bool,
    block: NumberBlock,
    count: int,
    profile: bool = False,
) -> dict[str, Any]:
    """Runs `count` starts, `count` wrong-code checks and a right-code check per verification
    (up to `count`), sequentially through `create_app(settings).test_client()` against the
    bench Redis, counting round trips (instrumented redis-py) and commands (commandstats),
    and timing the CPU: this process's (`process_time`: the use case, Flask and redis-py,
    without gunicorn or the HTTP parsing of a real server), argon2's share of it (timed
    around each hash) and redis-server's (`INFO cpu`). With `profile`, each operation runs
    under cProfile and its top is kept (cProfile inflates this process's CPU figures: take
    them from a run without it).
    The service is created first, through the same client: unprotected or protected
    (bench/services.py); a protected start names a `RateLimits` value of its own."""
    catcher = CodeCatcher()
    app = create_app(settings, providers={channel: [catcher] for channel in Channel})
    container: Container = app.extensions[CONTAINER_KEY]
    client = app.test_client()
    token = base64.b64encode(f"{settings.account_sid}:{settings.auth_token}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    stats_client = redis.Redis.from_url(settings.redis_url or "")

    def post_any(path: str, data: dict[str, str]) -> dict[str, Any]:
        response = client.post(path, data=data, headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"{path}: HTTP {response.status_code} {response.get_data()!r}")
        body: dict[str, Any] = response.get_json()
        return body

    name = "RoundTripsProtected" if protected else "RoundTripsUnprotected"
    service = services.create(post_any, name, protected=protected)
    base = f"/v2/Services/{service.sid}"

    def post(path: str, data: dict[str, str], expect: int) -> dict[str, Any]:
        response = client.post(base + path, data=data, headers=headers)
        if response.status_code != expect:
            raise RuntimeError(f"{path}: HTTP {response.status_code} {response.get_data()!r}")
        body: dict[str, Any] = response.get_json()
        return body

    def start_form(number: str) -> dict[str, str]:
        return service.start_params(number, rate_limit_value(number))

    # Warm up: connection made, scripts loaded, lazy imports done.
    warm = post("/Verifications", start_form(block.number(block.size - 1)), 201)
    drain_outbox(container)
    post("/VerificationCheck", {"VerificationSid": warm["sid"], "Code": "000000"}, 200)

    def measured(run: Callable[[], list[str]]) -> tuple[list[str], dict[str, Any]]:
        profiler = cProfile.Profile() if profile else None
        before = commandstats(stats_client)
        redis_before = redis_cpu_seconds(stats_client)
        with counting_round_trips() as counter, timing_argon2() as argon2:
            cpu_before = time.process_time()
            if profiler is not None:
                profiler.enable()
            outputs = run()
            if profiler is not None:
                profiler.disable()
            cpu = time.process_time() - cpu_before
        redis_cpu = redis_cpu_seconds(stats_client) - redis_before
        commands = command_delta(before, commandstats(stats_client))
        n = len(outputs)
        figures: dict[str, Any] = {
            "operations": n,
            "round_trips": counter[0],
            "round_trips_per_op": counter[0] / n,
            "commands_per_op": {k: v / n for k, v in commands.items()},
            "commands_total_per_op": sum(commands.values()) / n,
            "cpu_ms_per_op": {
                "python": cpu * 1000 / n,
                "argon2": argon2[0] * 1000 / n,
                "python_without_argon2": (cpu - argon2[0]) * 1000 / n,
                "redis": redis_cpu * 1000 / n,
            },
            "hashes_per_op": argon2[1] / n,
            "cpu_profiled": profiler is not None,
        }
        if profiler is not None:
            figures["profile"] = profile_top(profiler)
        return outputs, figures

    sids, starts = measured(
        lambda: [
            post("/Verifications", start_form(block.number(i)), 201)["sid"] for i in range(count)
        ]
    )
    drain_outbox(container)
    _, wrong = measured(
        lambda: [
            post("/VerificationCheck", {"VerificationSid": sid, "Code": _wrong(catcher, sid)}, 200)[
                "status"
            ]
            for sid in sids
        ]
    )
    approved, right = measured(
        lambda: [
            post("/VerificationCheck", {"VerificationSid": sid, "Code": catcher.codes[sid]}, 200)[
                "status"
            ]
            for sid in sids
            if sid in catcher.codes
        ]
    )
    stats_client.close()
    if any(status != "approved" for status in approved):
        raise RuntimeError("a right-code check was not approved")
    return {
        "service": service.sid,
        "protected": protected,
        "start": starts,
        "check_wrong_code": wrong,
        "check_right_code": right,
    }


def _wrong(catcher: CodeCatcher, sid: str) -> str:
    right = catcher.codes.get(sid, "")
    return "000000" if right != "000000" else "111111"


# -- memory per pending verification ----------------------------------------------------------


class SameSizeHasher:
    """Stands in for argon2id when filling Redis for the memory figure: the same salt and
    digest sizes (16 and 32 bytes), so the stored hash is byte-for-byte the same size,
    without spending argon2's CPU on 20 000 starts."""

    def new_salt(self) -> bytes:
        return os.urandom(16)

    def digest(self, verification_sid: str, code: str, salt: bytes) -> bytes:
        return hashlib.blake2b(
            (verification_sid + code).encode(), digest_size=32, salt=salt
        ).digest()

    def matches(
        self, verification_sid: str, code: str, salt: bytes, digests: Sequence[bytes]
    ) -> bool:
        return self.digest(verification_sid, code, salt) in digests


class NullProvider:
    @property
    def name(self) -> str:
        return "null"

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:  # noqa: ARG002
        return DeliveryReceipt(self.name, None)


class WallClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


def used_memory(client: redis.Redis) -> int:
    info: dict[str, Any] = client.info("memory")
    return int(info["used_memory"])


_SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}")
_NUMBERS = re.compile(r"[0-9a-f]{8,}|\+?[0-9]+")


def key_family(key: str) -> str:
    """A key's name with its sids, digests, numbers and hash tag's content blanked: the
    kind of key it is (`vs:v:{}`, `vs:att:{}`, a limit window's scope, ...)."""
    return _NUMBERS.sub("#", _SID.sub("XX", re.sub(r"\{[^}]*\}", "{}", key)))


def memory_by_family(client: redis.Redis) -> dict[str, dict[str, int]]:
    """`MEMORY USAGE` (exact: SAMPLES 0) of every key, summed per `key_family`."""
    families: dict[str, dict[str, int]] = {}
    keys = [key.decode() for key in client.scan_iter(count=2000)]
    for offset in range(0, len(keys), 1000):
        batch = keys[offset : offset + 1000]
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.memory_usage(key, samples=0)
        for key, used in zip(batch, pipe.execute(), strict=True):
            row = families.setdefault(key_family(key), {"keys": 0, "bytes": 0})
            row["keys"] += 1
            row["bytes"] += int(used or 0)
    return families


def family_delta(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], per: int
) -> dict[str, dict[str, float]]:
    """What each kind of key added, in total and per `per` (the pending verifications)."""
    delta: dict[str, dict[str, float]] = {}
    for family, row in after.items():
        old = before.get(family, {"keys": 0, "bytes": 0})
        added = row["bytes"] - old["bytes"]
        if added:
            delta[family] = {
                "keys_added": row["keys"] - old["keys"],
                "bytes_added": added,
                "bytes_per_pending": added / max(per, 1),
            }
    return dict(sorted(delta.items(), key=lambda item: -item[1]["bytes_added"]))


def measure_memory(
    settings: Settings, service: BenchService, block: NumberBlock, count: int
) -> dict[str, Any]:
    """`INFO memory` used_memory before and after `count` pending verifications, created by
    the real `Verifications.start` use case and Redis store (only argon2 is stood in for),
    with its abuse protection: for a protected service, the limit windows that the starts
    create or grow (per destination, per `RateLimits` value, per service, per country, Fraud
    Guard's tally) are in the figure too. A refused start is counted, not retried."""
    client = connect(settings.redis_url or "", 5.0)
    keyring = Keyring.from_secret(settings.secret_key)
    container = build_container(
        settings,
        redis_client=client,
        providers={channel: [NullProvider()] for channel in Channel},
        clock=WallClock(),
    )
    if container.protection is None:
        raise RuntimeError("build_container made no AbuseProtection")
    verifications = Verifications(
        store=container.verification_store,
        hasher=SameSizeHasher(),
        keyring=keyring,
        clock=WallClock(),
        protection=container.protection,
    )

    def request(number: str) -> StartRequest:
        values = {service.rate_limit: rate_limit_value(number)} if service.rate_limit else {}
        return StartRequest(to=number, channel=Channel.SMS, rate_limit_values=values)

    # Scripts loaded, connection open.
    verifications.start(service.sid, request(block.number(block.size - 1)))
    # The load phases ran `serve --no-worker`: their messages wait in the shared outbox.
    # Sent (and their stream entries deleted) before the first reading, not inside the
    # measured window, where they would be subtracted from this fill's memory.
    drain_outbox(container)
    keys_before, memory_before = client.dbsize(), used_memory(client)
    families_before = memory_by_family(client)
    refused: Counter[str] = Counter()
    started = time.monotonic()
    for index in range(count):
        try:
            verifications.start(service.sid, request(block.number(index)))
        except VerifyError as error:
            refused[type(error).__name__] += 1
    # Steady state: the worker has sent each message; what stays is the verification and
    # its send attempt's status record (both counted here).
    drain_outbox(container)
    elapsed = time.monotonic() - started
    keys_after, memory_after = client.dbsize(), used_memory(client)
    pending = count - sum(refused.values())
    families = family_delta(families_before, memory_by_family(client), pending)
    client.close()
    created = int(keys_after) - int(keys_before)
    return {
        "service": service.sid,
        "protected": service.protected,
        "verifications": pending,
        "starts_refused": dict(refused),
        "keys_added": created,
        "used_memory_before": memory_before,
        "used_memory_after": memory_after,
        "bytes_per_pending": (memory_after - memory_before) / max(pending, 1),
        "fill_seconds": elapsed,
        # MEMORY USAGE per kind of key (the key's own allocation; used_memory also counts
        # the keyspace's dictionary): where the bytes per pending verification go.
        "by_key_family": families,
    }

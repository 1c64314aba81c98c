"""The cost per verification (issue 10, item 5), measured in-process: Redis round trips,
commands and CPU per start and check, this process's CPU split into argon2 and the rest,
and Redis memory per pending verification, for an unprotected and a protected service.

Deterministic where it counts (round trips, commands, bytes) and cheap: no load generator,
so it can run beside other work. `make bench` runs the same measurements in its (f) and (g)
phases and adds the load phases' figures (server CPU under wrk, Redis CPU per request);
`python -m bench.run --only cost [--profile]` runs only these, against a redis-server of
its own.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any

from bench import inprocess, services
from bench.numbers import NumberBlock
from bench.processes import RedisServer
from verify_service.adapters.argon2_hasher import DEFAULT_PROFILE
from verify_service.app import create_app
from verify_service.settings import Settings

# Issue 10, item 5.
TARGET_PYTHON_MS_PER_START = 1.5  # server CPU per start that is not argon2
TARGET_PYTHON_MS_PER_CHECK = 1.0  # the same per check
TARGET_COMMANDS_PER_START = 25  # protected (the default protection on)
TARGET_REDIS_MS_PER_START = 0.15  # redis-server CPU per protected start
TARGET_ROUND_TRIPS = 2  # per start (protected too) and per check
TARGET_BYTES_UNPROTECTED = 500  # per pending verification
TARGET_BYTES_PROTECTED = 800

KEY_PREFIX = "vc"
ROUND_TRIP_BASE, ROUND_TRIP_PROTECTED_BASE, MEMORY_BASE, MEMORY_PROTECTED_BASE = (
    500_000,
    550_000,
    600_000,
    800_000,
)
PROFILE_BASE = 700_000

Log = Callable[[str], None]


def _test_client_post(settings: Settings) -> Callable[[str, dict[str, str]], dict[str, Any]]:
    client = create_app(settings).test_client()
    token = base64.b64encode(f"{settings.account_sid}:{settings.auth_token}".encode()).decode()

    def post(path: str, data: dict[str, str]) -> dict[str, Any]:
        response = client.post(path, data=data, headers={"Authorization": f"Basic {token}"})
        if response.status_code != 201:
            raise RuntimeError(f"{path}: HTTP {response.status_code} {response.get_data()!r}")
        body: dict[str, Any] = response.get_json()
        return body

    return post


def print_operations(results: dict[str, Any], log: Log) -> None:
    """Per service and operation: round trips, commands, and CPU (this process, argon2,
    the rest, redis-server)."""
    for key, kind in (("round_trips", "unprotected"), ("round_trips_protected", "protected")):
        if key not in results:
            continue
        log(f"  {kind} service:")
        for name in ("start", "check_wrong_code", "check_right_code"):
            row = results[key][name]
            cpu = row.get("cpu_ms_per_op")
            log(
                f"    {name}: {row['round_trips_per_op']:.2f} round trips, "
                f"{row['commands_total_per_op']:.2f} commands {row['commands_per_op']}"
            )
            if cpu:
                log(
                    f"      CPU per op (in-process): python {cpu['python']:.2f} ms = argon2 "
                    f"{cpu['argon2']:.2f} ms ({row['hashes_per_op']:.0f} hash, timed) + rest "
                    f"{cpu['python_without_argon2']:.2f} ms; redis-server {cpu['redis']:.3f} ms"
                )


def print_families(memory: dict[str, Any], log: Log) -> None:
    """Where the bytes of a pending verification go, by kind of key (MEMORY USAGE)."""
    for family, row in memory.get("by_key_family", {}).items():
        log(
            f"    {family:<64} {row['bytes_per_pending']:>8.1f} B/pending "
            f"({row['keys_added']:+d} keys)"
        )


def targets(results: dict[str, Any]) -> list[tuple[str, float, str, bool]]:
    """The item-5 targets that in-process figures judge (name, value, target, pass). The
    non-argon2 CPU here is this process's (Flask test client, no gunicorn): `make bench`
    adds the servers' own figure from the load phases."""
    rt, rtp = results["round_trips"], results["round_trips_protected"]
    rows: list[tuple[str, float, str, bool]] = []

    def add(name: str, value: float, op: str, target: float) -> None:
        ok = value <= target if op == "<=" else value >= target
        rows.append((name, value, f"{op} {target:g}", ok))

    add(
        "commands per start, protected",
        rtp["start"]["commands_total_per_op"],
        "<=",
        TARGET_COMMANDS_PER_START,
    )
    add("round trips per start, protected", rtp["start"]["round_trips_per_op"], "<=", 2)
    add("round trips per start, unprotected", rt["start"]["round_trips_per_op"], "<=", 2)
    for table, kind in ((rt, "unprotected"), (rtp, "protected")):
        for op, label in (("check_wrong_code", "wrong"), ("check_right_code", "right")):
            add(
                f"round trips per check ({label}), {kind}",
                table[op]["round_trips_per_op"],
                "<=",
                TARGET_ROUND_TRIPS,
            )
    if "cpu_ms_per_op" in rtp["start"]:
        add(
            "redis CPU per start, protected (ms, in-process)",
            rtp["start"]["cpu_ms_per_op"]["redis"],
            "<=",
            TARGET_REDIS_MS_PER_START,
        )
        for table, kind in ((rt, "unprotected"), (rtp, "protected")):
            add(
                f"non-argon2 CPU per start, {kind} (ms, in-process)",
                table["start"]["cpu_ms_per_op"]["python_without_argon2"],
                "<=",
                TARGET_PYTHON_MS_PER_START,
            )
            add(
                f"non-argon2 CPU per check, {kind} (ms, in-process)",
                table["check_wrong_code"]["cpu_ms_per_op"]["python_without_argon2"],
                "<=",
                TARGET_PYTHON_MS_PER_CHECK,
            )
    add(
        "bytes per pending, unprotected",
        results["memory"]["bytes_per_pending"],
        "<=",
        TARGET_BYTES_UNPROTECTED,
    )
    add(
        "bytes per pending, protected",
        results["memory_protected"]["bytes_per_pending"],
        "<=",
        TARGET_BYTES_PROTECTED,
    )
    return rows


def run(
    count: int, memory_count: int, profile: bool, log: Log, argon2_profile: str | None = None
) -> dict[str, Any]:
    """Its own redis-server; round trips, commands and CPU for `count` operations of each
    kind per service; memory over `memory_count` starts per service; with `profile`, a
    cProfile top of each operation (a separate pass, on other numbers)."""
    redis_server = RedisServer()
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        redis_server.start()
        settings = Settings(
            account_sid="AC" + secrets.token_hex(16),
            auth_token=secrets.token_hex(16),
            secret_key=secrets.token_urlsafe(48).encode(),
            redis_url=redis_server.url,
            console_outbox="/dev/null",
            argon2_profile=argon2_profile or DEFAULT_PROFILE,
            key_prefix=KEY_PREFIX,
        )
        client = redis_server.client()
        results["redis"] = str(client.info("server")["redis_version"])
        client.close()
        results["argon2_profile"] = settings.argon2_profile
        log(f"redis-server {results['redis']} on {redis_server.port}")
        log(f"\n(f) Redis round trips, commands and CPU per operation ({count} each, in-process)")
        for protected, key, base in (
            (False, "round_trips", ROUND_TRIP_BASE),
            (True, "round_trips_protected", ROUND_TRIP_PROTECTED_BASE),
        ):
            block = NumberBlock(base, count + 1, 1)
            block.validate()
            results[key] = inprocess.measure_round_trips(settings, protected, block, count)
        print_operations(results, log)
        post = _test_client_post(settings)
        for protected, key, base in (
            (False, "memory", MEMORY_BASE),
            (True, "memory_protected", MEMORY_PROTECTED_BASE),
        ):
            kind = "protected" if protected else "unprotected"
            block = NumberBlock(base, memory_count + 1, 1)
            block.validate()
            service = services.create(post, f"Cost-{kind}", protected=protected)
            memory = inprocess.measure_memory(settings, service, block, memory_count)
            results[key] = memory
            log(
                f"\n(g) memory per pending verification, {kind}: "
                f"{memory['bytes_per_pending']:.0f} bytes ({memory['verifications']} "
                f"verifications, {memory['keys_added']} keys)"
                + (f"; REFUSED {memory['starts_refused']}" if memory["starts_refused"] else "")
            )
            print_families(memory, log)
        if profile:
            block = NumberBlock(PROFILE_BASE, count + 1, 1)
            block.validate()
            profiled = inprocess.measure_round_trips(settings, True, block, count, profile=True)
            results["profile_protected"] = {
                name: profiled[name]["profile"]
                for name in ("start", "check_wrong_code", "check_right_code")
            }
            for name, text in results["profile_protected"].items():
                log(f"\ncProfile, protected {name} ({count} operations, by own time):\n{text}")
    finally:
        redis_server.stop()
    return results


def report(results: dict[str, Any], log: Log) -> bool:
    """The targets table; True when one is missed."""
    log("cost targets (in-process)")
    missed = False
    results["targets"] = []
    for name, value, target, ok in targets(results):
        missed |= not ok
        log(f"  {name:<52} {value:>10.3f}   {target:<8} {'PASS' if ok else 'MISS'}")
        results["targets"].append({"name": name, "value": value, "target": target, "pass": ok})
    return missed

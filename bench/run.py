"""`make bench`: verify-service against the framework ceiling, on this machine, in one run.

Starts its own redis-server, `verify-service serve` and the ceiling app (bench/ceiling_app.py)
with the same gunicorn worker count, drives them with wrk (or a Python fallback), measures
argon2, Redis round trips and memory in-process, prints every figure against its target and
writes bench/results/latest.json. Starts are measured twice in the same interleaved rounds,
on an unprotected service and on a protected one (abuse protection with the defaults and one
programmable rate limit; bench/services.py), for what protection costs. Then the delivery
phase (bench/delivery.py): one `verify-service worker` pushing to a local stand-in
provider, its throughput and its enqueue-to-provider latency at a paced load. Every process
it starts is stopped on the way out, on error and on Ctrl-C too. Method and figures:
docs/performance.md.

    .venv/bin/python -m bench.run [--workers 4] [--duration 15] [--connections 16]
    .venv/bin/python -m bench.run --only delivery    # the delivery phase alone (~1 minute)
    .venv/bin/python -m bench.run --only fallback    # channel fallback behind a backlog
    .venv/bin/python -m bench.run --only mfa         # TOTP challenges and factor memory (~1 min)
    .venv/bin/python -m bench.run --only observability  # cost of metrics and events per start
    .venv/bin/python -m bench.run --only templates  # an operator's template per start (~20 s)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench import cost, delivery, fallback, inprocess, mfa, observability, services, templates
from bench.load import (
    CheckLoad,
    LinesLoad,
    Load,
    LoadGenerator,
    LoadResult,
    LoadSettings,
    StartLoad,
    ensure_wrk,
    pooled_percentile,
)
from bench.numbers import NumberBlock
from bench.processes import (
    REPO,
    CeilingServer,
    HttpServer,
    RedisServer,
    VerifyServer,
    machine_cpu_seconds,
)
from verify_service.adapters.argon2_hasher import DEFAULT_PROFILE, PROFILES
from verify_service.settings import Settings

RESULTS = REPO / "bench" / "results"
KEY_PREFIX = "vs"

TARGET_RATIO = 0.8
TARGET_ROUND_TRIPS = 2
TARGET_BYTES_PER_PENDING = cost.TARGET_BYTES_UNPROTECTED  # issue 10 (600 before)
TARGET_PROTECTED_RATIO = 0.85  # protected start rps / unprotected start rps
TARGET_EXTRA_ROUND_TRIPS = 1  # protected start round trips - unprotected
START_NUMBERS = 100_000  # distinct numbers per start phase, split over threads and rounds
ARGON2_HASHES_PER_ROUND = 100
MAX_ERROR_SHARE = 0.01  # a phase with more non-2xx/socket errors than this is not a measurement
START_PHASES = ("start", "start_protected")
HASHES_PER_REQUEST = {
    "start": 1,
    "start_protected": 1,
    "check": 1,
}  # every answer must be a 201: no refusal counts
LABELS = {
    "start": "start (unprotected)",
    "start_protected": "start (protected)",
    "check": "check",
    "ceiling": "ceiling",
    "totp": "TOTP challenge (right code)",
    "totp_ceiling": "ceiling (beside TOTP)",
}

# Number blocks (+44 7400 NNNNNN): disjoint, so no phase resends to another phase's number.
(
    START_BASE,
    PROTECTED_BASE,
    WARMUP_BASE,
    TOPUP_BASE,
    ROUND_TRIP_BASE,
    ROUND_TRIP_PROTECTED_BASE,
    MEMORY_BASE,
    MEMORY_PROTECTED_BASE,
) = (0, 200_000, 400_000, 450_000, 500_000, 550_000, 600_000, 800_000)


def log(message: str) -> None:
    print(message, flush=True)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C does, so the `finally` blocks stop the servers."""

    def unwind(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, unwind) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- helpers --------------------------------------------------------------------------------


def machine_info(redis_version: str, loader: str) -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    wrk_version = ""
    if loader == "wrk":
        command = ["wrk", "--version"]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        wrk_version = (completed.stdout or completed.stderr).splitlines()[0].strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis": redis_version,
        "load_generator": loader,
        "wrk": wrk_version,
        "cpu_caches": cpu_caches(),
        "git": git_state(),
        "packages": {
            name: importlib.metadata.version(name)
            for name in ("flask", "werkzeug", "gunicorn", "redis", "argon2-cffi", "phonenumbers")
        },
    }


def git_state() -> dict[str, Any]:
    """The commit measured, and whether the work tree had uncommitted changes to tracked
    files (other work in progress changes what is measured)."""

    def git(*args: str) -> str:
        completed = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        )
        return completed.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def cpu_caches() -> list[str]:
    """CPU 0's caches as sysfs describes them, e.g. "L2 Unified 1024K"."""
    found = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        with contextlib.suppress(OSError):
            level, kind, size = ((index / n).read_text().strip() for n in ("level", "type", "size"))
            found.append(f"L{level} {kind} {size}")
    return found


def busy_cores(seconds: float = 1.0) -> float:
    busy0, _ = machine_cpu_seconds()
    time.sleep(seconds)
    busy1, _ = machine_cpu_seconds()
    return (busy1 - busy0) / seconds


def wait_for_quiet(limit_s: float, threshold: float = 0.25) -> float:
    """Waits up to `limit_s` for the machine to be idle (other users' jobs share it);
    returns the busy cores last seen."""
    deadline = time.monotonic() + limit_s
    busy = busy_cores(0.5)
    while busy > threshold and time.monotonic() < deadline:
        busy = busy_cores(0.5)
    return busy


def quiesce(client: redis.Redis, limit_s: float = 10.0) -> None:
    """Waits until Redis sees no more commands: gunicorn still serves the requests that were
    queued in its accept backlog when the load generator stopped."""
    deadline = time.monotonic() + limit_s
    last = -1
    while time.monotonic() < deadline:
        processed = int(client.info("stats")["total_commands_processed"])
        if processed == last + 1:  # only our own INFO since the last look
            return
        last = processed
        time.sleep(0.25)


def http_post(url: str, auth: str, data: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL built here
        url,
        data=urllib.parse.urlencode(data).encode(),
        headers={"Authorization": auth},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
        return body


def pending_sids(client: redis.Redis, service_sid: str) -> list[str]:
    """VE sids of the service's pending verifications, read from their Redis hashes."""
    keys = list(client.scan_iter(match=f"{KEY_PREFIX}:v:{{{service_sid}:*", count=2000))
    sids: list[str] = []
    for offset in range(0, len(keys), 2000):
        pipe = client.pipeline(transaction=False)
        for key in keys[offset : offset + 2000]:
            pipe.hget(key, "sid")
        sids += [sid.decode() for sid in pipe.execute() if sid is not None]
    return sids


def create_via_api(url: str, auth: str, block: NumberBlock, count: int) -> list[str]:
    """Starts `count` verifications through the API (a pre-phase when the start phase did
    not leave enough for the check phase)."""

    def start(index: int) -> str:
        body = http_post(url, auth, {"To": block.number(index), "Channel": "sms"})
        return str(body["sid"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(start, range(count)))


@dataclass
class Round:
    """One timed run of the load generator against one server, with what it cost."""

    result: LoadResult
    server_cpu_s: float
    redis_cpu_s: float
    interrupt_cpu_s: float
    machine_busy_s: float
    commands: dict[str, int]
    busy_cores_before: float


@dataclass
class Bench:
    generator: LoadGenerator
    load_settings: LoadSettings
    redis_server: RedisServer
    redis_client: redis.Redis
    quiet_wait_s: float

    def round(self, server: HttpServer, path: str, load: Load) -> Round:
        """One timed run, with the CPU of the server, Redis, the load generator, the
        kernel's interrupt work and the whole machine, and the Redis commands run."""
        quiet = wait_for_quiet(self.quiet_wait_s)
        stats0 = inprocess.commandstats(self.redis_client)
        server0, redis0 = server.cpu_seconds(), self.redis_server.cpu_seconds()
        busy0, irq0 = machine_cpu_seconds()
        result = self.generator.run(server.url, path, load, self.load_settings)
        busy1, irq1 = machine_cpu_seconds()
        server_cpu = server.cpu_seconds() - server0
        redis_cpu = self.redis_server.cpu_seconds() - redis0
        commands = inprocess.command_delta(stats0, inprocess.commandstats(self.redis_client))
        quiesce(self.redis_client)
        server.check_alive()
        return Round(result, server_cpu, redis_cpu, irq1 - irq0, busy1 - busy0, commands, quiet)


def combine(rounds: list[Round]) -> dict[str, Any]:
    """The figures of one phase over its rounds: totals divided by totals, and latency
    percentiles from the pooled quantiles of every round."""
    results = [r.result for r in rounds]
    n = max(sum(r.requests for r in results), 1)
    seconds = sum(r.duration_s for r in results)
    client_cpu = sum(r.client_cpu_s for r in results)
    server_cpu = sum(r.server_cpu_s for r in rounds)
    redis_cpu = sum(r.redis_cpu_s for r in rounds)
    irq = sum(r.interrupt_cpu_s for r in rounds)
    busy = sum(r.machine_busy_s for r in rounds)
    errors = {k: sum(r.errors[k] for r in results) for k in results[0].errors}
    statuses: dict[str, int] = {}
    for result in results:
        for status, count in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    commands: dict[str, int] = {}
    for r in rounds:
        for name, calls in r.commands.items():
            commands[name] = commands.get(name, 0) + calls
    return {
        "requests": n,
        "duration_s": seconds,
        "rps": n / seconds,
        "latency_ms": {
            "p50": pooled_percentile(results, 50),
            "p90": pooled_percentile(results, 90),
            "p99": pooled_percentile(results, 99),
            "max": max(r.latency_ms["max"] for r in results),
        },
        "errors": errors,
        "error_share": sum(errors.values()) / n,
        "statuses": dict(sorted(statuses.items())),
        "cpu_ms_per_request": {
            "server": server_cpu / n * 1000,
            "redis": redis_cpu / n * 1000,
            "load_generator": client_cpu / n * 1000,
            "kernel_interrupts": irq / n * 1000,
        },
        "machine_busy_cores": busy / seconds,
        "other_load_cores": max(busy - server_cpu - redis_cpu - client_cpu - irq, 0.0) / seconds,
        "redis_commands_per_request": {k: v / n for k, v in sorted(commands.items())},
        "redis_commands_total_per_request": sum(commands.values()) / n,
        "rounds": [
            {
                "requests": r.result.requests,
                "duration_s": r.result.duration_s,
                "rps": r.result.rps,
                "p50_ms": r.result.latency_ms["p50"],
                "p99_ms": r.result.latency_ms["p99"],
                "server_cpu_ms_per_request": r.server_cpu_s / max(r.result.requests, 1) * 1000,
                "machine_busy_cores_before": r.busy_cores_before,
            }
            for r in rounds
        ],
    }


def print_phase(name: str, phase: dict[str, Any]) -> None:
    lat, cpu = phase["latency_ms"], phase["cpu_ms_per_request"]
    statuses = ", ".join(f"{k}: {v}" for k, v in phase["statuses"].items())
    log(
        f"  {LABELS[name]}: {phase['requests']} requests in {phase['duration_s']:.1f} s = "
        f"{phase['rps']:.1f} rps; latency p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms; "
        f"errors {sum(phase['errors'].values())}; statuses {{{statuses}}}"
    )
    if name in START_PHASES and phase["non_201"]:
        log(f"    INVALID: {phase['non_201']} answers were not 201 (refused or failed starts)")
    log(
        f"    CPU per request: server {cpu['server']:.2f} ms, redis {cpu['redis']:.3f} ms, "
        f"load generator {cpu['load_generator']:.2f} ms, kernel irq "
        f"{cpu['kernel_interrupts']:.2f} ms; machine busy "
        f"{phase['machine_busy_cores']:.2f} cores (other load {phase['other_load_cores']:.2f}); "
        f"redis commands/request {phase['redis_commands_total_per_request']:.2f}"
    )


# -- the run ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (both servers)")
    parser.add_argument("--threads", type=int, default=2, help="load generator threads")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per load phase")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds the phases are split into"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up load")
    parser.add_argument("--memory-count", type=int, default=20_000)
    parser.add_argument("--round-trip-count", type=int, default=100)
    parser.add_argument("--loader", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--output", type=Path, default=None, help="default bench/results/latest.json"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="seconds to wait, at most, for other load on the machine to stop (a third of "
        "it before each phase)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--only",
        choices=["delivery", "fallback", "cost", "mfa", "observability", "templates"],
        help="run only this phase (default output bench/results/<phase>.json); the "
        "fallback phase runs only this way",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="with --only cost: a cProfile top of each protected operation too",
    )
    parser.add_argument("--skip-delivery", action="store_true", help="leave out the delivery phase")
    parser.add_argument(
        "--totp-duration", type=float, default=9.0, help="seconds of TOTP challenge load"
    )
    parser.add_argument(
        "--mfa-memory-count", type=int, default=1000, help="verified factors for the memory figure"
    )
    parser.add_argument("--skip-mfa", action="store_true", help="leave out the MFA phase")
    parser.add_argument(
        "--skip-observability",
        action="store_true",
        help="leave out the cost of metrics and events (bench/observability.py)",
    )
    parser.add_argument(
        "--delivery-messages", type=int, default=3000, help="messages queued for the throughput"
    )
    parser.add_argument(
        "--delivery-rate", type=float, default=delivery.TARGET_RATE, help="paced sends per second"
    )
    parser.add_argument(
        "--delivery-duration", type=float, default=12.0, help="seconds of paced sends"
    )
    parser.add_argument(
        "--fallback-stale", type=int, default=5_000, help="stale due fallback steps per round"
    )
    parser.add_argument(
        "--fallback-rounds", type=int, default=5, help="rounds per fallback scenario"
    )
    parser.add_argument(
        "--fallback-timeout", type=float, default=60.0, help="seconds to wait for the probe"
    )
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = RESULTS / (f"{args.only}.json" if args.only else "latest.json")
    return args


def delivery_options(args: argparse.Namespace, wrk: str | None) -> delivery.DeliveryOptions:
    return delivery.DeliveryOptions(
        messages=args.delivery_messages,
        rate=args.delivery_rate,
        duration_s=args.delivery_duration,
        workers=args.workers,
        wrk=wrk,
    )


def run_delivery(args: argparse.Namespace, results: dict[str, Any], wrk: str | None) -> None:
    """The delivery phase, with processes of its own (the servers above are stopped)."""
    busy = wait_for_quiet(args.quiet_wait / 3)
    log(
        f"\n(h)-(j) delivery: one verify-service worker, webhook provider to a local stand-in "
        f"(machine busy before: {busy:.2f} cores)"
    )
    with stop_on_signals():
        results["delivery"] = delivery.run(delivery_options(args, wrk), log)
    results["delivery"]["machine_busy_cores_before"] = busy


def run_observability(args: argparse.Namespace, results: dict[str, Any], wrk: str | None) -> None:
    """Metrics off / on / on with a webhook on every event: three servers of its own."""
    busy = wait_for_quiet(args.quiet_wait / 3)
    log(
        f"\n(o) metrics and events: start throughput in interleaved rounds "
        f"(machine busy before: {busy:.2f} cores)"
    )
    options = observability.ObservabilityOptions(
        workers=args.workers,
        threads=args.threads,
        connections=args.connections,
        duration_s=args.duration,
        rounds=args.rounds,
        warmup_s=args.warmup,
        wrk=wrk,
    )
    with stop_on_signals():
        results["observability"] = observability.run(options, log, quiesce)
    results["observability"]["machine_busy_cores_before"] = busy


def run_own_phases(args: argparse.Namespace, results: dict[str, Any], wrk: str | None) -> None:
    """The phases with processes of their own, after the servers above are stopped."""
    if not args.skip_delivery:
        run_delivery(args, results, wrk)
    if not args.skip_observability:
        run_observability(args, results, wrk)
    run_templates(results)


def main_observability_only(args: argparse.Namespace) -> int:
    """The cost of metrics and events per start (bench/observability.py) alone."""
    started = time.monotonic()
    wrk = None if args.loader == "python" else ensure_wrk(log)
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    run_observability(args, results, wrk)
    results["run_seconds"] = time.monotonic() - started
    missed = observability.report(results["observability"], log)
    return _write_results(args, results, missed)


def main_templates_only(args: argparse.Namespace) -> int:
    """Phase (t): what an operator's template costs a start (bench/templates.py) alone."""
    started = time.monotonic()
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    missed = run_templates(results)
    results["run_seconds"] = time.monotonic() - started
    return _write_results(args, results, missed)


def run_templates(results: dict[str, Any]) -> bool:
    log("\n(t) an operator's template per start, in process, interleaved rounds")
    results["templates"] = templates.run(log)
    return templates.report(results["templates"], log)


def main_delivery_only(args: argparse.Namespace) -> int:
    started = time.monotonic()
    wrk = None if args.loader == "python" else ensure_wrk(log)
    if wrk is None and args.loader == "wrk":
        log("wrk is required (--loader wrk) and is not available")
        return 2
    quiet = wait_for_quiet(args.quiet_wait)
    log(f"machine load before the run: {quiet:.2f} cores busy of {os.cpu_count()}")
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        run_delivery(args, results, wrk)
    except (KeyboardInterrupt, SystemExit):
        log("\ninterrupted: the processes this run started were stopped")
        raise
    results["machine"] = machine_info(results["delivery"]["redis"], "wrk" if wrk else "python")
    results["run_seconds"] = time.monotonic() - started
    log("\n" + "=" * 78)
    missed = delivery.report(results["delivery"], log)
    return _write_results(args, results, missed)


def main_fallback_only(args: argparse.Namespace) -> int:
    """The channel fallback phase (bench/fallback.py): a due step behind a backlog."""
    started = time.monotonic()
    quiet = wait_for_quiet(args.quiet_wait)
    log(f"machine load before the run: {quiet:.2f} cores busy of {os.cpu_count()}")
    options = fallback.FallbackOptions(
        stale=args.fallback_stale, rounds=args.fallback_rounds, timeout_s=args.fallback_timeout
    )
    log(
        "\nchannel fallback: one verify-service worker, console provider; a step due now "
        "behind a backlog of due steps"
    )
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with stop_on_signals():
        results["fallback"] = fallback.run(options, log)
    results["fallback"]["machine_busy_cores_before"] = quiet
    results["machine"] = machine_info(results["fallback"]["redis"], "python")
    results["run_seconds"] = time.monotonic() - started
    log("\n" + "=" * 78)
    missed = fallback.report(results["fallback"], log)
    return _write_results(args, results, missed)


def main_cost_only(args: argparse.Namespace) -> int:
    """The cost per verification in-process (bench/cost.py): no load generator, no server."""
    started = time.monotonic()
    with stop_on_signals():
        results = cost.run(
            args.round_trip_count,
            args.memory_count,
            args.profile,
            log,
            os.environ.get("VERIFY_ARGON2_PROFILE"),
        )
    results["run_seconds"] = time.monotonic() - started
    results["git"] = git_state()
    log("\n" + "=" * 78)
    missed = cost.report(results, log)
    return _write_results(args, results, missed)


def main_mfa_only(args: argparse.Namespace) -> int:
    """The MFA phase (m) alone: its own Redis, verify-service and ceiling app."""
    started = time.monotonic()
    wrk = None if args.loader == "python" else ensure_wrk(log)
    account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    generator = LoadGenerator(wrk, auth)
    quiet = wait_for_quiet(args.quiet_wait)
    log(f"machine load before the run: {quiet:.2f} cores busy of {os.cpu_count()}")
    ceiling_block = NumberBlock(WARMUP_BASE, 5_000, args.threads)
    ceiling_block.validate()
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    redis_server = RedisServer()
    servers: list[HttpServer] = []
    try:
        with stop_on_signals():
            redis_server.start()
            redis_client = redis_server.client()
            env = {
                "VERIFY_REDIS_URL": redis_server.url,
                "VERIFY_SECRET_KEY": secrets.token_urlsafe(48),
                "VERIFY_ACCOUNT_SID": account_sid,
                "VERIFY_AUTH_TOKEN": auth_token,
                "VERIFY_CONSOLE_OUTBOX": "/dev/null",
                "VERIFY_REDIS_KEY_PREFIX": KEY_PREFIX,
            }
            verify_server = VerifyServer(env, args.workers, with_worker=False)
            servers.append(verify_server.start(RESULTS / "verify-service.log"))
            ceiling_server = CeilingServer(redis_server.url, args.workers)
            servers.append(ceiling_server.start(RESULTS / "ceiling.log"))
            bench = Bench(
                generator,
                LoadSettings(args.threads, args.connections, args.duration / args.rounds),
                redis_server,
                redis_client,
                args.quiet_wait / 10,
            )
            warmup = LoadSettings(args.threads, args.connections, args.warmup)
            start_path = "/v2/Services/VA" + "0" * 32 + "/Verifications"
            generator.run(ceiling_server.url, start_path, StartLoad(ceiling_block), warmup)
            results["mfa"] = run_mfa(
                args,
                bench,
                auth,
                redis_client,
                verify_server,
                ceiling_server,
                start_path,
                ceiling_block,
            )
            results["machine"] = machine_info(redis_server.version(), "wrk" if wrk else "python")
            redis_client.close()
    finally:
        for server in reversed(servers):
            server.stop()
        redis_server.stop()
    results["run_seconds"] = time.monotonic() - started
    log("\n" + "=" * 78)
    targets, rows = _mfa_figures(
        results["mfa"], lambda phase: phase["error_share"] <= MAX_ERROR_SHARE
    )
    for name, value in rows:
        log(f"  {name:<62} {value:>26}")
    missed = False
    for name, value, target, ok in targets:
        missed |= not ok
        log(f"  {name:<52} {value:>10.3f}   {target:<8} {'PASS' if ok else 'MISS'}")
    return _write_results(args, results, missed)


def _write_results(args: argparse.Namespace, results: dict[str, Any], missed: bool) -> int:
    """Write one phase's results to `--output`; exit status 1 when `--strict` and a target
    was missed."""
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    shown = args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output
    log(f"\nwrote {shown} ({results['run_seconds']:.0f} s)")
    return 1 if (missed and args.strict) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.only is not None:  # a phase of its own
        return {
            "delivery": main_delivery_only,
            "fallback": main_fallback_only,
            "cost": main_cost_only,
            "mfa": main_mfa_only,
            "observability": main_observability_only,
            "templates": main_templates_only,
        }[args.only](args)
    started = time.monotonic()
    wrk = None if args.loader == "python" else ensure_wrk(log)
    if wrk is None and args.loader == "wrk":
        log("wrk is required (--loader wrk) and is not available")
        return 2

    profile_name = os.environ.get("VERIFY_ARGON2_PROFILE") or DEFAULT_PROFILE
    account_sid = "AC" + secrets.token_hex(16)
    auth_token = secrets.token_hex(16)
    secret_key = secrets.token_urlsafe(48)
    auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    generator = LoadGenerator(wrk, auth)
    load_settings = LoadSettings(args.threads, args.connections, args.duration / args.rounds)
    warmup_settings = LoadSettings(args.threads, args.connections, args.warmup)
    cores = min(args.workers, os.cpu_count() or 1)

    log(
        f"verify-service bench: {args.workers} gunicorn sync workers per server, load by "
        f"{generator.name}: {args.threads} threads, {args.connections} connections, "
        f"{args.duration:g} s per phase; argon2 profile {profile_name}"
    )
    quiet = wait_for_quiet(args.quiet_wait)
    log(f"machine load before the run: {quiet:.2f} cores busy of {os.cpu_count()}")
    if quiet > 0.25:
        log("  WARNING: something else is using the CPU; throughput figures will be low")

    # Each round sends its own numbers: wrk's counters start again at 0 in every run.
    span = START_NUMBERS // (args.threads * args.rounds)
    start_blocks = {
        phase: [
            NumberBlock(base + index * span * args.threads, span, args.threads)
            for index in range(args.rounds)
        ]
        for phase, base in (("start", START_BASE), ("start_protected", PROTECTED_BASE))
    }
    warmup_block = NumberBlock(WARMUP_BASE, 5_000, args.threads)
    round_trip_blocks = {
        protected: NumberBlock(base, args.round_trip_count + 1, 1)
        for protected, base in ((False, ROUND_TRIP_BASE), (True, ROUND_TRIP_PROTECTED_BASE))
    }
    memory_blocks = {
        protected: NumberBlock(base, args.memory_count + 1, 1)
        for protected, base in ((False, MEMORY_BASE), (True, MEMORY_PROTECTED_BASE))
    }
    t0 = time.monotonic()
    blocks = (
        *start_blocks["start"],
        *start_blocks["start_protected"],
        warmup_block,
        *round_trip_blocks.values(),
        *memory_blocks.values(),
    )
    for block in blocks:
        block.validate()  # a number that is not valid would make every request a 400
    log(
        f"validated {sum(b.size for b in blocks)} numbers with phonenumbers.is_valid_number "
        f"in {time.monotonic() - t0:.1f} s"
    )

    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {
            "workers": args.workers,
            "worker_class": "sync",
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "argon2_profile": profile_name,
            "machine_busy_cores_before": quiet,
            "services": services.parameters(),
        },
    }
    redis_server = RedisServer()
    verify_server: VerifyServer | None = None
    ceiling_server: CeilingServer | None = None
    redis_client: redis.Redis | None = None
    try:
        with stop_on_signals():
            redis_server.start()
            redis_client = redis_server.client()
            results["machine"] = machine_info(redis_server.version(), "wrk" if wrk else "python")
            env = {
                "VERIFY_REDIS_URL": redis_server.url,
                "VERIFY_SECRET_KEY": secret_key,
                "VERIFY_ACCOUNT_SID": account_sid,
                "VERIFY_AUTH_TOKEN": auth_token,
                "VERIFY_CONSOLE_OUTBOX": "/dev/null",
                "VERIFY_ARGON2_PROFILE": profile_name,
                "VERIFY_REDIS_KEY_PREFIX": KEY_PREFIX,
            }
            if os.environ.get("VERIFY_LOG_LEVEL"):
                env["VERIFY_LOG_LEVEL"] = os.environ["VERIFY_LOG_LEVEL"]
            # The API alone: its delivery worker would take CPU from the requests measured
            # here (delivery has its own phase below); queued messages just accumulate.
            verify_server = VerifyServer(env, args.workers, with_worker=False).start(
                RESULTS / "verify-service.log"
            )
            ceiling_server = CeilingServer(redis_server.url, args.workers).start(
                RESULTS / "ceiling.log"
            )
            log(
                f"redis-server {results['machine']['redis']} on {redis_server.port}, "
                f"verify-service on {verify_server.port}, ceiling app on {ceiling_server.port}"
            )
            settings = Settings(
                account_sid=account_sid,
                auth_token=auth_token,
                secret_key=secret_key.encode(),
                redis_url=redis_server.url,
                console_outbox="/dev/null",
                argon2_profile=profile_name,
                key_prefix=KEY_PREFIX,
            )
            run_all(
                args,
                results,
                settings,
                auth,
                generator,
                load_settings,
                warmup_settings,
                redis_server,
                redis_client,
                verify_server,
                ceiling_server,
                cores,
                start_blocks,
                warmup_block,
                round_trip_blocks,
                memory_blocks,
            )
    except (KeyboardInterrupt, SystemExit):
        log("\ninterrupted: stopping the servers this run started")
        raise
    finally:
        for closing in (ceiling_server, verify_server):
            if closing is not None:
                closing.stop()
        if redis_client is not None:
            redis_client.close()
        redis_server.stop()

    run_own_phases(args, results, wrk)
    results["run_seconds"] = time.monotonic() - started
    missed = report(results)
    if "delivery" in results:
        missed |= delivery.report(results["delivery"], log)
    if "observability" in results:
        missed |= observability.report(results["observability"], log)
    missed |= _report_templates(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    shown = args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output
    log(f"\nwrote {shown} ({results['run_seconds']:.0f} s)")
    return 1 if (missed and args.strict) else 0


def _report_templates(results: dict[str, Any]) -> bool:
    if "templates" not in results:
        return False
    log("templates: an operator's template per start")
    return templates.report(results["templates"], log)


def run_all(
    args: argparse.Namespace,
    results: dict[str, Any],
    settings: Settings,
    auth: str,
    generator: LoadGenerator,
    load_settings: LoadSettings,
    warmup_settings: LoadSettings,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    verify_server: VerifyServer,
    ceiling_server: CeilingServer,
    cores: int,
    start_blocks: dict[str, list[NumberBlock]],
    warmup_block: NumberBlock,
    round_trip_blocks: dict[bool, NumberBlock],
    memory_blocks: dict[bool, NumberBlock],
) -> None:
    bench = Bench(generator, load_settings, redis_server, redis_client, args.quiet_wait / 10)

    def api_post(path: str, data: dict[str, str]) -> dict[str, Any]:
        return http_post(verify_server.url + path, auth, data)

    # The start (unprotected) and check phases use this service; the protected start phase
    # a fresh protected service per round (below).
    service_sid = services.create(api_post, "Bench", protected=False).sid
    start_path = f"/v2/Services/{service_sid}/Verifications"
    check_path = f"/v2/Services/{service_sid}/VerificationCheck"

    # (d) argon2, in this process, before any load: every profile.
    log("\n(d) argon2 per hash, in-process (Argon2CodeHasher.digest):")
    table = inprocess.time_all_profiles(settings.secret_key)
    for name, row in table.items():
        mark = "  <- configured" if name == settings.argon2_profile else ""
        log(
            f"  {name:8} t={row['time_cost']} m={row['memory_cost_kib']:>5} KiB "
            f"p={row['parallelism']}: mean {row['mean_ms']:.2f} ms, median "
            f"{row['median_ms']:.2f} ms ({row['hashes']} hashes){mark}"
        )
    profile = PROFILES[settings.argon2_profile]

    # Warm-up: workers import lazily and open their Redis connections on first use; the
    # protected warm-up loads the limiter's scripts and hashes in every worker.
    log("\nwarm-up")
    warm_protected = services.create(api_post, "BenchWarmUp", protected=True)
    generator.run(verify_server.url, start_path, StartLoad(warmup_block), warmup_settings)
    generator.run(
        verify_server.url,
        f"/v2/Services/{warm_protected.sid}/Verifications",
        StartLoad(warmup_block, warm_protected.rate_limit),
        warmup_settings,
    )
    generator.run(ceiling_server.url, start_path, StartLoad(warmup_block), warmup_settings)
    quiesce(redis_client)

    # (a), (a'), (b), (c) in interleaved rounds, so that a slow spell of this shared machine
    # falls on every phase alike; argon2 is timed again just before each round. The two start
    # phases swap places every round.
    log(
        f"\n(a) starts, unprotected and protected, (b) checks, (c) ceiling: {args.rounds} "
        f"interleaved rounds of {load_settings.duration_s:g} s each"
    )
    log(
        "  protected service: the defaults, except StartsPerServicePerMinute, DailySendCap and "
        f"DailyCountrySendCap raised to {services.PROTECTED['DailySendCap']} (above the bench's "
        f"volume), plus rate limit {services.RATE_LIMIT_NAME} with one bucket "
        f"(Max={services.BUCKET['Max']}, Interval={services.BUCKET['Interval']}); every start "
        "names a value of its own. A fresh one each round: Fraud Guard rightly trips a prefix "
        "that gets 20 sends nobody approves within 2 minutes, and the bench approves none."
    )
    rounds: dict[str, list[Round]] = {
        "ceiling": [],
        "start": [],
        "start_protected": [],
        "check": [],
    }
    argon2_samples: list[float] = []
    cross_check = {
        phase: {"verifications": 0, "keys_added": 0, "used_memory_delta": 0}
        for phase in START_PHASES
    }
    protected_sids: list[str] = []
    rng = random.Random(7)
    for index in range(args.rounds):
        argon2_samples.append(
            inprocess.time_argon2(settings.secret_key, profile, ARGON2_HASHES_PER_ROUND)["mean_ms"]
        )
        ceiling_round = bench.round(
            ceiling_server, start_path, StartLoad(start_blocks["start"][index])
        )
        rounds["ceiling"].append(ceiling_round)

        protected = services.create(api_post, f"BenchProtected{index + 1}", protected=True)
        protected_sids.append(protected.sid)
        targets = {
            "start": (service_sid, start_path, None),
            "start_protected": (
                protected.sid,
                f"/v2/Services/{protected.sid}/Verifications",
                protected.rate_limit,
            ),
        }
        order = START_PHASES if index % 2 == 0 else START_PHASES[::-1]
        for phase in order:
            sid, path, rate_limit = targets[phase]
            keys0, memory0 = redis_client.dbsize(), inprocess.used_memory(redis_client)
            verifications0 = count_verifications(redis_client, sid)
            phase_round = bench.round(
                verify_server, path, StartLoad(start_blocks[phase][index], rate_limit)
            )
            rounds[phase].append(phase_round)
            added = cross_check[phase]
            added["keys_added"] += int(redis_client.dbsize()) - int(keys0)
            added["used_memory_delta"] += inprocess.used_memory(redis_client) - memory0
            added["verifications"] += count_verifications(redis_client, sid) - verifications0
        start_round = rounds["start"][-1]

        # Checks by VerificationSid with a wrong code, on the verifications the starts left,
        # shuffled each round. A round may take a sid twice when checks outrun the starts
        # before it (round 1 only: the pool grows each round), so no sid reaches the 5
        # checks a verification allows.
        sids = pending_sids(redis_client, service_sid)
        needed = math.ceil(start_round.result.rps * 1.5 * load_settings.duration_s / 2)
        if len(sids) < needed:
            log(f"  pre-phase: {needed - len(sids)} more verifications through the API")
            topup = NumberBlock(TOPUP_BASE + index * 10_000, min(needed - len(sids), 10_000), 1)
            topup.validate()
            sids += create_via_api(verify_server.url + start_path, auth, topup, topup.size)
        rng.shuffle(sids)
        with tempfile.TemporaryDirectory(prefix="verify-bench-") as folder:
            sids_file = Path(folder) / "sids.txt"
            sids_file.write_text("\n".join(sids) + "\n")
            check_round = bench.round(verify_server, check_path, CheckLoad(sids_file))
        rounds["check"].append(check_round)
        protected_round = rounds["start_protected"][-1]
        refused = sum(
            r.result.requests - r.result.statuses.get("201", 0)
            for r in (start_round, protected_round)
        )
        log(
            f"  round {index + 1}: argon2 {argon2_samples[-1]:.2f} ms; ceiling "
            f"{ceiling_round.result.rps:.0f} rps, start {start_round.result.rps:.0f} rps, "
            f"protected start {protected_round.result.rps:.0f} rps, check "
            f"{check_round.result.rps:.0f} rps ({len(sids)} pending sids); "
            f"non-201 starts {refused}"
        )
    phases = {name: combine(phase_rounds) for name, phase_rounds in rounds.items()}
    for name in START_PHASES:
        # Starts whose answer was not a 201 (refused or failed), socket errors included.
        figures = phases[name]
        socket_errors = sum(v for k, v in figures["errors"].items() if k != "status")
        figures["non_201"] = figures["requests"] - figures["statuses"].get("201", 0) + socket_errors
    for name in ("ceiling", *START_PHASES, "check"):
        print_phase(name, phases[name])
    results["phases"] = phases
    argon2_ms = statistics.fmean(argon2_samples)
    results["argon2"] = {
        "configured": settings.argon2_profile,
        "profiles": table,
        "per_round_ms": argon2_samples,
        "mean_of_rounds_ms": argon2_ms,
    }

    # (e) the bound.
    ceiling_cpu_s = cores / phases["ceiling"]["rps"]
    bound = cores / (ceiling_cpu_s + argon2_ms / 1000)
    results["bound"] = {
        "cores_used": cores,
        "ceiling_cpu_ms_per_request": ceiling_cpu_s * 1000,
        "argon2_ms": argon2_ms,
        "bound_rps": bound,
        "start_ratio": phases["start"]["rps"] / bound,
        "protected_start_ratio": phases["start_protected"]["rps"] / bound,
        "check_ratio": phases["check"]["rps"] / bound,
        "formula": "bound = cores_used / (cores_used / ceiling_rps + argon2_s); "
        "cores_used = min(workers, nproc); argon2_s = mean of the per-round timings",
    }
    # Server CPU per request split into argon2 and the rest. Under load the argon2 share is
    # computed: hashes per request (one per start, one per check: the in-process count of
    # (f) confirms it) x the hash time measured in-process before each round.
    results["cpu_split"] = {
        phase: {
            "server_ms": phases[phase]["cpu_ms_per_request"]["server"],
            "argon2_ms": HASHES_PER_REQUEST[phase] * argon2_ms,
            "rest_ms": phases[phase]["cpu_ms_per_request"]["server"]
            - HASHES_PER_REQUEST[phase] * argon2_ms,
            "redis_ms": phases[phase]["cpu_ms_per_request"]["redis"],
            "redis_commands": phases[phase]["redis_commands_total_per_request"],
            "argon2_method": "computed: hashes per request x in-process hash time",
        }
        for phase in (*START_PHASES, "check")
    }
    unprotected, protected_phase = phases["start"], phases["start_protected"]
    results["protection"] = {
        "protected_services": protected_sids,
        "protected_start_rps": protected_phase["rps"],
        "unprotected_start_rps": unprotected["rps"],
        "ratio": protected_phase["rps"] / unprotected["rps"],
        "per_round_ratios": [
            p.result.rps / u.result.rps if u.result.rps else 0.0
            for p, u in zip(rounds["start_protected"], rounds["start"], strict=True)
        ],
        "non_201": {phase: phases[phase]["non_201"] for phase in START_PHASES},
        "server_cpu_ms_per_start": {
            phase: phases[phase]["cpu_ms_per_request"]["server"] for phase in START_PHASES
        },
        "redis_cpu_ms_per_start": {
            phase: phases[phase]["cpu_ms_per_request"]["redis"] for phase in START_PHASES
        },
        "redis_commands_per_start": {
            phase: phases[phase]["redis_commands_total_per_request"] for phase in START_PHASES
        },
    }
    log(
        f"\n  protected / unprotected start rps = {protected_phase['rps']:.1f} / "
        f"{unprotected['rps']:.1f} = {results['protection']['ratio']:.3f} "
        f"(target >= {TARGET_PROTECTED_RATIO}); non-201 answers: "
        f"{unprotected['non_201']} unprotected, {protected_phase['non_201']} protected"
    )

    # (f) round trips and commands, in-process through the Flask test client.
    log("\n(f) Redis round trips and commands per operation (in-process test client)")
    # Under a key prefix of its own: `serve`'s delivery worker would otherwise take the
    # messages (and codes) of these starts from the shared outbox before this process does.
    rt_settings = dataclasses.replace(settings, key_prefix=KEY_PREFIX + "-rt")
    for protected_rt, key in ((False, "round_trips"), (True, "round_trips_protected")):
        round_trips = inprocess.measure_round_trips(
            rt_settings, protected_rt, round_trip_blocks[protected_rt], args.round_trip_count
        )
        results[key] = round_trips
    cost.print_operations(results, log)

    # (g) memory per pending verification.
    for protected_mem, key in ((False, "memory"), (True, "memory_protected")):
        kind = "protected" if protected_mem else "unprotected"
        log(
            f"\n(g) Redis memory per pending verification, {kind} service "
            f"({args.memory_count} created)"
        )
        memory_service = services.create(api_post, f"Mem-{kind}", protected=protected_mem)
        memory = inprocess.measure_memory(
            settings, memory_service, memory_blocks[protected_mem], args.memory_count
        )
        phase = "start_protected" if protected_mem else "start"
        added = cross_check[phase]
        memory["cross_check_start_phase"] = {
            **added,
            "bytes_per_pending": added["used_memory_delta"] / max(added["verifications"], 1),
        }
        refused_note = f"; REFUSED {memory['starts_refused']}" if memory["starts_refused"] else ""
        log(
            f"  {memory['bytes_per_pending']:.0f} bytes per pending verification "
            f"({memory['verifications']} verifications, {memory['keys_added']} keys, "
            f"{memory['used_memory_after'] - memory['used_memory_before']} bytes){refused_note}; "
            f"cross-check from the start phase: "
            f"{memory['cross_check_start_phase']['bytes_per_pending']:.0f} bytes over "
            f"{added['verifications']} verifications ({added['keys_added']} keys)"
        )
        results[key] = memory
        cost.print_families(memory, log)

    if not args.skip_mfa:
        results["mfa"] = run_mfa(
            args, bench, auth, redis_client, verify_server, ceiling_server, start_path, warmup_block
        )


def run_mfa(
    args: argparse.Namespace,
    bench: Bench,
    auth: str,
    redis_client: redis.Redis,
    verify_server: VerifyServer,
    ceiling_server: CeilingServer,
    start_path: str,
    ceiling_block: NumberBlock,
) -> dict[str, Any]:
    """(m) issue 11: TOTP challenges with the right code, in rounds interleaved with rounds
    of the ceiling app (the same length), and Redis memory per verified factor (bench/mfa.py)."""
    round_s = args.totp_duration / args.rounds
    log(
        f"\n(m) MFA (issue 11): TOTP challenges (FactorSid + right AuthPayload, every one "
        f"approved) against the ceiling, {args.rounds} interleaved rounds of {round_s:g} s"
    )
    bench = dataclasses.replace(
        bench, load_settings=LoadSettings(args.threads, args.connections, round_s)
    )
    service_sid = str(
        http_post(f"{verify_server.url}/v2/Services", auth, {"FriendlyName": "Mfa"})["sid"]
    )
    enroller = mfa.Enroller(verify_server.url, auth, service_sid, "bench-pool")
    rounds: dict[str, list[Round]] = {"totp": [], "totp_ceiling": []}
    pools: list[int] = []
    with tempfile.TemporaryDirectory(prefix="verify-bench-mfa-") as folder:
        lines_file = Path(folder) / "challenges.txt"
        # Warm-up: every worker imports the challenge route and loads its scripts.
        warm = enroller.enrol(args.threads * 8)
        mfa.write_lines(lines_file, service_sid, warm)
        bench.generator.run(
            verify_server.url, "/", LinesLoad(lines_file), LoadSettings(args.threads, 4, 1.0)
        )
        quiesce(redis_client)
        fastest = 0.0
        for index in range(args.rounds):
            ceiling_round = bench.round(ceiling_server, start_path, StartLoad(ceiling_block))
            rounds["totp_ceiling"].append(ceiling_round)
            # The pool: for the target rate at the machine's speed just measured, or the
            # fastest TOTP round so far if faster (pool_size adds half again): this shared
            # machine's speed varies by 3x from one round to the next.
            expected = max(fastest, ceiling_round.result.rps * mfa.TARGET_CEILING_RATIO)
            size = mfa.pool_size(expected, round_s, args.threads)
            pool = enroller.enrol(size)
            pools.append(size)
            mfa.write_lines(lines_file, service_sid, pool)
            totp_round = bench.round(verify_server, "/", LinesLoad(lines_file))
            rounds["totp"].append(totp_round)
            fastest = max(fastest, totp_round.result.rps)
            counts = mfa.outcome_counts(totp_round.result.statuses)
            log(
                f"  round {index + 1}: ceiling {ceiling_round.result.rps:.0f} rps, TOTP "
                f"challenges {totp_round.result.rps:.0f} rps ({counts['approved']} approved, "
                f"{counts['not_approved']} not; pool of {size} factors enrolled first)"
            )
    phases = {name: combine(phase_rounds) for name, phase_rounds in rounds.items()}
    for name in ("totp", "totp_ceiling"):
        print_phase(name, phases[name])
    counts = mfa.outcome_counts(phases["totp"]["statuses"])
    ratio = phases["totp"]["rps"] / phases["totp_ceiling"]["rps"]
    log(
        f"  TOTP challenge rps / ceiling rps = {phases['totp']['rps']:.1f} / "
        f"{phases['totp_ceiling']['rps']:.1f} = {ratio:.3f} (target >= "
        f"{mfa.TARGET_CEILING_RATIO}); enrolment {enroller.factors_per_second:.0f} factors/s"
    )
    log(f"\n(m) Redis memory per verified TOTP factor ({args.mfa_memory_count} entities, one each)")
    memory = mfa.measure_memory(
        redis_client,
        mfa.Enroller(verify_server.url, auth, service_sid, "bench-mem"),
        args.mfa_memory_count,
        inprocess.used_memory,
        KEY_PREFIX,
        inprocess.memory_by_family,
        inprocess.family_delta,
    )
    log(
        f"  {memory['bytes_per_verified_factor']:.0f} bytes per verified factor (entity "
        f"included, used_memory delta); one entity's keys by MEMORY USAGE: "
        f"{memory['sample_entity_bytes']} bytes {memory['sample_entity_keys']}"
    )
    for family, row in memory["by_family"].items():
        log(
            f"    {family:<48} {row['bytes_per_pending']:>8.0f} bytes per factor "
            f"({int(row['keys_added']):+d} keys)"
        )
    return {
        "phases": phases,
        "ceiling_ratio": ratio,
        "approved": counts["approved"],
        "not_approved": counts["not_approved"],
        "pools": pools,
        "enrol_factors_per_second": enroller.factors_per_second,
        "memory": memory,
    }


def count_verifications(client: redis.Redis, service_sid: str) -> int:
    """Verification hashes of a service in Redis (the verifications its starts created)."""
    return sum(1 for _ in client.scan_iter(match=f"{KEY_PREFIX}:v:{{{service_sid}:*", count=2000))


def _cost_figures(
    results: dict[str, Any],
) -> tuple[list[tuple[str, float, str, bool]], list[tuple[str, str]]]:
    """Issue 10, item 5 (the cost per verification): its targets and its figures' rows."""
    rt, memory = results["round_trips"], results["memory"]
    rt_protected, memory_protected = results["round_trips_protected"], results["memory_protected"]
    targets: list[tuple[str, float, str, bool]] = []
    rows: list[tuple[str, str]] = []
    split = results["cpu_split"]
    for phase, target in (
        ("start", cost.TARGET_PYTHON_MS_PER_START),
        ("start_protected", cost.TARGET_PYTHON_MS_PER_START),
        ("check", cost.TARGET_PYTHON_MS_PER_CHECK),
    ):
        rest = split[phase]["rest_ms"]
        targets.append(
            (f"{LABELS[phase]} server CPU - argon2 (ms)", rest, f"<= {target:g}", rest <= target)
        )
    redis_ms = split["start_protected"]["redis_ms"]
    targets.append(
        (
            "redis CPU per protected start (ms, load)",
            redis_ms,
            f"<= {cost.TARGET_REDIS_MS_PER_START:g}",
            redis_ms <= cost.TARGET_REDIS_MS_PER_START,
        )
    )
    in_process = {"round_trips": rt, "round_trips_protected": rt_protected, "memory": memory}
    in_process["memory_protected"] = memory_protected
    targets += [
        row
        for row in cost.targets(in_process)
        if not (row[0].startswith("round trips per") and row[0].endswith("unprotected"))
    ]
    for phase in (*START_PHASES, "check"):
        row = split[phase]
        rows.append(
            (
                f"{LABELS[phase]} CPU: server = argon2 + rest; redis (ms)",
                f"{row['server_ms']:.2f} = {row['argon2_ms']:.2f} + {row['rest_ms']:.2f}; "
                f"{row['redis_ms']:.3f}",
            )
        )
    for kind, table in (("unprotected", rt), ("protected", rt_protected)):
        for name in ("start", "check_wrong_code"):
            cpu = table[name].get("cpu_ms_per_op")
            if cpu:
                rows.append(
                    (
                        f"in-process {name}, {kind}: argon2 + rest; redis (ms)",
                        f"{cpu['argon2']:.2f} + {cpu['python_without_argon2']:.2f}; "
                        f"{cpu['redis']:.3f}",
                    )
                )
    return targets, rows


def _mfa_figures(
    mfa_results: dict[str, Any] | None, valid: Callable[[dict[str, Any]], bool]
) -> tuple[list[tuple[str, float, str, bool]], list[tuple[str, str]]]:
    """Issue 11, item 9: the TOTP challenge target and the MFA figures' rows."""
    if mfa_results is None:
        return [], []
    ratio = mfa_results["ceiling_ratio"]
    totp, memory = mfa_results["phases"]["totp"], mfa_results["memory"]
    if mfa_results["not_approved"]:
        log(
            f"  INVALID: {mfa_results['not_approved']} TOTP challenges were not approved "
            "(a pool ran out, so codes were replayed; or errors): the TOTP target is missed"
        )
    targets = [
        (
            "TOTP challenge rps / ceiling rps",
            ratio,
            f">= {mfa.TARGET_CEILING_RATIO}",
            ratio >= mfa.TARGET_CEILING_RATIO and mfa_results["not_approved"] == 0 and valid(totp),
        )
    ]
    rows = [
        ("TOTP challenge throughput (rps)", f"{totp['rps']:.1f}"),
        (
            "ceiling beside TOTP throughput (rps)",
            f"{mfa_results['phases']['totp_ceiling']['rps']:.1f}",
        ),
        (
            "TOTP challenge latency p50 / p99 (ms)",
            f"{totp['latency_ms']['p50']:.1f} / {totp['latency_ms']['p99']:.1f}",
        ),
        (
            "TOTP challenge server CPU per request (ms)",
            f"{totp['cpu_ms_per_request']['server']:.2f}",
        ),
        (
            "TOTP challenge redis commands per request",
            f"{totp['redis_commands_total_per_request']:.2f}",
        ),
        (
            "TOTP challenges approved / not approved",
            f"{mfa_results['approved']} / {mfa_results['not_approved']}",
        ),
        (
            "TOTP factors enrolled per second (create + verify)",
            f"{mfa_results['enrol_factors_per_second']:.0f}",
        ),
        (
            "Redis bytes per verified factor (entity included)",
            f"{memory['bytes_per_verified_factor']:.0f}",
        ),
        ("Redis bytes of one entity's keys (MEMORY USAGE)", f"{memory['sample_entity_bytes']}"),
    ]
    return targets, rows


def report(results: dict[str, Any]) -> bool:
    """Prints the figures table with PASS/MISS; returns True when a target is missed."""
    phases, bound = results["phases"], results["bound"]
    rt, memory = results["round_trips"], results["memory"]
    rt_protected, memory_protected = results["round_trips_protected"], results["memory_protected"]
    protection = results["protection"]
    argon2 = results["argon2"]["profiles"][results["argon2"]["configured"]]

    def valid(phase: dict[str, Any]) -> bool:
        return bool(phase["error_share"] <= MAX_ERROR_SHARE)

    # A start phase with a single refused (or failed) start does not measure protection.
    starts_valid = all(phases[name]["non_201"] == 0 for name in START_PHASES)
    rt_start = rt["start"]["round_trips_per_op"]
    rt_start_protected = rt_protected["start"]["round_trips_per_op"]
    targets = [
        (
            "protected / unprotected start rps",
            protection["ratio"],
            f">= {TARGET_PROTECTED_RATIO}",
            protection["ratio"] >= TARGET_PROTECTED_RATIO and starts_valid,
        ),
        (
            "round trips per start, protected",
            rt_start_protected,
            f"<= {rt_start + TARGET_EXTRA_ROUND_TRIPS:g}",
            rt_start_protected <= rt_start + TARGET_EXTRA_ROUND_TRIPS,
        ),
        (
            "start_rps / bound",
            bound["start_ratio"],
            f">= {TARGET_RATIO}",
            bound["start_ratio"] >= TARGET_RATIO and valid(phases["start"]),
        ),
        (
            "check_rps / bound",
            bound["check_ratio"],
            f">= {TARGET_RATIO}",
            bound["check_ratio"] >= TARGET_RATIO and valid(phases["check"]),
        ),
        (
            "round trips per start, unprotected",
            rt["start"]["round_trips_per_op"],
            f"<= {TARGET_ROUND_TRIPS}",
            rt["start"]["round_trips_per_op"] <= TARGET_ROUND_TRIPS,
        ),
        (
            "round trips per check (wrong code)",
            rt["check_wrong_code"]["round_trips_per_op"],
            f"<= {TARGET_ROUND_TRIPS}",
            rt["check_wrong_code"]["round_trips_per_op"] <= TARGET_ROUND_TRIPS,
        ),
        (
            "round trips per check (right code)",
            rt["check_right_code"]["round_trips_per_op"],
            f"<= {TARGET_ROUND_TRIPS}",
            rt["check_right_code"]["round_trips_per_op"] <= TARGET_ROUND_TRIPS,
        ),
        (
            "bytes per pending verification",
            memory["bytes_per_pending"],
            f"<= {TARGET_BYTES_PER_PENDING}",
            memory["bytes_per_pending"] <= TARGET_BYTES_PER_PENDING,
        ),
    ]
    cost_targets, cost_rows = _cost_figures(results)
    targets += cost_targets
    mfa_targets, mfa_rows = _mfa_figures(results.get("mfa"), valid)
    targets += mfa_targets
    rows = [
        ("workers per server (gunicorn sync)", f"{results['settings']['workers']}"),
        ("load generator", results["machine"]["load_generator"]),
    ]
    for name in (*START_PHASES, "check", "ceiling"):
        phase = phases[name]
        lat = phase["latency_ms"]
        label = LABELS[name]
        rows.append((f"{label} throughput (rps)", f"{phase['rps']:.1f}"))
        rows.append((f"{label} latency p50 / p99 (ms)", f"{lat['p50']:.1f} / {lat['p99']:.1f}"))
        if name in START_PHASES:
            rows.append((f"{label} non-201 answers + socket errors", f"{phase['non_201']}"))
        else:
            rows.append((f"{label} non-2xx + socket errors", f"{sum(phase['errors'].values())}"))
        rows.append(
            (
                f"{label} server CPU per request (ms)",
                f"{phase['cpu_ms_per_request']['server']:.2f}",
            )
        )
    rows += [
        ("cores used = min(workers, nproc)", f"{bound['cores_used']}"),
        (
            "ceiling CPU per request (ms) = cores/ceiling_rps",
            f"{bound['ceiling_cpu_ms_per_request']:.3f}",
        ),
        (
            f"argon2 per hash, {results['argon2']['configured']} (ms, mean of rounds)",
            f"{bound['argon2_ms']:.2f}",
        ),
        (
            f"argon2 per hash, {results['argon2']['configured']} (ms, before the run)",
            f"{argon2['mean_ms']:.2f}",
        ),
        ("bound (rps) = cores/(ceiling CPU + argon2)", f"{bound['bound_rps']:.1f}"),
        ("protected start_rps / bound (no target)", f"{bound['protected_start_ratio']:.3f}"),
    ]
    for kind, table in (("unprotected", rt), ("protected", rt_protected)):
        rows += [
            (
                f"redis round trips per start / wrong / right check, {kind}",
                f"{table['start']['round_trips_per_op']:.2f} / "
                f"{table['check_wrong_code']['round_trips_per_op']:.2f} / "
                f"{table['check_right_code']['round_trips_per_op']:.2f}",
            ),
            (
                f"redis commands per start / wrong / right check, {kind}",
                f"{table['start']['commands_total_per_op']:.1f} / "
                f"{table['check_wrong_code']['commands_total_per_op']:.1f} / "
                f"{table['check_right_code']['commands_total_per_op']:.1f}",
            ),
        ]
    rows += [
        (
            "memory per pending, cross-check from starts (bytes)",
            f"{memory['cross_check_start_phase']['bytes_per_pending']:.0f}",
        ),
        (
            "memory per pending, protected (bytes, no target)",
            f"{memory_protected['bytes_per_pending']:.0f}",
        ),
        (
            "memory per pending, protected, cross-check (bytes)",
            f"{memory_protected['cross_check_start_phase']['bytes_per_pending']:.0f}",
        ),
    ]
    rows += cost_rows
    rows += mfa_rows
    log("\n" + "=" * 78)
    log("figures")
    for name, value in rows:
        log(f"  {name:<62} {value:>26}")
    log("targets")
    missed = False
    results["targets"] = []
    for name, value, target, ok in targets:
        missed |= not ok
        log(f"  {name:<52} {value:>10.3f}   {target:<8} {'PASS' if ok else 'MISS'}")
        results["targets"].append({"name": name, "value": value, "target": target, "pass": ok})
    for name in START_PHASES:
        if phases[name]["non_201"]:
            log(
                f"  INVALID: the {LABELS[name]} phase had {phases[name]['non_201']} answers "
                f"that were not 201 ({phases[name]['statuses']})"
            )
    if memory_protected["starts_refused"]:
        log(f"  INVALID: protected memory fill refused {memory_protected['starts_refused']}")
    for name in (*START_PHASES, "check", "ceiling"):
        if not valid(phases[name]):
            log(f"  WARNING: {name} phase had {phases[name]['error_share']:.1%} errors")
        if phases[name]["other_load_cores"] > 0.2:
            log(
                f"  WARNING: other processes used {phases[name]['other_load_cores']:.2f} cores "
                f"during the {name} phase"
            )
    return missed


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

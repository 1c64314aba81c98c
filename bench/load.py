"""Load generation: `wrk` with bench/lua/form_post.lua, or a Python fallback when wrk cannot be
installed. Both send the same bodies and report the same figures."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import re
import resource
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from bench.numbers import PREFIX, NumberBlock

LUA_SCRIPT = Path(__file__).resolve().parent / "lua" / "form_post.lua"
RESULT_MARK = "BENCH_RESULT "


@dataclass(frozen=True, slots=True)
class StartLoad:
    """POST …/Verifications, one distinct valid number per request; with `rate_limit`, each
    request also names a value of its own for that programmable rate limit (its number's
    digits), as `RateLimits={"<rate_limit>": "NNNNNN"}`."""

    block: NumberBlock
    rate_limit: str | None = None


@dataclass(frozen=True, slots=True)
class CheckLoad:
    """POST …/VerificationCheck by VerificationSid with a wrong code, sids taken in turn."""

    sids_file: Path
    code: str = "000000"


@dataclass(frozen=True, slots=True)
class LinesLoad:
    """Each line of `lines_file` is "PATH<TAB>BODY", taken in turn (bench/mfa.py: one TOTP
    challenge per line). A 201 is counted by its body's `status` too: "201:approved"."""

    lines_file: Path


Load = StartLoad | CheckLoad | LinesLoad
_STATUS = re.compile(rb'"status":\s*"([a-z_]+)"')


@dataclass(frozen=True, slots=True)
class LoadSettings:
    threads: int
    connections: int
    duration_s: float


@dataclass(slots=True)
class LoadResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    client_cpu_s: float
    quantiles_ms: list[float] = field(default_factory=list)  # 1000, at (i + 0.5) / 10 %
    statuses: dict[str, int] = field(default_factory=dict)  # HTTP status -> responses

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def ensure_wrk(log: Any) -> str | None:
    """The wrk binary, installing the Debian package when missing and running as root."""
    found = shutil.which("wrk")
    if found is not None:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        log("wrk is missing and cannot be installed here (needs apt-get as root)")
        return None
    log("wrk is missing: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-qq", "wrk"]
    for step in ([], [[apt, "update", "-qq"]]):
        try:
            for command in [*step, install]:
                subprocess.run(command, env=env, check=True, timeout=240, capture_output=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            continue
        if shutil.which("wrk"):
            return shutil.which("wrk")
    log("apt-get could not install wrk")
    return None


def _lua_args(path: str, auth: str, load: Load, settings: LoadSettings) -> list[str]:
    if isinstance(load, StartLoad):
        return [
            path,
            auth,
            "start",
            PREFIX,
            str(load.block.base),
            str(load.block.span),
            load.rate_limit or "",
        ]
    if isinstance(load, LinesLoad):
        return [path, auth, "lines", str(load.lines_file), str(settings.threads)]
    return [path, auth, "check", str(load.sids_file), str(settings.threads), load.code]


def run_wrk(
    wrk: str, url: str, path: str, auth: str, load: Load, settings: LoadSettings
) -> LoadResult:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = [
        wrk,
        "-t",
        str(settings.threads),
        "-c",
        str(settings.connections),
        "-d",
        f"{settings.duration_s:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        *_lua_args(path, auth, load, settings),
    ]
    completed = subprocess.run(
        argv, capture_output=True, text=True, timeout=settings.duration_s + 60, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [ln for ln in completed.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if completed.returncode != 0 or not lines:
        output = (completed.stderr.strip() or completed.stdout.strip())[-2000:]
        raise RuntimeError(f"wrk failed ({completed.returncode}): {output}")
    raw = json.loads(lines[-1].removeprefix(RESULT_MARK))
    latency = {k: v / 1000.0 for k, v in raw["latency_us"].items()}
    return LoadResult(
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        errors=raw["errors"],
        latency_ms=latency,
        client_cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        quantiles_ms=[q / 1000.0 for q in raw["quantiles_us"]],
        statuses={str(k): int(v) for k, v in raw["statuses"].items()},
    )


# -- Python fallback ---------------------------------------------------------------------------


def _body(load: Load, thread: int, counter: int, sids: list[str]) -> str:
    if isinstance(load, LinesLoad):
        return sids[counter % len(sids)].split("\t", 1)[1]
    if isinstance(load, StartLoad):
        number = load.block.for_thread(thread, counter)
        body = f"To={quote(number)}&Channel=sms"
        if load.rate_limit:
            value = json.dumps({load.rate_limit: number.removeprefix(PREFIX)})
            body += f"&RateLimits={quote(value)}"
        return body
    return f"VerificationSid={sids[counter % len(sids)]}&Code={load.code}"


def _worker(
    args: tuple[str, str, str, Load, int, int, int, float],
) -> tuple[list[float], dict[str, int], float, dict[str, int]]:
    """One load process: `connections` threads sharing this process's (thread) slot of the
    numbers or sids; each thread opens a connection per request (gunicorn sync closes it)."""
    url, path, auth, load, slot, slots, connections, duration = args
    parts = urlsplit(url)
    sids: list[str] = []
    if isinstance(load, CheckLoad):
        lines = load.sids_file.read_text().split()
        sids = [s for i, s in enumerate(lines) if i % slots == slot]
    elif isinstance(load, LinesLoad):  # "PATH<TAB>BODY" lines, kept whole in `sids`
        lines = load.lines_file.read_text().splitlines()
        sids = [s for i, s in enumerate(lines) if i % slots == slot]
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    counter = [0]
    deadline = time.monotonic() + duration
    headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}

    def loop() -> None:
        while time.monotonic() < deadline:
            with lock:
                n = counter[0]
                counter[0] += 1
            body = _body(load, slot, n, sids)
            target = sids[n % len(sids)].split("\t", 1)[0] if isinstance(load, LinesLoad) else path
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
                conn.request("POST", target, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                conn.close()
            except OSError:
                with lock:
                    errors["read"] += 1
                continue
            elapsed = time.perf_counter() - started
            key = str(response.status)
            if isinstance(load, LinesLoad) and response.status == 201:
                found = _STATUS.search(answer)
                key += ":" + (found.group(1).decode() if found else "?")
            with lock:
                latencies.append(elapsed)
                statuses[key] = statuses.get(key, 0) + 1
                if response.status >= 400:
                    errors["status"] += 1

    cpu_before = time.process_time()
    threads = [threading.Thread(target=loop) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.process_time() - cpu_before, statuses


def run_python(url: str, path: str, auth: str, load: Load, settings: LoadSettings) -> LoadResult:
    per_process = max(1, settings.connections // settings.threads)
    jobs = [
        (url, path, auth, load, slot, settings.threads, per_process, settings.duration_s)
        for slot in range(settings.threads)
    ]
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(settings.threads) as pool:
        parts = pool.map(_worker, jobs)
    elapsed = time.monotonic() - started
    latencies = sorted(x for part in parts for x in part[0])
    errors = {k: sum(part[1][k] for part in parts) for k in parts[0][1]}
    statuses: dict[str, int] = {}
    for part in parts:
        for status, count in part[3].items():
            statuses[status] = statuses.get(status, 0) + count
    count = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    latency = (
        {
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
            "mean": sum(latencies) / len(latencies) * 1000,
            "max": latencies[-1] * 1000,
        }
        if latencies
        else {"p50": 0.0, "p90": 0.0, "p99": 0.0, "mean": 0.0, "max": 0.0}
    )
    quantiles = [pct((i + 0.5) / 10) for i in range(1000)] if latencies else []
    return LoadResult(
        requests=count,
        duration_s=elapsed,
        errors=errors,
        latency_ms=latency,
        client_cpu_s=sum(part[2] for part in parts),
        quantiles_ms=quantiles,
        statuses=statuses,
    )


def pooled_percentile(results: list[LoadResult], percent: float) -> float:
    """A latency percentile over several runs of one phase: each run's 1000 quantiles stand
    for equal shares of its requests, so the runs are pooled in proportion to their size."""
    points = sorted((q, r.requests / len(r.quantiles_ms)) for r in results for q in r.quantiles_ms)
    total = sum(weight for _, weight in points)
    if not points:
        return 0.0
    running = 0.0
    for value, weight in points:
        running += weight
        if running >= percent / 100 * total:
            return value
    return points[-1][0]


class LoadGenerator:
    """Runs one timed phase with wrk when available, else with the Python fallback."""

    def __init__(self, wrk: str | None, auth: str) -> None:
        self.wrk = wrk
        self.auth = auth

    @property
    def name(self) -> str:
        return "wrk" if self.wrk else "python (http.client, multiprocess)"

    def run(self, url: str, path: str, load: Load, settings: LoadSettings) -> LoadResult:
        if self.wrk is not None:
            return run_wrk(self.wrk, url, path, self.auth, load, settings)
        return run_python(url, path, self.auth, load, settings)

"""`make bench`, issue 12: what metrics and events cost a start, measured in one run.

Three `verify-service serve` servers on one Redis (each its own key prefix), the same
gunicorn worker count, no delivery worker (as the start phases of bench/run.py: queued
messages and events accumulate), loaded in interleaved rounds whose order turns each round:

- (a) metrics off (`VERIFY_METRICS_TOKEN` unset): the baseline;
- (b) metrics on: every request counted (multiprocess files), the start's counters;
- (c) metrics on, and the service has a webhook subscribed to every event (`EventTypes=*`)
  whose target is a receiver on loopback (`VERIFY_WEBHOOK_ALLOWED_NETWORKS=127.0.0.1/32`):
  a start also writes its `verification.started` event. Before the Webhooks resource exists
  (`POST /v2/Services/{VA}/Webhooks` answers 404) (c) is reported n/a.

Each figure is a ratio of throughputs in the same run (the machine's speed varies from one
run to the next); the target is a cost of at most 5 % of start throughput for (b) and for (c).
At the end (b)'s own `/metrics` is scraped: its count of starts must equal the 201 answers,
or the metrics were not on. Nothing here asserts a time in a test.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis

from bench import services
from bench.load import LoadGenerator, LoadResult, LoadSettings, StartLoad
from bench.numbers import NumberBlock
from bench.processes import REPO, RedisServer, VerifyServer

RESULTS = REPO / "bench" / "results"
TARGET_MAX_COST = 0.05  # share of start throughput metrics (and events) may cost
METRICS_TOKEN = "bench-metrics-token-" + secrets.token_hex(8)
VARIANTS = ("metrics_off", "metrics_on", "metrics_events")
LABELS = {
    "metrics_off": "(a) metrics off",
    "metrics_on": "(b) metrics on",
    "metrics_events": "(c) metrics + webhook on *",
}
NUMBERS_PER_VARIANT = 90_000
VARIANT_BASES = {"metrics_off": 0, "metrics_on": 300_000, "metrics_events": 600_000}
WARMUP_BASE = 900_000
MAX_ERROR_SHARE = 0.01


@dataclass(frozen=True)
class ObservabilityOptions:
    workers: int
    threads: int
    connections: int
    duration_s: float  # per variant, split over the rounds
    rounds: int
    warmup_s: float
    wrk: str | None


class _Receiver(BaseHTTPRequestHandler):
    """A webhook receiver on loopback: 204 to every POST, body read and dropped."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def receiver() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _post(url: str, auth: str, data: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL built here
        url, data=urllib.parse.urlencode(data).encode(), headers={"Authorization": auth}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
        return body


def _subscribe_everything(base_url: str, auth: str, service_sid: str, port: int) -> str | None:
    """A webhook on `*` to the loopback receiver; its sid, or None when the route 404s."""
    try:
        body = _post(
            f"{base_url}/v2/Services/{service_sid}/Webhooks",
            auth,
            {
                "FriendlyName": "bench",
                "EventTypes": "*",
                "WebhookUrl": f"http://127.0.0.1:{port}/hook",
                "Status": "enabled",
            },
        )
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    return str(body["sid"])


def _scraped_starts(base_url: str) -> float:
    request = urllib.request.Request(  # noqa: S310 - loopback URL built here
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("verify_verifications_started_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _blocks(options: ObservabilityOptions, variant: str) -> list[NumberBlock]:
    span = NUMBERS_PER_VARIANT // (options.threads * options.rounds)
    base = VARIANT_BASES[variant]
    return [
        NumberBlock(base + index * span * options.threads, span, options.threads)
        for index in range(options.rounds)
    ]


def run(
    options: ObservabilityOptions,
    log: Callable[[str], None],
    quiesce: Callable[[redis.Redis], None],
) -> dict[str, Any]:
    """Runs (a), (b) and (c) in interleaved rounds; returns their figures. `quiesce` waits
    until Redis is idle after a round (bench/run.py), so a round's CPU is its own."""
    account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    blocks = {variant: _blocks(options, variant) for variant in VARIANTS}
    warmup = NumberBlock(WARMUP_BASE, 2_000, options.threads)
    for block in [warmup, *(b for variant in blocks.values() for b in variant)]:
        block.validate()
    generator = LoadGenerator(options.wrk, auth)
    redis_server = RedisServer()
    servers: dict[str, VerifyServer] = {}
    client: redis.Redis | None = None
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        redis_server.start()
        client = redis_server.client()
        with receiver() as port:
            base_env = {
                "VERIFY_REDIS_URL": redis_server.url,
                "VERIFY_SECRET_KEY": secrets.token_urlsafe(48),
                "VERIFY_ACCOUNT_SID": account_sid,
                "VERIFY_AUTH_TOKEN": auth_token,
                "VERIFY_CONSOLE_OUTBOX": "/dev/null",
            }
            extra = {
                "metrics_off": {},
                "metrics_on": {"VERIFY_METRICS_TOKEN": METRICS_TOKEN},
                "metrics_events": {
                    "VERIFY_METRICS_TOKEN": METRICS_TOKEN,
                    "VERIFY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
                },
            }
            for index, variant in enumerate(VARIANTS):
                env = {**base_env, **extra[variant], "VERIFY_REDIS_KEY_PREFIX": f"o{index}"}
                servers[variant] = VerifyServer(env, options.workers, with_worker=False).start(
                    RESULTS / f"verify-service-{variant}.log"
                )
            sids = {}
            for variant, server in servers.items():

                def post(path: str, data: dict[str, str], url: str = server.url) -> dict[str, Any]:
                    return _post(f"{url}{path}", auth, data)

                sids[variant] = services.create(post, f"Obs {variant}", protected=False).sid
            webhook = _subscribe_everything(
                servers["metrics_events"].url, auth, sids["metrics_events"], port
            )
            variants = VARIANTS if webhook is not None else VARIANTS[:2]
            if webhook is None:
                log("  (c) n/a: POST /v2/Services/{VA}/Webhooks answers 404 on this build")
            warm = LoadSettings(options.threads, options.connections, options.warmup_s)
            for variant in variants:
                path = f"/v2/Services/{sids[variant]}/Verifications"
                generator.run(servers[variant].url, path, StartLoad(warmup), warm)
            per_round = LoadSettings(
                options.threads, options.connections, options.duration_s / options.rounds
            )
            results: dict[str, list[LoadResult]] = {variant: [] for variant in variants}
            cpu: dict[str, list[float]] = {variant: [] for variant in variants}
            for number in range(options.rounds):
                order = variants[number % len(variants) :] + variants[: number % len(variants)]
                for variant in order:
                    path = f"/v2/Services/{sids[variant]}/Verifications"
                    server = servers[variant]
                    before = server.cpu_seconds() + redis_server.cpu_seconds()
                    result = generator.run(
                        server.url, path, StartLoad(blocks[variant][number]), per_round
                    )
                    quiesce(client)
                    cpu[variant].append(server.cpu_seconds() + redis_server.cpu_seconds() - before)
                    results[variant].append(result)
                    log(
                        f"  round {number + 1} {LABELS[variant]}: {result.rps:.1f} starts/s, "
                        f"{cpu[variant][-1] / max(result.requests, 1) * 1000:.2f} ms CPU each"
                    )
            created = sum(r.statuses.get("201", 0) for r in results["metrics_on"])
            counted = _scraped_starts(servers["metrics_on"].url)
    finally:
        for server in servers.values():
            server.stop()
        if client is not None:
            client.close()
        redis_server.stop()
    figures = _figures(results, cpu, webhook is not None, counted, created)
    figures["metrics_us_per_start_in_process"] = _metrics_call_cost_us()
    return figures


_CALLS = """
import sys, tempfile, time
from verify_service.adapters.metrics import multiprocess
from verify_service.adapters.metrics.prometheus_metrics import PrometheusMetrics
multiprocess.prepare_shared_directory(tempfile.mkdtemp(prefix="bench-metrics-"))
metrics = PrometheusMetrics()
route = "/v2/Services/<service_sid>/Verifications"
def start():
    metrics.http_request("POST", route, 201, 0.004)
    metrics.verification_started("sms", "created")
for _ in range(2000):
    start()
n = 50000
t0 = time.perf_counter()
for _ in range(n):
    start()
print((time.perf_counter() - t0) / n * 1e6)
"""


def _metrics_call_cost_us() -> float:
    """What a start's metrics cost in the API process (its request and its start counted,
    in multiprocess mode), in microseconds: a figure that does not depend on the machine's
    other load as much as throughput does."""
    done = subprocess.run(
        [sys.executable, "-c", _CALLS], capture_output=True, text=True, check=True, cwd=REPO
    )
    return float(done.stdout.strip())


def _figures(
    results: dict[str, list[LoadResult]],
    cpu: dict[str, list[float]],
    events: bool,
    counted: float,
    created: int,
) -> dict[str, Any]:
    phases = {}
    for variant, rounds in results.items():
        requests = sum(r.requests for r in rounds)
        seconds = sum(r.duration_s for r in rounds)
        cpu_ms = sum(cpu[variant]) / max(requests, 1) * 1000
        non_201 = requests - sum(r.statuses.get("201", 0) for r in rounds)
        errors = sum(sum(r.errors.values()) for r in rounds)
        phases[variant] = {
            "requests": requests,
            "rps": requests / seconds if seconds else 0.0,
            "rounds_rps": [r.rps for r in rounds],
            "cpu_ms_per_start": cpu_ms,  # the server's processes and Redis
            "non_201": non_201,
            "error_share": (errors + non_201) / max(requests, 1),
        }
    base = phases["metrics_off"]
    figures: dict[str, Any] = {"phases": phases, "events_measured": events}
    for variant in VARIANTS[1:]:
        if variant in phases and base["rps"] and base["cpu_ms_per_start"]:
            figures[f"{variant}_cost"] = 1 - phases[variant]["rps"] / base["rps"]
            figures[f"{variant}_cpu_cost"] = (
                phases[variant]["cpu_ms_per_start"] / base["cpu_ms_per_start"] - 1
            )
    # The warm-up's starts are counted as well: at least every 201 of the rounds.
    figures["metrics_counted_starts"] = counted
    figures["metrics_counted_every_start"] = counted >= created
    return figures


def report(results: dict[str, Any], log: Callable[[str], None]) -> bool:
    """Prints the figures and targets; returns True when a target is missed."""
    log("metrics and events cost per start (same run, interleaved rounds)")
    phases = results["phases"]
    for variant in VARIANTS:
        if variant not in phases:
            log(f"  {LABELS[variant]:<34} n/a (no Webhooks resource on this build)")
            continue
        phase = phases[variant]
        log(
            f"  {LABELS[variant]:<34} {phase['rps']:>8.1f} starts/s "
            f"(rounds {', '.join(f'{r:.0f}' for r in phase['rounds_rps'])}); "
            f"{phase['cpu_ms_per_start']:.2f} ms CPU per start; non-201 {phase['non_201']}"
        )
    log(
        f"  metrics calls of one start, in process: "
        f"{results['metrics_us_per_start_in_process']:.1f} µs"
    )
    missed = False
    for variant in VARIANTS[1:]:
        if f"{variant}_cost" not in results:
            continue
        # Throughput is the target; on a machine shared with other load its rounds vary more
        # than 5 %, so the CPU each start costs (server + Redis) is shown beside it: on a
        # saturated server, throughput falls by the share CPU per start grows.
        cost, cpu_cost = results[f"{variant}_cost"], results[f"{variant}_cpu_cost"]
        ok = cost <= TARGET_MAX_COST and phases[variant]["error_share"] <= MAX_ERROR_SHARE
        missed |= not ok
        log(
            f"  cost of {LABELS[variant]:<30} throughput {cost * 100:>6.1f} %, CPU per start "
            f"{cpu_cost * 100:>+6.1f} %   <= {TARGET_MAX_COST * 100:.0f} %   "
            f"{'PASS' if ok else 'MISS'}"
        )
    if not results["metrics_counted_every_start"]:
        log("  INVALID: (b)'s /metrics did not count every start: were metrics on?")
        missed = True
    return missed

"""Slot balance on a Redis Cluster (`make bench-cluster`; docs/scaling.md).

Starts a local Redis Cluster of three masters and three replicas (tests/support/redis_cluster.py),
one `verify-service serve` (gunicorn, 2 workers, no worker of its own) and one
`verify-service worker` on it, creates a service with the bench's protected parameters
(bench/services.py: the defaults of docs/abuse-protection.md, with the three volume caps
raised, and a programmable rate limit every start names a value of its own for; Fraud
Guard counting but never tripping), resets
`INFO commandstats` on every master, then sends STARTS starts through the API (distinct
numbers, THREADS client threads) and waits for the worker to drain the outbox.

It reports, per master, the commands it ran (`INFO commandstats` calls, Lua-internal
calls included) and the ratio of the busiest master to the mean (the target: <= 1.5).
Then a sample of SAMPLE more starts under `MONITOR` on every master says where the commands
go: per hash tag class (the service hash `{svc}`, a verification's `{VA…:tag}`, the outbox
shards `{outbox:i}`, a limit window...), and the busiest single slot's share.

A figure of commands, not of time: it does not depend on how busy the machine is.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis
import requests

from bench import services
from bench.numbers import NumberBlock
from tests.support.delivery_processes import ServeProcess, WorkerProcess
from tests.support.redis_cluster import RedisCluster

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = secrets.token_hex(16)
SECRET_KEY = secrets.token_urlsafe(48)
STARTS = 10_000
SAMPLE = 300
THREADS = 8
RESULTS = Path(__file__).resolve().parent / "results"


def env_for(url: str, outbox: Path) -> dict[str, str]:
    return {
        "VERIFY_REDIS_URL": url,
        "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
        "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
        "VERIFY_SECRET_KEY": SECRET_KEY,
        "VERIFY_CONSOLE_OUTBOX": str(outbox),
        "VERIFY_REDIS_TIMEOUT_SECONDS": "2",
    }


def post_json(session: requests.Session, url: str, form: dict[str, str]) -> dict[str, Any]:
    response = session.post(url, data=form, timeout=30)
    if response.status_code >= 300:
        raise RuntimeError(f"{url}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


def send_starts(base_url: str, service: services.BenchService, block: NumberBlock) -> Counter[int]:
    """block.size starts, THREADS at a time; the HTTP statuses they got."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    url = f"{base_url}/v2/Services/{service.sid}/Verifications"

    def thread(index: int) -> None:
        with requests.Session() as session:
            session.auth = (ACCOUNT_SID, AUTH_TOKEN)
            for counter in range(block.span):
                number = block.for_thread(index, counter)
                form = service.start_params(number, f"user-{number}")
                status = session.post(url, data=form, timeout=30).status_code
                with lock:
                    statuses[status] += 1

    with ThreadPoolExecutor(max_workers=block.threads) as pool:
        list(pool.map(thread, range(block.threads)))
    return statuses


def calls(client: redis.Redis) -> int:
    """Commands this server ran since its stats were reset, INFO itself not counted."""
    stats: dict[str, Any] = client.info("commandstats")
    return sum(
        int(value["calls"]) for name, value in stats.items() if name not in ("cmdstat_info",)
    )


def cpu_seconds(client: redis.Redis) -> float:
    """The server's CPU (user + system) since it started."""
    cpu: dict[str, Any] = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def wait_drained(masters: list[redis.Redis], prefix: str = "vs") -> float:
    """Until every outbox shard's stream is empty (the worker deletes what it sent)."""
    started = time.monotonic()
    pattern = f"{prefix}:{{outbox*}}:stream"
    while time.monotonic() - started < 600:
        left = sum(
            int(master.xlen(key)) for master in masters for key in master.scan_iter(match=pattern)
        )
        if left == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError("the worker did not drain the outbox within 600 s")


_TAG = re.compile(rb"\{([^}]*)\}")


_QUOTED = re.compile(rb'"([^"]*)"')


def _untagged(line: bytes) -> str:
    """A command line without a hash tag: its command and key's first two segments (`rl`
    windows of `limits` are keyed `vs:rl:…` with no tag)."""
    words: list[bytes] = _QUOTED.findall(line)
    if len(words) < 2:
        return "(no key)"
    command = words[0].decode().lower()
    key = words[3] if command in ("evalsha", "eval") and len(words) > 3 else words[1]
    return f"(no tag) {command} " + ":".join(key.decode("utf-8", "replace").split(":")[:2])


_DIGITS = re.compile(r"[0-9a-f]{8,}|\+?[0-9]{6,}")


def _masked_key(line: bytes) -> str:
    """The key a MONITOR line names (a script's first key), sids, digests and numbers
    masked: the shape of a hot key, never whose it is."""
    words: list[bytes] = _QUOTED.findall(line)
    if len(words) < 2:
        return "(no key)"
    command = words[0].decode().lower()
    key = words[3] if command in ("evalsha", "eval") and len(words) > 3 else words[1]
    return _DIGITS.sub("…", key.decode("utf-8", "replace"))


def tag_class(tag: str) -> str:
    """A hash tag's kind, for the per-kind breakdown (never a sid or a number)."""
    if tag.startswith("(no"):
        return tag
    if tag.startswith("VA"):
        return _VA_KINDS[":" in tag]
    for prefix, kind in _KINDS.items():
        if tag.startswith(prefix):
            return kind
    return "{" + tag + "}"


_VA_KINDS = {
    True: "{VA…:destination tag} (one verification)",
    False: "{VA…} (a service's Fraud Guard)",
}
_KINDS = {
    "outbox:": "{outbox:i}",
    "fallback:": "{fallback:i}",
    "VL": "{VL…} (an attempt's status)",
}


def _ratio(counts: list[int]) -> float:
    return round(max(counts) / statistics.fmean(counts), 3) if counts else 0.0


def sample_under_monitor(
    cluster: RedisCluster, base_url: str, service: services.BenchService, block: NumberBlock
) -> dict[str, Any]:
    """SAMPLE starts while MONITOR runs on every master: commands per hash tag kind and per
    slot (a command without a hash tag counts under its key's own slot)."""
    masters = cluster.master_clients()
    untyped: list[Any] = masters  # redis-py's Monitor is untyped
    monitors = [master.monitor() for master in untyped]
    lines: list[tuple[int, bytes]] = []
    stop = threading.Event()
    readers = []

    def read(index: int, monitor: Any) -> None:
        connection = monitor.connection
        while not stop.is_set():
            try:
                if connection.can_read(timeout=0.2):
                    response = connection.read_response()
                    text = response if isinstance(response, bytes) else str(response).encode()
                    lines.append((index, text))
            except (redis.RedisError, OSError):
                return

    for index, monitor in enumerate(monitors):
        monitor.__enter__()
        reader = threading.Thread(target=read, args=(index, monitor), daemon=True)
        reader.start()
        readers.append(reader)
    try:
        send_starts(base_url, service, block)
        time.sleep(1.0)
    finally:
        stop.set()
        for reader in readers:
            reader.join(5)
        for monitor in monitors:
            monitor.__exit__(None, None, None)
        for master in masters:
            master.close()
    by_kind: Counter[str] = Counter()
    by_tag: Counter[str] = Counter()
    by_key: Counter[str] = Counter()
    by_master: dict[int, Counter[str]] = {}
    for index, line in lines:
        if b'"monitor"' in line.lower() or b'"info"' in line.lower():
            continue
        found = _TAG.search(line)
        tag = found.group(1).decode("utf-8", "replace") if found else _untagged(line)
        by_kind[tag_class(tag)] += 1
        by_tag[tag] += 1
        by_master.setdefault(index, Counter())[tag_class(tag)] += 1
        by_key[_masked_key(line)] += 1
    total = sum(by_kind.values()) or 1
    # The same sample without the `limits` windows (`vs:rl:…`): how the rest spreads.
    per_master = [sum(kinds.values()) for _index, kinds in sorted(by_master.items())]
    without_windows = [
        sum(n for kind, n in kinds.items() if "vs:rl" not in kind)
        for _index, kinds in sorted(by_master.items())
    ]
    hottest, hottest_calls = by_tag.most_common(1)[0] if by_tag else ("", 0)
    return {
        "starts": block.size,
        "commands_seen": total,
        "by_kind": {kind: round(n / total, 4) for kind, n in by_kind.most_common()},
        "by_master": {
            str(index): dict(kinds.most_common(6)) for index, kinds in sorted(by_master.items())
        },
        "hottest_keys_commands_per_start": {
            key: round(n / max(block.size, 1), 2) for key, n in by_key.most_common(8)
        },
        "busiest_over_mean": _ratio(per_master),
        "busiest_over_mean_without_limit_windows": _ratio(without_windows),
        "hottest_tag_kind": tag_class(hottest),
        "hottest_tag_share": round(hottest_calls / total, 4),
        "hottest_tag_commands_per_start": round(hottest_calls / max(block.size, 1), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=STARTS)
    parser.add_argument("--sample", type=int, default=SAMPLE)
    options = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    cluster = RedisCluster().start()
    server = ServeProcess(env_for(cluster.url, folder / "outbox.jsonl"), workers=2)
    server.with_worker = False
    worker = WorkerProcess(env_for(cluster.url, folder / "outbox.jsonl"))
    try:
        server.start(folder / "serve.log")
        worker.start(folder / "worker.log")
        with requests.Session() as session:
            session.auth = (ACCOUNT_SID, AUTH_TOKEN)
            service = services.create(
                lambda path, form: post_json(session, server.url + path, form),
                "Bench",
                protected=True,
            )
            # 10 000 sends to one prefix that nobody approves is what Fraud Guard exists to
            # stop: it would trip after two minutes and refuse the rest (403, 60410), which
            # costs less. It keeps counting every send and reading its tallies (the same
            # commands) but may never trip here.
            post_json(
                session,
                f"{server.url}/v2/Services/{service.sid}",
                {"FraudGuardMinApprovalRate": "0"},
            )
        threads = THREADS
        block = NumberBlock(base=0, span=options.starts // threads, threads=threads)
        masters = cluster.master_clients()
        for master in masters:
            master.config_resetstat()
        cpu_before = [cpu_seconds(master) for master in masters]
        started = time.monotonic()
        statuses = send_starts(server.url, service, block)
        sent_s = time.monotonic() - started
        drained_s = wait_drained(masters)
        per_master = {f"{m.connection_pool.connection_kwargs['port']}": calls(m) for m in masters}
        cpu_ms_per_start = {
            f"{m.connection_pool.connection_kwargs['port']}": round(
                (cpu_seconds(m) - before) * 1000 / options.starts, 3
            )
            for m, before in zip(masters, cpu_before, strict=True)
        }
        for master in masters:
            master.close()
        counts = list(per_master.values())
        mean = statistics.fmean(counts)
        sample = sample_under_monitor(
            cluster,
            server.url,
            service,
            NumberBlock(base=block.size, span=max(1, options.sample // threads), threads=threads),
        )
        figures = {
            "starts": block.size,
            "statuses": dict(statuses),
            "send_s": round(sent_s, 1),
            "drain_s_after_sends": round(drained_s, 1),
            "commands_per_master": per_master,
            "commands_per_start_all_masters": round(sum(counts) / block.size, 1),
            "busiest_over_mean": round(max(counts) / mean, 3),
            "redis_cpu_ms_per_start_per_master": cpu_ms_per_start,
            "redis_cpu_ms_per_start_all_masters": round(sum(cpu_ms_per_start.values()), 3),
            "monitor_sample": sample,
        }
    finally:
        worker.stop()
        server.stop()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(figures, indent=2) + "\n", "utf-8")
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

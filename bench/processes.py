"""The processes a bench run starts: redis-server, `verify-service serve`, the ceiling app,
and for the delivery phase `verify-service worker` and the stand-in provider (bench/standin.py).

Each one runs in its own session (process group), so stopping it also stops the gunicorn
workers, and a Ctrl-C in the terminal reaches only the bench, which then stops them itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

import redis

from tests.support.redis_binary import redis_server_binary

REPO = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], what: str, timeout_seconds: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, redis.exceptions.RedisError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout_seconds:.0f} s")


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group (the gunicorn master and
    its workers), read from /proc."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                stat = handle.read()
        except OSError:
            continue
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:  # field 5: pgrp
            total += int(fields[11]) + int(fields[12])  # fields 14, 15: utime, stime
    return total / CLOCK_TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, interrupt) CPU seconds of the whole machine since boot, from /proc/stat.
    busy counts everything but idle and iowait; interrupt is irq + softirq (loopback TCP is
    mostly softirq work, which no process is charged for)."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    busy = sum(values[:8]) - values[3] - values[4]  # all but idle and iowait
    interrupt = values[5] + values[6]
    return busy / CLOCK_TICKS, interrupt / CLOCK_TICKS


class Managed:
    """A child process in its own session; `stop` ends its whole group."""

    name = "process"

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _spawn(self, argv: list[str], env: dict[str, str] | None, log_path: Path | None) -> None:
        if log_path is not None:
            self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.pid)

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with status {self.process.returncode}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if process is not None:
            # Workers orphaned by a master that died first are still in the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


class RedisServer(Managed):
    """A throw-away redis-server: loopback, its own free port, no persistence."""

    name = "redis-server"

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self._spawn(
            [
                redis_server_binary().path,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            None,
            None,
        )
        client = self.client()
        wait_for(lambda: bool(client.ping()), f"redis-server on port {self.port}")
        client.close()
        return self

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def version(self) -> str:
        client = self.client()
        try:
            return str(client.info("server")["redis_version"])
        finally:
            client.close()


class HttpServer(Managed):
    """A gunicorn server answering `GET /healthz` once it is up."""

    def __init__(self, workers: int) -> None:
        super().__init__()
        self.port = free_port()
        self.workers = workers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_healthy(self) -> None:
        def healthy() -> bool:
            self.check_alive()
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:  # noqa: S310 - loopback
                return bool(response.status == 200)

        wait_for(healthy, self.name)


class VerifyServer(HttpServer):
    """`verify-service serve`, configured through VERIFY_* variables only."""

    name = "verify-service"

    def __init__(self, verify_env: dict[str, str], workers: int, with_worker: bool = True) -> None:
        super().__init__(workers)
        self.verify_env = verify_env
        self.with_worker = with_worker

    def start(self, log_path: Path) -> VerifyServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
        env.update(self.verify_env)
        self._spawn(
            [
                sys.executable,
                "-m",
                "verify_service.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--worker" if self.with_worker else "--no-worker",
            ],
            env,
            log_path,
        )
        self._wait_healthy()
        return self


class DeliveryWorkerProcess(Managed):
    """`verify-service worker`, configured through VERIFY_* variables only."""

    name = "verify-service worker"

    def __init__(self, verify_env: dict[str, str]) -> None:
        super().__init__()
        self.verify_env = verify_env

    def start(self, log_path: Path) -> DeliveryWorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
        env.update(self.verify_env)
        self._spawn([sys.executable, "-m", "verify_service.cli", "worker"], env, log_path)
        return self


class StandInProvider(HttpServer):
    """bench/standin.py: the webhook gateway the delivery phase's worker sends to."""

    name = "stand-in provider"

    def __init__(self, secret: str) -> None:
        super().__init__(1)
        self.secret = secret

    def start(self, log_path: Path) -> StandInProvider:
        env = {**os.environ, "BENCH_STANDIN_SECRET": self.secret}
        self._spawn(
            [sys.executable, "-m", "bench.standin", "--port", str(self.port)], env, log_path
        )
        self._wait_healthy()
        return self


class CeilingServer(HttpServer):
    """`bench/ceiling_app.py` under the same gunicorn settings as `verify-service serve`."""

    name = "ceiling app"

    def __init__(self, redis_url: str, workers: int) -> None:
        super().__init__(workers)
        self.redis_url = redis_url

    def start(self, log_path: Path) -> CeilingServer:
        self._spawn(
            [
                sys.executable,
                "-m",
                "bench.ceiling_app",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--redis-url",
                self.redis_url,
            ],
            None,
            log_path,
        )
        self._wait_healthy()
        return self

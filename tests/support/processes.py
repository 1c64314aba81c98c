"""Start real `redis-server` and `verify-service serve` processes on free loopback ports."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import redis
import requests

from tests.support.redis_binary import redis_server_binary

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], object], what: str, timeout_seconds: float = 15.0) -> None:
    """Poll `predicate` until it is true (a Redis or HTTP error counts as "not yet"), else
    fail naming `what`. Every server the tests start (one redis-server, a Cluster, a Sentinel
    group, verify-service) waits through this."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, redis.exceptions.RedisError, requests.RequestException):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"waited {timeout_seconds} s in vain for: {what}")


class RedisServer:
    """A throw-away redis-server: no persistence, its own port, stoppable and restartable.
    `config` sets more directives (`{"maxmemory-policy": "volatile-lru"}`) or overrides
    these defaults; with a `config`, its files (an AOF) go to a temporary folder that
    `remove` deletes."""

    def __init__(self, port: int | None = None, config: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.config = config or {}
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: str | None = None

    @property
    def url(self) -> str:
        password = self.config.get("requirepass")
        return f"redis://{f':{password}@' if password else ''}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        if self.config and self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="redis-")
        directives = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "save": "",
            "appendonly": "no",
            "daemonize": "no",
            "loglevel": "warning",
            **({"dir": self._folder} if self._folder else {}),
            **self.config,
        }
        arguments = [part for name, value in directives.items() for part in (f"--{name}", value)]
        self._process = subprocess.Popen(
            [redis_server_binary().path, *arguments], stdout=subprocess.DEVNULL
        )
        client = redis.Redis(port=self.port, password=self.config.get("requirepass"))
        wait_until(client.ping, f"redis-server on port {self.port}")
        client.close()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None

    def remove(self) -> None:
        """Stop, and delete the server's files."""
        self.stop()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


def run_cli(
    arguments: list[str], env: dict[str, str], timeout_seconds: float = 60
) -> subprocess.CompletedProcess[str]:
    """`verify-service <arguments>` run to its end, configured through `env` only (none of
    the caller's `VERIFY_*`); its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "verify_service.cli", *arguments],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}, **env},
        capture_output=True,
        text=True,
        timeout=timeout_seconds,
        cwd=REPO,
        check=False,
    )


class ApiServer:
    """`verify-service serve` (gunicorn) as a subprocess, configured through VERIFY_* only."""

    def __init__(
        self, env: dict[str, str], workers: int = 2, options: tuple[str, ...] = ()
    ) -> None:
        self.port = free_port()
        self.env = env
        self.workers = workers
        self.options = options  # more `serve` options, e.g. ("--access-log",)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_path: Path) -> ApiServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
        env.update(self.env)
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "verify_service.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                *self.options,
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        wait_until(lambda: requests.get(f"{self.url}/healthz", timeout=1).ok, "verify-service")
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(15)
            self._process = None
        if self._log is not None:
            self._log.close()

"""`verify-service worker` and `verify-service serve [--no-worker]` as subprocesses, for the
tests that kill a worker mid-delivery or watch `serve`'s own worker deliver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

import requests

from tests.support.processes import REPO, ApiServer, wait_until


def process_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without its VERIFY_* variables, plus `env`."""
    merged = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    merged.update(env)
    return merged


class WorkerProcess:
    """`python -m verify_service.cli worker`, configured through VERIFY_* only."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, log_path: Path) -> WorkerProcess:
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "verify_service.cli", "worker"],
            env=process_env(self.env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        return self

    def kill(self) -> int:
        """SIGKILL: no handler runs, nothing is acknowledged or cleaned up."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        return self._process.wait(10)

    def stop(self) -> int | None:
        """SIGTERM (the worker finishes its batch and exits); the exit status, if it ran."""
        code = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
            code = self._process.wait(15)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code


class ServeProcess(ApiServer):
    """`verify-service serve`, with its delivery worker child or (`with_worker=False`)
    `--no-worker`."""

    def __init__(self, env: dict[str, str], workers: int = 1, with_worker: bool = True) -> None:
        super().__init__(env, workers)
        self.with_worker = with_worker

    def start(self, log_path: Path) -> ServeProcess:
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
                "--worker" if self.with_worker else "--no-worker",
            ],
            env=process_env(self.env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        wait_until(lambda: requests.get(f"{self.url}/healthz", timeout=1).ok, "verify-service")
        return self

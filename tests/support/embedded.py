"""`verify-service serve` on the embedded store (what `make run` starts), as a process: its
start banner read back (API credentials, Demo service, console user and password), its
console outbox, and a stop that ends the whole process group it started."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.processes import REPO

START_SECONDS = 30.0
_BANNER = re.compile(
    r"Account SID : (?P<account>AC[0-9a-f]{32})\s+"
    r"Auth token  : (?P<token>\S+).*?"
    r"Service SID : (?P<service>VA[0-9a-f]{32}).*?"
    r"Console     : (?P<console>\S+).*?"
    r"Console user: (?P<user>\S+).*?"
    r"Password    : (?P<password>\S+)",
    re.DOTALL,
)


@dataclass(frozen=True)
class Banner:
    account_sid: str
    auth_token: str
    service_sid: str
    console_url: str
    console_user: str
    console_password: str
    text: str


def parse_banner(text: str) -> Banner | None:
    match = _BANNER.search(text)
    if match is None:
        return None
    return Banner(
        match["account"],
        match["token"],
        match["service"],
        match["console"],
        match["user"],
        match["password"],
        text,
    )


def clean_env(**variables: str) -> dict[str, str]:
    """No VERIFY_* (nor anything else) from the outer environment but what a shell needs."""
    keep = {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "SYSTEMROOT"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(variables)
    return env


class EmbeddedServer:
    """A command that serves on the embedded store (`verify-service serve`, `make run`),
    started in its own process group; stdout and stderr go to files in `folder`."""

    def __init__(self, command: list[str], port: int, folder: Path, env: dict[str, str]) -> None:
        self.command = command
        self.url = f"http://127.0.0.1:{port}"
        self.stdout_path = folder / "stdout.log"
        self.stderr_path = folder / "stderr.log"
        self.env = env
        self._process: subprocess.Popen[bytes] | None = None
        self.banner: Banner | None = None

    def start(self) -> Banner:
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self._process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=stdout,
                stderr=stderr,
                cwd=REPO,
                start_new_session=True,  # `make run` has a child: stop ends both
            )
        deadline = time.monotonic() + START_SECONDS
        while self.banner is None:
            self._still_running(deadline)
            self.banner = parse_banner(self.stderr_path.read_text("utf-8", errors="replace"))
            time.sleep(0.05)
        while not self._healthy():
            self._still_running(deadline)
            time.sleep(0.05)
        return self.banner

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def _still_running(self, deadline: float) -> None:
        assert self._process is not None
        if self._process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"{' '.join(self.command)} did not start:\n"
                + self.stderr_path.read_text("utf-8", errors="replace")
            )

    def stdout(self) -> str:
        return self.stdout_path.read_text("utf-8", errors="replace")

    def stop(self) -> None:
        if self._process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self._process.wait(15)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._process.wait(5)
        self._process = None

    def _signal(self, number: signal.Signals) -> None:
        """To the process group this server started (and only to it)."""
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, number)

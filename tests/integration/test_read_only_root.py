"""The production shape runs as the image does (Dockerfile; deploy/compose.yaml, deploy/k8s/):
`serve --no-worker` and `worker`, each on a read-only root filesystem with only /tmp writable
(a tmpfs), answer and deliver. There is no Docker engine here, so each process gets what a
container would: its own mount namespace (`unshare`), `/` remounted read-only, a fresh tmpfs
on /tmp, then no capability at all and, when the interpreter is reachable by other users, the
image's uid 10001 (`setpriv`; a Python installed under a private /root runs as root without
capabilities instead, which cannot write to a read-only mount either). Needs root and
util-linux, as CI has; skipped elsewhere, saying why."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.support.processes import REPO, RedisServer, free_port, wait_until

IMAGE_USER = "10001"  # the Dockerfile's USER
UNSHARE = ("unshare", "--mount", "--propagation", "private")
SERVICE = (sys.executable, "-m", "verify_service.cli")


def reachable_by_others(path: Path) -> bool:
    """Whether a user other than its owner can run `path` (every folder above it open)."""
    real = path.resolve()
    return all(folder.stat().st_mode & 0o001 for folder in real.parents) and bool(
        real.stat().st_mode & 0o001
    )


# What the container gets before the service starts: `/` read-only, /tmp a tmpfs (the one
# writable path the Dockerfile documents), then no capability and the image's user.
USER = (
    f"--reuid {IMAGE_USER} --regid {IMAGE_USER} --clear-groups"
    if reachable_by_others(Path(sys.executable))
    else ""
)
CONTAINER = (
    "mount -o bind,remount,ro / && mount -t tmpfs -o size=64m,mode=1777 tmpfs /tmp && "
    f'exec setpriv {USER} --inh-caps=-all --bounding-set=-all "$@"'
)


def can_isolate() -> str | None:
    """Why this machine cannot run the test, or None."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces): CI runs as root"
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        return "needs util-linux's unshare and setpriv"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return None if probe.returncode == 0 else "cannot create a mount namespace here"


pytestmark = pytest.mark.skipif(can_isolate() is not None, reason=str(can_isolate()))


def start_contained(
    arguments: list[str], env: dict[str, str], log: BinaryIO
) -> subprocess.Popen[bytes]:
    """The command in its "container"; its standard output (the console provider's messages)
    piped, its log (standard error) to `log`."""
    return subprocess.Popen(
        [*UNSHARE, "sh", "-c", CONTAINER, "container", *SERVICE, *arguments],
        env={
            "PATH": os.environ["PATH"],
            "PYTHONDONTWRITEBYTECODE": "1",  # as the image sets it
            "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
            "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
            "VERIFY_SECRET_KEY": SECRET_KEY,
            **env,
        },
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=log,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def delivered(worker: subprocess.Popen[bytes], timeout_seconds: float = 30) -> Any:
    """The first message the worker's console provider writes (one JSON line), waiting at
    most `timeout_seconds` for it."""
    assert worker.stdout is not None
    ready, _, _ = select.select([worker.stdout], [], [], timeout_seconds)
    assert ready, f"the worker delivered nothing in {timeout_seconds} s"
    return json.loads(worker.stdout.readline())


@pytest.fixture
def durable_redis() -> Iterator[RedisServer]:
    server = RedisServer(config={"maxmemory-policy": "noeviction", "appendonly": "yes"}).start()
    yield server
    server.remove()


def test_serve_and_worker_run_on_a_read_only_root(
    durable_redis: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    env = {"VERIFY_REDIS_URL": durable_redis.url}
    api_log, worker_log = (tmp_path / "api.log").open("wb"), (tmp_path / "worker.log").open("wb")
    api = start_contained(
        ["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env,
        api_log,
    )
    worker = start_contained(["worker"], env, worker_log)
    base, auth = f"http://127.0.0.1:{port}", (ACCOUNT_SID, AUTH_TOKEN)
    try:
        # Two gunicorn workers importing the app on a loaded 2-core machine: a hang guard, and
        # what serve said if it never got ready (the API's log holds no code).
        try:
            wait_until(
                lambda: requests.get(f"{base}/readyz", timeout=1).ok,
                "serve, read-only root",
                timeout_seconds=60,
            )
        except RuntimeError:
            api_log.flush()
            said = (tmp_path / "api.log").read_text(encoding="utf-8", errors="replace")
            raise AssertionError(f"serve never got ready; its log ends:\n{said[-3000:]}") from None
        service = requests.post(
            f"{base}/v2/Services", data={"FriendlyName": "Read-only"}, auth=auth, timeout=5
        )
        assert service.status_code == 201, service.text
        started = requests.post(
            f"{base}/v2/Services/{service.json()['sid']}/Verifications",
            data={"To": "+14155552671", "Channel": "sms"},
            auth=auth,
            timeout=5,
        )
        assert started.status_code == 201, started.text
        # The worker delivers it: the console provider writes the message to its output.
        assert delivered(worker)["verification_sid"] == started.json()["sid"]
    finally:
        stop(api)
        stop(worker)
        api_log.close()
        worker_log.close()
    for name in ("api.log", "worker.log"):
        log = (tmp_path / name).read_text(encoding="utf-8")
        assert "Read-only file system" not in log
        assert "Traceback" not in log

"""When Redis goes away and comes back, the server's log says so once each way, naming
host:port and never the password: an outage is one line, not one per request."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import server_env
from tests.support.processes import ApiServer, RedisServer

PASSWORD = "redis-password-never-logged-7c1e"
REQUESTS_PER_PHASE = 10
WAIT_SECONDS = 15.0


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Poll until `condition` holds (the log is written by another process)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {WAIT_SECONDS} s")
        time.sleep(0.05)


def test_each_redis_transition_is_logged_once_with_its_address(tmp_path: Path) -> None:
    """Down: one error line naming 127.0.0.1:port however many requests fail; back: one
    line; the password appears nowhere."""
    redis_server = RedisServer(config={"requirepass": PASSWORD}).start()
    # One gunicorn worker and no delivery worker: one process, so one line per transition.
    api = ApiServer(
        server_env(redis_server.url, tmp_path / "outbox.jsonl"), workers=1, options=("--no-worker",)
    )
    log_path = tmp_path / "server.log"
    address = f"Redis at 127.0.0.1:{redis_server.port}"

    def log() -> str:
        return log_path.read_text(encoding="utf-8")

    def calls() -> list[int]:
        return [
            requests.get(
                f"{api.url}/v2/Services", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10
            ).status_code
            for _ in range(REQUESTS_PER_PHASE)
        ]

    try:
        api.start(log_path)
        assert set(calls()) == {200}
        redis_server.stop()
        assert set(calls()) == {503}
        eventually(lambda: f"{address} is unreachable" in log(), "no line says Redis is down")
        redis_server.start()
        eventually(lambda: 200 in calls(), "the server did not recover")
        eventually(lambda: f"{address} is reachable again" in log(), "no line says it is back")
        assert set(calls()) == {200}
    finally:
        api.stop()
        redis_server.remove()
    text = log()
    assert text.count(f"{address} is unreachable") == 1
    assert text.count(f"{address} is reachable again") == 1
    assert PASSWORD not in text

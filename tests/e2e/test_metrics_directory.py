"""`serve` with metrics on and no VERIFY_METRICS_DIR: gunicorn's workers share a directory
`serve` makes under TMPDIR (the only place written: the root filesystem may be read-only),
removed when `serve` exits."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import server_env
from tests.support.delivery_processes import ServeProcess
from tests.support.processes import RedisServer
from tests.support.prometheus_text import value

pytestmark = pytest.mark.e2e

TOKEN = "metrics-directory-token-0123456789"


def test_serve_makes_its_metrics_directory_under_tmpdir_and_removes_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {
        **server_env(redis_server.url, tmp_path / "outbox.jsonl"),
        "VERIFY_REDIS_KEY_PREFIX": "mdir",
        "VERIFY_METRICS_TOKEN": TOKEN,
        "TMPDIR": str(tmpdir),
    }
    server = ServeProcess(env, workers=2, with_worker=False).start(tmp_path / "serve.log")
    try:
        for _ in range(4):
            assert requests.get(f"{server.url}/healthz", timeout=5).ok
        scraped = requests.get(
            f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
        )
        assert scraped.status_code == 200
        # The scrape itself is counted after it answers: the four probes at least.
        assert value(scraped.text, "verify_http_requests_total", route="/healthz") >= 4
        (directory,) = tmpdir.glob("verify-metrics-*")
        assert list(directory.glob("*.db"))
    finally:
        server.stop()
    assert list(tmpdir.iterdir()) == []

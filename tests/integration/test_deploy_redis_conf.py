"""deploy/redis/redis.conf, the Redis of deploy/compose.yaml, run by a real redis-server: it
loads, keeps what it is given (noeviction, AOF), refuses the commands it renames away, and
the service starts on it without a warning and is ready."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.e2e.conftest import server_env
from tests.support.deploy_files import DEPLOY
from tests.support.processes import ApiServer, free_port, wait_until
from tests.support.redis_binary import redis_server_binary

PASSWORD = "deploy-test-password"
OVERRIDES = ("--bind", "127.0.0.1", "--requirepass", PASSWORD, "--daemonize", "no")


@pytest.fixture(scope="module")
def deployed_redis() -> Iterator[int]:
    """redis-server with the file as written; only what a test on this machine must change
    (port, address, data folder, the password Compose gives from a secret) on the command
    line after it, as compose.yaml adds the password."""
    binary = redis_server_binary()
    if binary.version < (7, 0, 0):
        pytest.skip(f"redis.conf is for Redis 7 (compose.yaml runs 7.4); {binary.describe()}")
    folder = tempfile.mkdtemp(prefix="deploy-redis-")
    port = free_port()
    process = subprocess.Popen(
        [binary.path, str(DEPLOY / "redis" / "redis.conf"), *OVERRIDES, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        cwd=folder,  # the image's working directory, /data, in compose.yaml
    )
    client = redis.Redis(port=port, password=PASSWORD)
    try:
        wait_until(client.ping, "redis-server with deploy/redis/redis.conf")
        yield port
    finally:
        client.close()
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_deployed_redis_keeps_what_it_is_given(deployed_redis: int) -> None:
    client = redis.Redis(port=deployed_redis, password=PASSWORD, decode_responses=True)
    assert client.info("memory")["maxmemory_policy"] == "noeviction"
    assert client.info("persistence")["aof_enabled"] == 1
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    with pytest.raises(redis.ResponseError, match="unknown command"):
        client.execute_command("FLUSHALL")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=deployed_redis).ping()
    client.close()


def test_the_service_starts_on_it_without_a_warning(deployed_redis: int, tmp_path: Path) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{deployed_redis}/0"
    server = ApiServer(
        server_env(url, tmp_path / "outbox.jsonl"), workers=1, options=("--no-worker",)
    )
    try:
        server.start(tmp_path / "server.log")
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text(encoding="utf-8")
    assert "appendonly" not in log
    assert "evict" not in log

"""A local Redis Cluster (three masters, three replicas) started once per session, two
`serve` processes and one `verify-service worker` on it, and an outbox reader: the fixtures
the cluster specs share. Each test starts on flushed masters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from twilio.rest import Client

from tests.e2e.conftest import server_env, twilio_client
from tests.support.delivery_processes import ServeProcess, WorkerProcess
from tests.support.outbox import Outbox
from tests.support.redis_cluster import RedisCluster
from verify_service.adapters.redis_connection import connect


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    cluster = RedisCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def cluster_outbox_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cluster-outbox") / "outbox.jsonl"


@pytest.fixture(scope="session")
def cluster_env(redis_cluster: RedisCluster, cluster_outbox_path: Path) -> dict[str, str]:
    return server_env(redis_cluster.url, cluster_outbox_path)


@pytest.fixture(scope="session")
def cluster_servers(
    cluster_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServeProcess]]:
    """Two `serve` processes sharing nothing but the cluster, and a separate worker."""
    logs = tmp_path_factory.mktemp("cluster-logs")
    servers: list[ServeProcess] = []
    worker = WorkerProcess(cluster_env)
    try:
        for index in range(2):
            server = ServeProcess(cluster_env, workers=2, with_worker=False)
            servers.append(server)
            server.start(logs / f"serve-{index}.log")
        worker.start(logs / "worker.log")
        yield servers
    finally:
        worker.stop()
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def cluster_client(redis_cluster: RedisCluster) -> Iterator[redis.Redis]:
    """The service's own cluster client (adapters/redis_connection.py)."""
    client = connect(redis_cluster.url, 5.0)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def fresh_cluster(redis_cluster: RedisCluster) -> RedisCluster:
    redis_cluster.flush()
    return redis_cluster


@pytest.fixture
def cluster_outbox(
    cluster_outbox_path: Path, cluster_client: redis.Redis, fresh_cluster: RedisCluster
) -> Outbox:
    return Outbox(cluster_outbox_path, cluster_client)


@pytest.fixture
def cluster_twilio(cluster_servers: list[ServeProcess], fresh_cluster: RedisCluster) -> Client:
    """The SDK on the first server, on flushed masters."""
    return twilio_client(cluster_servers[0].url)

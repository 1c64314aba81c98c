"""The Sentinel group (tests/support/redis_sentinel_group.py), started once per session, and
a `serve` on its `redis+sentinel://` URL, shaped like the end-to-end fixtures (`api_server`,
`twilio`, `outbox`) so the same specs run on either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from twilio.rest import Client

from tests.e2e.conftest import server_env, twilio_client
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer
from tests.support.redis_sentinel_group import SentinelGroup
from verify_service.adapters.redis_connection import connect


@pytest.fixture(scope="session")
def sentinel_group() -> Iterator[SentinelGroup]:
    group = SentinelGroup().start()
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture(scope="session")
def sentinel_outbox_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sentinel-outbox") / "outbox.jsonl"


@pytest.fixture(scope="session")
def sentinel_server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where `sentinel_api_server` writes its log (its workers' and delivery worker's too)."""
    return tmp_path_factory.mktemp("sentinel-logs") / "server.log"


@pytest.fixture(scope="session")
def sentinel_api_server(
    sentinel_group: SentinelGroup, sentinel_outbox_path: Path, sentinel_server_log: Path
) -> Iterator[ApiServer]:
    """`serve` (gunicorn, two workers, a delivery worker) on the Sentinel URL."""
    server = ApiServer(server_env(sentinel_group.url, sentinel_outbox_path), workers=2)
    try:
        server.start(sentinel_server_log)
        yield server
    finally:
        server.stop()


@pytest.fixture
def sentinel_redis(sentinel_group: SentinelGroup) -> Iterator[redis.Redis]:
    """A client on the group's master (found through the sentinels), flushed first."""
    client = connect(sentinel_group.url, 2.0)
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def sentinel_twilio(sentinel_api_server: ApiServer, sentinel_redis: redis.Redis) -> Client:
    """The official SDK on the Sentinel-backed server, on a flushed master."""
    return twilio_client(sentinel_api_server.url)


@pytest.fixture
def sentinel_outbox(sentinel_outbox_path: Path, sentinel_redis: redis.Redis) -> Outbox:
    return Outbox(sentinel_outbox_path, sentinel_redis)


@pytest.fixture
def sentinel_service_sid(sentinel_twilio: Client) -> str:
    """A new service (Twilio's defaults) on the Sentinel-backed server."""
    sid: str = sentinel_twilio.verify.v2.services.create(friendly_name="Acme").sid
    return sid

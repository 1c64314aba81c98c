"""Builds the Redis client: a real server from a URL, a Sentinel group's master
(`redis+sentinel://`), a Redis Cluster (`redis+cluster://`), or the embedded in-process
store."""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from verify_service.adapters import redis_sentinel
from verify_service.adapters.redis_cluster import CLUSTER_SCHEMES, cluster_address, connect_cluster

log = logging.getLogger(__name__)


def connect(url: str, timeout_seconds: float) -> redis.Redis:
    """A client that fails fast: no transparent retries, so a timed-out script is never
    sent twice, and an outage becomes a 503 at once. The pool reconnects by itself, and
    each change of Redis's availability is logged once (`Availability`)."""
    scheme = urlsplit(url).scheme
    if scheme == redis_sentinel.SCHEME:
        return connect_sentinel(url, timeout_seconds)
    if scheme in CLUSTER_SCHEMES:
        return connect_cluster(url, timeout_seconds, Availability)
    return connect_server(url, timeout_seconds)


def connect_server(url: str, timeout_seconds: float) -> redis.Redis:
    """One Redis server (redis://, rediss://, unix://)."""
    client = redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )
    pool = client.connection_pool
    pool.connection_class = _tracked(pool.connection_class, Availability(redis_address(client)))
    return client


def connect_sentinel(url: str, timeout_seconds: float) -> redis.Redis:
    """The master a Sentinel group names (`redis+sentinel://`, redis_sentinel.py), with the
    same fail-fast options; found again through the sentinels after a failover."""
    target = redis_sentinel.parse_sentinel_url(url)
    options: dict[str, Any] = {
        "socket_timeout": timeout_seconds,
        "socket_connect_timeout": timeout_seconds,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 30,
    }
    return redis_sentinel.master_client(target, options, Availability(target.describe()))


def redis_address(client: redis.Redis) -> str:
    """Where `client` connects, as `host:port` (or a socket path, a Sentinel master, a
    cluster's nodes): never a user or password."""
    managed = redis_sentinel.sentinel_address(client) or cluster_address(client)
    if managed is not None:
        return managed
    options = client.connection_pool.connection_kwargs
    if "path" in options:
        return str(options["path"])
    host = str(options.get("host", "localhost"))
    return (
        f"[{host}]:{options.get('port', 6379)}"
        if ":" in host
        else f"{host}:{options.get('port', 6379)}"
    )


class Availability:
    """Whether this process last reached Redis; logs each change once (down, back), naming
    the address, so an outage is one line and not one per request."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._reachable: bool | None = None  # unknown until the first connection
        self._lock = threading.Lock()

    def connected(self) -> None:
        with self._lock:
            was, self._reachable = self._reachable, True
        if was is False:
            log.warning("Redis at %s is reachable again", self.address)

    def failed(self, error: Exception) -> None:
        with self._lock:
            was, self._reachable = self._reachable, False
        if was is not False:
            log.error(
                "Redis at %s is unreachable (%s: %s); requests are answered 503 until it is back",
                self.address,
                type(error).__name__,
                error,
            )


def _tracked(base: type[Any], availability: Availability) -> type[Any]:
    """`base` (the pool's connection class: TCP, TLS or Unix socket) reporting each new
    connection's outcome to `availability`."""

    class TrackedConnection(base):  # type: ignore[misc]
        def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
            if self._sock:  # already connected: nothing new to learn
                return
            try:
                super().connect_check_health(*args, **kwargs)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                availability.failed(exc)
                raise
            availability.connected()

    TrackedConnection.__name__ = f"Tracked{base.__name__}"
    return TrackedConnection


def embedded() -> redis.Redis:
    """An in-process Redis (fakeredis with Lua) running the same scripts; state dies with
    the process."""
    import fakeredis  # noqa: PLC0415 - only the embedded mode needs it

    client: redis.Redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return client

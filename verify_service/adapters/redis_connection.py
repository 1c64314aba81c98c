"""Builds the Redis client: a real server from a URL, or the embedded in-process store."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def connect(url: str, timeout_seconds: float) -> redis.Redis:
    """A client that fails fast: no transparent retries, so a timed-out script is never
    sent twice, and an outage becomes a 503 at once. The pool reconnects by itself."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


def embedded() -> redis.Redis:
    """An in-process Redis (fakeredis with Lua) running the same scripts; state dies with
    the process."""
    import fakeredis  # noqa: PLC0415 - only the embedded mode needs it

    client: redis.Redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return client

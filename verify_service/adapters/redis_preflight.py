"""The checks `serve` and `worker` make before they start: Redis answers, and keeps what it
is given (adapters/redis_durability.py). A failed check stops the start with a message that
names the Redis address (never a password). On a Redis Cluster every node is checked, replicas
included (a replica is a primary after a failover)."""

from __future__ import annotations

import logging

import redis

from verify_service.adapters.redis_cluster import node_clients
from verify_service.adapters.redis_connection import redis_address
from verify_service.adapters.redis_durability import REQUIRED_EVICTION_POLICY, Durability, Unfit

log = logging.getLogger(__name__)


class RedisNotUsable(Exception):
    """Redis cannot be reached, or would not keep the service's state."""


def check_redis(client: redis.Redis, *, allow_eviction: bool) -> None:
    """Raise RedisNotUsable with the reason; log a warning when persistence is off."""
    try:
        nodes = node_clients(client)
    except redis.RedisError as exc:
        raise RedisNotUsable(
            f"cannot reach Redis at {_safe_address(client)} ({type(exc).__name__}: {exc}); "
            f"check VERIFY_REDIS_URL and that redis-server is running"
        ) from None
    for node in nodes:
        _check_server(node, allow_eviction=allow_eviction)


def _safe_address(client: redis.Redis) -> str:
    try:
        return redis_address(client)
    except redis.RedisError:
        return "the address in VERIFY_REDIS_URL"


def _check_server(client: redis.Redis, *, allow_eviction: bool) -> None:
    address = redis_address(client)
    try:
        client.ping()
        durability = Durability.read(client)
    except redis.AuthenticationError:
        raise RedisNotUsable(
            f"Redis at {address} refused the credentials in VERIFY_REDIS_URL"
        ) from None
    except redis.RedisError as exc:
        raise RedisNotUsable(
            f"cannot reach Redis at {address} ({type(exc).__name__}: {exc}); "
            f"check VERIFY_REDIS_URL and that redis-server is running"
        ) from None
    problem = durability.eviction_problem(address, allow_eviction)
    if problem is not None:
        raise RedisNotUsable(problem.detail)
    if durability.eviction_policy != REQUIRED_EVICTION_POLICY:
        log.warning(
            "Redis at %s may evict keys (maxmemory-policy %s): allowed by "
            "VERIFY_ALLOW_REDIS_EVICTION=true",
            address,
            durability.eviction_policy or "not reported",
        )
    warning = durability.persistence_warning(address)
    if warning is not None:
        log.warning("%s", warning, extra={"event": "redis_not_durable"})


def readiness_problem(client: redis.Redis, *, allow_eviction: bool) -> Unfit | None:
    """What makes this Redis (any node of a cluster) unfit right now, for `/readyz` (None:
    ready). Raises the client's error when Redis cannot be reached."""
    for node in node_clients(client):
        problem = Durability.read(node).eviction_problem(redis_address(node), allow_eviction)
        if problem is not None:
            return problem
    return None

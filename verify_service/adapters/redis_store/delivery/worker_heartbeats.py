"""Workers' heartbeats in Redis (`OutboxKeys.worker_heartbeats`, one sorted set), timed by
Redis's own clock, so that workers and API processes on hosts whose clocks differ agree on
what "live" means."""

from __future__ import annotations

from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.scripts import ScriptBook

# A worker whose last beat is older than this is not live (three missed beats of
# application/delivery/supervision.py's HEARTBEAT_INTERVAL_S).
LIVE_FOR_MS = 15_000
# A worker silent this long is removed from the set (by any worker's next beat).
FORGET_AFTER_MS = 600_000


def redis_time_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


class RedisWorkerHeartbeats:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, key: str) -> None:
        self._client = client
        self._scripts = scripts
        self._key = key

    @fail_closed
    def beat(self, worker: str) -> int:
        """Record that `worker` is alive now; returns the beat's time (Redis, ms)."""
        now_ms = redis_time_ms(self._client)
        self._scripts.run(
            self._client, "record_worker_heartbeat", [self._key], [worker, now_ms, FORGET_AFTER_MS]
        )
        return now_ms

    @fail_closed
    def leave(self, worker: str) -> None:
        """`worker` stopped on purpose: no longer counted live."""
        self._client.zrem(self._key, worker)

    @fail_closed
    def live_workers(self, now_ms: int) -> list[str]:
        """The workers whose last beat is younger than LIVE_FOR_MS at `now_ms` (Redis ms)."""
        found: Any = self._client.zrangebyscore(self._key, f"({now_ms - LIVE_FOR_MS}", "+inf")
        return [name.decode() if isinstance(name, bytes) else str(name) for name in found]

    @fail_closed
    def now_ms(self) -> int:
        return redis_time_ms(self._client)

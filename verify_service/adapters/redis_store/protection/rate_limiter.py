"""Rate limiting, the one module that talks to the `limits` library.

Every limit is a `limits` moving window (`MovingWindowRateLimiter` semantics and its Redis
data: one list of event timestamps per key, newest first, trimmed to Max), keyed by
`RateLimitItem.key_for` under this deployment's prefix (`<VERIFY_REDIS_KEY_PREFIX>:rl:`).

Two things differ from calling the strategy once per limit:
- time comes from the service's `Clock`, passed to the library's scripts as they expect
  (they take the timestamp as an argument), so tests move windows without sleeping;
- a start checks up to a dozen limits, so the library's own acquire and window scripts run
  by our `ScriptBook`, batched in one pipeline: one round trip however many limits apply
  (issue 4 allows one extra round trip per start). Each script is atomic on its own key, so
  N concurrent hits on a limit of Max M admit exactly M.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import redis
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from verify_service.adapters.redis_cluster import is_cluster
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.ports import Clock
from verify_service.application.protection.ports import LimitOutcome, WindowCount, WindowLimit

ACQUIRE = "limits_acquire_moving_window"
WINDOW = "limits_moving_window"
RELEASE = "release_moving_window_entry"  # ours: the library has no "take back"
NAMESPACE = "limit"


class _ClockedRedisStorage(RedisStorage):
    """`limits`' Redis storage on our client, reading time from the service's clock."""

    def __init__(self, client: redis.Redis, key_prefix: str, clock: Clock) -> None:
        # A cluster client has no one pool: the library's client is replaced just below.
        pool = None if is_cluster(client) else client.connection_pool
        super().__init__("redis://", connection_pool=pool, key_prefix=key_prefix)
        self.storage = client
        self.initialize_storage("redis://")
        self._clock = clock

    def _now(self) -> float:
        return self._clock.now_ms() / 1000

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        acquired = self.lua_acquire_moving_window(
            [self.prefixed_key(key)], [self._now(), limit, expiry, amount]
        )
        return bool(acquired)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self._now()
        window = self.lua_moving_window([self.prefixed_key(key)], [now - expiry, limit])
        if window:
            return float(window[0]), int(window[1])
        return now, 0


def _item(limit: WindowLimit) -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(limit.max, limit.interval_seconds, namespace=NAMESPACE)


class LimitsRateLimiter:
    """`RateLimiter` over Redis with the `limits` library's moving windows."""

    def __init__(
        self, client: redis.Redis, scripts: ScriptBook, key_prefix: str, clock: Clock
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._clock = clock
        self._storage = _ClockedRedisStorage(client, f"{key_prefix}:rl", clock)
        self._strategy = MovingWindowRateLimiter(self._storage)  # reads and clears
        scripts.adopt(ACQUIRE, RedisStorage.SCRIPT_ACQUIRE_MOVING_WINDOW)
        scripts.adopt(WINDOW, RedisStorage.SCRIPT_MOVING_WINDOW)

    def key(self, limit: WindowLimit) -> str:
        return self._storage.prefixed_key(_item(limit).key_for(*limit.scope))

    @fail_closed
    def hit(
        self, limits: Sequence[WindowLimit], reads: Sequence[WindowCount], now_ms: int
    ) -> LimitOutcome:
        if not limits and not reads:
            return LimitOutcome()
        now = now_ms / 1000
        acquire, window = self._scripts.sha(ACQUIRE), self._scripts.sha(WINDOW)

        def build(pipe: Any) -> None:
            for limit in limits:
                pipe.evalsha(acquire, 1, self.key(limit), now, limit.max, limit.interval_seconds, 1)
            for read in reads:
                pipe.evalsha(window, 1, self.key(read.window), now - read.seconds, read.window.max)

        results = self._scripts.run_pipeline(self._client, build)
        refused = next(
            (
                limit
                for limit, acquired in zip(limits, results, strict=False)
                if limit.enforced and not acquired
            ),
            None,
        )
        counts = tuple(int(reply[1]) if reply else 0 for reply in results[len(limits) :])
        if refused is None:
            return LimitOutcome(None, 0, counts)
        admitted = [limit for limit, acquired in zip(limits, results, strict=False) if acquired]
        return LimitOutcome(refused, self._refuse(refused, admitted, now), counts)

    def _refuse(self, refused: WindowLimit, admitted: list[WindowLimit], now: float) -> int:
        """After a refusal, in one more round trip: take back this start's event from every
        window that admitted it (a refused start is not a send, and must not spend a daily
        cap or feed Fraud Guard), and read when the refusing window frees (Retry-After)."""
        release = self._scripts.sha(RELEASE)

        def build(pipe: Any) -> None:
            for limit in admitted:
                pipe.evalsha(release, 1, self.key(limit), now)
            pipe.lindex(self.key(refused), refused.max - 1)

        oldest = self._scripts.run_pipeline(self._client, build)[-1]
        if oldest is None:
            return 1
        # The script refuses while the oldest event is >= now - interval: it frees one
        # moment after `oldest + interval`.
        return max(1, math.floor(float(oldest) + refused.interval_seconds - now) + 1)

    @fail_closed
    def release(self, limit: WindowLimit, now_ms: int) -> None:
        self._scripts.run(self._client, RELEASE, [self.key(limit)], [str(now_ms / 1000)])

    @fail_closed
    def clear(self, limit: WindowLimit) -> None:
        self._strategy.clear(_item(limit), *limit.scope)

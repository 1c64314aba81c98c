"""Rate limiting: exact moving windows and Fraud Guard's tallies, batched in one round trip.

Every limit is a moving window with `limits`' semantics (`MovingWindowRateLimiter`: at most
Max events in any `interval`, an event exactly `interval` old still counting), in one of two
layouts by its size (docs/abuse-protection.md, docs/performance.md):
- **small** (every limit on the scope at most `SMALL_WINDOW_MAX` events, as the defaults per
  destination): one string of event times per *scope*, shared by all the limits on it (sends
  per destination per hour and per day are one key), counted by `hit_small_window.lua` in
  one step: about a third of the memory and commands of a list per limit;
- **large** (service-wide limits, a bucket of Max 1 000): `limits`' own list of timestamps per
  limit (`RateLimitItem.key_for`, its acquire and window scripts).
Fraud Guard's tallies are bucketed counters (`count_fraud_guard.lua`), not windows.

Two things differ from calling the `limits` strategy once per limit: time comes from the
service's `Clock` (tests move windows without sleeping), and the scripts run by our
`ScriptBook`, batched in one pipeline: one round trip however many limits apply. Each script
is atomic on its own key, so N concurrent hits on a limit of Max M admit exactly M.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import redis
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from verify_service.adapters.redis_cluster import is_cluster
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import FraudGuardKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.ports import Clock
from verify_service.application.protection.ports import (
    LimitOutcome,
    TallyHit,
    WindowCount,
    WindowLimit,
)

ACQUIRE = "limits_acquire_moving_window"
WINDOW = "limits_moving_window"
RELEASE = "release_moving_window_entry"  # ours: the library has no "take back"
SMALL = "hit_small_window"
TALLY = "count_fraud_guard"
NAMESPACE = "limit"
# A scope whose limits all allow at most this many events is one small string; a string
# of 64 times is ~900 bytes, parsed whole by each hit (a list is read by index instead).
SMALL_WINDOW_MAX = 64
# The masked destinations a Fraud Guard trip shows (the prefix's last ones).
RECENT_DESTINATIONS = 10
# Fraud Guard's buckets: at least half the approval grace, and at most ~60 per window, so a
# tally stays a small hash (listpack) whatever the window (600 s to a day).
MIN_TALLY_BUCKET_MS = 60_000
TALLY_BUCKETS_PER_WINDOW = 60
# What `take_back` passes as the refused limit: no window is read.
_NO_LIMIT = WindowLimit("", (), 0, 0)


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


def tally_bucket_ms(window_seconds: int) -> int:
    return max(MIN_TALLY_BUCKET_MS, -(-window_seconds * 1000 // TALLY_BUCKETS_PER_WINDOW))


def tally_arguments(
    tally: TallyHit, now_ms: int, sends: int, approvals: int, take_back: bool = False
) -> list[Any]:
    """ARGV of count_fraud_guard.lua (`take_back`: the start's send and note)."""
    return [
        now_ms,
        tally.window_seconds * 1000,
        tally.grace_seconds * 1000,
        tally_bucket_ms(tally.window_seconds),
        sends,
        approvals,
        tally.masked_destination,
        RECENT_DESTINATIONS,
        "1" if take_back else "0",
    ]


def _small_args(group: Sequence[WindowLimit], now_ms: int) -> list[Any]:
    """ARGV of hit_small_window.lua's 'hit' for the limits of one scope."""
    args: list[Any] = [
        now_ms,
        "hit",
        max(limit.max for limit in group),
        max(limit.interval_seconds for limit in group) * 1000,
    ]
    for limit in group:
        args += [limit.max, limit.interval_seconds * 1000, int(limit.enforced)]
    return args


def _small_refusal(
    group: Sequence[WindowLimit], reply: Any, now_ms: int
) -> tuple[WindowLimit, int] | None:
    """The limit that refused, and its Retry-After, from hit_small_window.lua's reply."""
    index = int(reply[0])
    if index == 0:
        return None
    limit = group[index - 1]
    return limit, _retry_after(int(reply[1]) / 1000, limit.interval_seconds, now_ms / 1000)


def _retry_after(oldest_s: float, interval_seconds: int, now_s: float) -> int:
    """A window refuses while its Max-th newest event is >= now - interval: it frees one
    moment after `oldest + interval`."""
    return max(1, math.floor(oldest_s + interval_seconds - now_s) + 1)


class LimitsRateLimiter:
    """`RateLimiter` over Redis: small windows as strings, large ones as `limits`' lists."""

    def __init__(
        self, client: redis.Redis, scripts: ScriptBook, key_prefix: str, clock: Clock
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._clock = clock
        self._prefix = key_prefix
        self._fraud_guard_keys = FraudGuardKeys(key_prefix)
        self._storage = _ClockedRedisStorage(client, f"{key_prefix}:rl", clock)
        self._strategy = MovingWindowRateLimiter(self._storage)  # clears large windows
        scripts.adopt(ACQUIRE, RedisStorage.SCRIPT_ACQUIRE_MOVING_WINDOW)
        scripts.adopt(WINDOW, RedisStorage.SCRIPT_MOVING_WINDOW)

    def key(self, limit: WindowLimit) -> str:
        """A large window's key (`limits`' own name for it)."""
        return self._storage.prefixed_key(_item(limit).key_for(*limit.scope))

    def scope_key(self, scope: Sequence[str]) -> str:
        """A small window's key: its scope (sids and keyed digests, never a raw value), one
        hash tag, so it is one slot on a cluster."""
        return f"{self._prefix}:w:{{{'/'.join(scope)}}}"

    def _groups(
        self, limits: Sequence[WindowLimit]
    ) -> tuple[dict[tuple[str, ...], list[WindowLimit]], list[WindowLimit]]:
        """The limits by scope (small windows) and the large ones."""
        by_scope: dict[tuple[str, ...], list[WindowLimit]] = {}
        for limit in limits:
            by_scope.setdefault(limit.scope, []).append(limit)
        small = {
            scope: group
            for scope, group in by_scope.items()
            if all(limit.max <= SMALL_WINDOW_MAX for limit in group)
        }
        large = [limit for limit in limits if limit.scope not in small]
        return small, large

    @fail_closed
    def hit(
        self,
        limits: Sequence[WindowLimit],
        reads: Sequence[WindowCount],
        now_ms: int,
        tally: TallyHit | None = None,
    ) -> LimitOutcome:
        if not limits and not reads and tally is None:
            return LimitOutcome()
        finish: list[Callable[[Iterator[Any]], LimitOutcome]] = []

        def build(pipe: Any) -> None:
            finish.append(self.queue(pipe, limits, reads, now_ms, tally))

        replies = self._scripts.run_pipeline(self._client, build)
        return finish[0](iter(replies))

    def queue(
        self,
        pipe: Any,
        limits: Sequence[WindowLimit],
        reads: Sequence[WindowCount],
        now_ms: int,
        tally: TallyHit | None = None,
    ) -> Callable[[Iterator[Any]], LimitOutcome]:
        """Queue `hit` in a caller's pipeline (a start's first read); the function returned
        takes the pipeline's replies from that point and answers what `hit` would (taking
        back, in one more round trip, what a refused request counted)."""
        now_ms = int(now_ms)
        now = now_ms / 1000
        small, large = self._groups(limits)
        acquire, window = self._scripts.sha(ACQUIRE), self._scripts.sha(WINDOW)
        small_sha, tally_sha = self._scripts.sha(SMALL), self._scripts.sha(TALLY)
        tally_key = self._fraud_guard_keys.tally(tally.service_sid, tally.prefix) if tally else ""
        for scope, group in small.items():
            pipe.evalsha(small_sha, 1, self.scope_key(scope), *_small_args(group, now_ms))
        for limit in large:
            pipe.evalsha(acquire, 1, self.key(limit), now, limit.max, limit.interval_seconds, 1)
        for read in reads:
            if read.window.scope in small or read.window.max <= SMALL_WINDOW_MAX:
                pipe.evalsha(
                    small_sha,
                    1,
                    self.scope_key(read.window.scope),
                    now_ms,
                    "count",
                    read.seconds * 1000,
                )
            else:
                key = self.key(read.window)
                pipe.evalsha(window, 1, key, now - read.seconds, read.window.max)
        if tally is not None:
            pipe.evalsha(
                tally_sha,
                1,
                tally_key,
                *tally_arguments(tally, now_ms, tally.sends, tally.approvals),
            )

        def finish(results: Iterator[Any]) -> LimitOutcome:
            return self._outcome(limits, reads, now_ms, tally, small, large, results)

        return finish

    def _outcome(
        self,
        limits: Sequence[WindowLimit],
        reads: Sequence[WindowCount],
        now_ms: int,
        tally: TallyHit | None,
        small: dict[tuple[str, ...], list[WindowLimit]],
        large: list[WindowLimit],
        results: Iterator[Any],
    ) -> LimitOutcome:
        refusals: dict[WindowLimit, int] = {}  # refused limit -> Retry-After
        admitted_scopes: list[tuple[str, ...]] = []
        for scope, group in small.items():
            reply = next(results)
            refusal = _small_refusal(group, reply, now_ms)
            if refusal is None:
                admitted_scopes.append(scope)
            else:
                refusals[refusal[0]] = refusal[1]
        admitted_large: list[WindowLimit] = []
        for limit in large:
            reply = next(results)
            if reply:
                admitted_large.append(limit)
            elif limit.enforced:
                refusals[limit] = 0  # read below
        counts: list[int] = []
        for _read in reads:
            reply = next(results)
            counts.append(int(reply[1]) if isinstance(reply, list) and reply else int(reply or 0))
        if tally is not None:
            reply = next(results)
            counts += [int(value) for value in reply]
        refused = next((limit for limit in limits if limit in refusals), None)
        if refused is None:
            return LimitOutcome(None, 0, tuple(counts))
        retry = self._take_back(
            refused,
            refusals[refused],
            admitted_scopes,
            admitted_large,
            tally if tally is not None and (tally.sends > 0 or tally.masked_destination) else None,
            now_ms,
        )
        return LimitOutcome(refused, retry, tuple(counts))

    @fail_closed
    def take_back(self, limits: Sequence[WindowLimit], tally: TallyHit | None, now_ms: int) -> None:
        """Take back everything an admitted `hit(limits, [], now_ms, tally)` counted (the
        request was refused afterwards), in one round trip."""
        small, large = self._groups(limits)
        if tally is not None and tally.sends <= 0 and not tally.masked_destination:
            tally = None
        if not small and not large and tally is None:
            return
        self._take_back(_NO_LIMIT, 1, list(small), large, tally, now_ms)

    def _take_back(
        self,
        refused: WindowLimit,
        retry_after: int,
        scopes: list[tuple[str, ...]],
        large: list[WindowLimit],
        tally: TallyHit | None,
        now_ms: int,
    ) -> int:
        """After a refusal, in one more round trip: take back this request's event from
        every window that admitted it (a refused start is not a send, and must not spend a
        daily cap or feed Fraud Guard), and read when a refusing large window frees."""
        now = now_ms / 1000
        release, small_sha = self._scripts.sha(RELEASE), self._scripts.sha(SMALL)
        read_large = retry_after == 0

        def build(pipe: Any) -> None:
            for scope in scopes:
                pipe.evalsha(small_sha, 1, self.scope_key(scope), now_ms, "release")
            for limit in large:
                pipe.evalsha(release, 1, self.key(limit), now)
            if tally is not None:  # its send, and its note among the recent destinations
                key = self._fraud_guard_keys.tally(tally.service_sid, tally.prefix)
                pipe.evalsha(
                    self._scripts.sha(TALLY),
                    1,
                    key,
                    *tally_arguments(tally, now_ms, -tally.sends, 0, take_back=True),
                )
            if read_large:
                pipe.lindex(self.key(refused), refused.max - 1)

        if not scopes and not large and tally is None and not read_large:
            return retry_after
        replies = self._scripts.run_pipeline(self._client, build)
        if not read_large:
            return retry_after
        oldest = replies[-1]
        if oldest is None:
            return 1
        return _retry_after(float(oldest), refused.interval_seconds, now)

    # -- one small limit, in a caller's pipeline (a check's, with its reservation) ---------

    def can_queue(self, limit: WindowLimit) -> bool:
        return limit.max <= SMALL_WINDOW_MAX

    def queue_hit(self, pipe: Any, limit: WindowLimit, now_ms: int) -> None:
        """Queue `hit([limit], [], now_ms)` of a small limit in a caller's pipeline."""
        now_ms = int(now_ms)
        pipe.evalsha(
            self._scripts.sha(SMALL), 1, self.scope_key(limit.scope), *_small_args([limit], now_ms)
        )

    def queued_outcome(self, limit: WindowLimit, reply: Any, now_ms: int) -> LimitOutcome:
        """What `hit` would have answered, from the queued script's reply (a refused hit
        counted nothing: nothing to take back)."""
        refusal = _small_refusal([limit], reply, int(now_ms))
        if refusal is None:
            return LimitOutcome()
        return LimitOutcome(refusal[0], refusal[1])

    @fail_closed
    def release(self, limit: WindowLimit, now_ms: int) -> None:
        now_ms = int(now_ms)
        if limit.max <= SMALL_WINDOW_MAX:
            self._scripts.run(
                self._client, SMALL, [self.scope_key(limit.scope)], [now_ms, "release"]
            )
        else:
            self._scripts.run(self._client, RELEASE, [self.key(limit)], [str(now_ms / 1000)])

    @fail_closed
    def clear(self, limit: WindowLimit) -> None:
        self._client.delete(self.scope_key(limit.scope))
        self._strategy.clear(_item(limit), *limit.scope)

    @fail_closed
    def forget_tally(self, service_sid: str, prefix: str) -> None:
        self._client.delete(self._fraud_guard_keys.tally(service_sid, prefix))

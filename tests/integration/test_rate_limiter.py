"""The rate limiter on a real Redis: exact moving windows (small ones as one string per scope,
large ones as `limits`' lists), Fraud Guard's bucketed tallies, batched in one round trip,
exact under concurrency, timed by the injected clock, failing closed."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

from tests.integration.test_store_scripts import run_concurrently
from tests.support.fakes import FixedClock
from verify_service.adapters.redis_store.protection.rate_limiter import LimitsRateLimiter
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.protection.ports import TallyHit, WindowCount, WindowLimit
from verify_service.domain.errors import StoreUnavailable


@pytest.fixture
def limiter(redis_client: redis.Redis, clock: FixedClock) -> LimitsRateLimiter:
    return LimitsRateLimiter(redis_client, ScriptBook(), "it", clock)


def per_minute(maximum: int, *scope: str) -> WindowLimit:
    return WindowLimit("Test", ("VA1", *scope), maximum, 60)


def test_a_limit_admits_max_events_per_window_then_refuses_with_the_time_it_frees(
    limiter: LimitsRateLimiter, clock: FixedClock
) -> None:
    limit = per_minute(3, "a")
    for _ in range(3):
        assert limiter.hit([limit], [], clock.now).refused is None
        clock.advance(10)  # events at t=0, 10, 20
    refused = limiter.hit([limit], [], clock.now)  # t=30
    assert refused.refused == limit
    assert refused.retry_after_seconds == 31  # the t=0 event leaves just after t=60
    clock.advance(30)
    assert limiter.hit([limit], [], clock.now).refused == limit  # a window includes its edge
    clock.advance(1)
    assert limiter.hit([limit], [], clock.now).refused is None  # at Retry-After: admitted
    assert limiter.hit([limit], [], clock.now).refused == limit


def test_the_window_moves_with_the_injected_clock_not_with_wall_time(
    limiter: LimitsRateLimiter, clock: FixedClock
) -> None:
    limit = per_minute(1, "b")
    assert limiter.hit([limit], [], clock.now).refused is None
    clock.advance(59.9)
    assert limiter.hit([limit], [], clock.now).refused == limit
    clock.advance(0.2)
    assert limiter.hit([limit], [], clock.now).refused is None


def test_scopes_are_counted_apart(limiter: LimitsRateLimiter, clock: FixedClock) -> None:
    assert limiter.hit([per_minute(1, "x")], [], clock.now).refused is None
    assert limiter.hit([per_minute(1, "y")], [], clock.now).refused is None
    assert limiter.hit([per_minute(1, "x")], [], clock.now).refused is not None


def test_n_concurrent_hits_on_a_limit_of_max_m_admit_exactly_m(
    limiter: LimitsRateLimiter, clock: FixedClock
) -> None:
    limit = per_minute(7, "race")
    other = WindowLimit("Other", ("VA1", "generous"), 1000, 60)
    outcomes = run_concurrently(40, lambda: limiter.hit([other, limit], [], clock.now))
    assert sum(outcome.refused is None for outcome in outcomes) == 7
    assert all(outcome.refused in (None, limit) for outcome in outcomes)


def test_a_refused_hit_counts_nowhere(limiter: LimitsRateLimiter, clock: FixedClock) -> None:
    tight, loose = per_minute(1, "tight"), per_minute(2, "loose")
    tally = WindowLimit("Tally", ("VA1", "tally"), 100, 60, enforced=False)
    limiter.hit([tight], [], clock.now)
    clock.advance(0.123)  # a timestamp with a fraction, as the wall clock gives
    for _ in range(3):
        assert limiter.hit([loose, tight, tally], [], clock.now).refused == tight
    read = limiter.hit([], [WindowCount(loose, 60), WindowCount(tally, 60)], clock.now)
    assert read.counts == (0, 0)  # the refused starts were taken back from both
    assert limiter.hit([loose], [], clock.now).refused is None
    assert limiter.hit([loose], [], clock.now).refused is None
    assert limiter.hit([loose], [], clock.now).refused == loose


def test_counting_windows_never_refuse_and_reads_count_a_trailing_span(
    limiter: LimitsRateLimiter, clock: FixedClock
) -> None:
    tally = WindowLimit("Tally", ("VA1", "t"), 2, 3600, enforced=False)
    for _ in range(4):
        assert limiter.hit([tally], [], clock.now).refused is None
        clock.advance(60)
    wide = WindowLimit("Tally", ("VA1", "u"), 100, 3600, enforced=False)
    for _ in range(5):
        limiter.hit([wide], [], clock.now)
        clock.advance(60)
    outcome = limiter.hit([], [WindowCount(wide, 3600), WindowCount(wide, 150)], clock.now)
    assert outcome.counts == (5, 2)


class CountingClient(redis.Redis):
    """Counts the round trips of the request path (the test's own thread): every command
    sent alone and every pipeline flush. A background thread's reads (the webhook directory's
    refresh, application/webhooks/directory.py) are off the request path and not counted."""

    round_trips = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            CountingClient.round_trips += 1
        return super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        original = pipe.execute

        def execute(raise_on_error: bool = True) -> Any:
            if threading.current_thread() is threading.main_thread():
                CountingClient.round_trips += 1
            return original(raise_on_error)

        pipe.execute = execute  # type: ignore[method-assign]
        return pipe


@pytest.fixture
def counting(redis_client: redis.Redis) -> CountingClient:
    return CountingClient(connection_pool=redis_client.connection_pool)


def test_a_dozen_limits_and_reads_cost_one_round_trip(
    counting: CountingClient, clock: FixedClock
) -> None:
    scripts = ScriptBook()
    limiter = LimitsRateLimiter(counting, scripts, "it", clock)
    limits = [per_minute(10, str(n)) for n in range(12)]
    limiter.hit(limits, [WindowCount(limits[0], 60)], clock.now)  # loads the scripts
    CountingClient.round_trips = 0
    limiter.hit(limits, [WindowCount(limits[0], 60)], clock.now)
    assert CountingClient.round_trips == 1


def test_keys_carry_the_deployment_prefix_and_no_raw_value(
    limiter: LimitsRateLimiter, redis_client: redis.Redis, clock: FixedClock
) -> None:
    limiter.hit([per_minute(2, "digest0123")], [], clock.now)
    limiter.hit([per_minute(1000, "digest4567")], [], clock.now)
    # This deployment's keys only: the suite's end-to-end server shares this Redis under its
    # own prefix, and its worker may write its event streams (`vs:{events:…}`) meanwhile.
    keys = sorted(key.decode() for key in redis_client.scan_iter("it:*"))
    assert not [
        key for key in redis_client.scan_iter("*") if b"digest" in key and b"it:" not in key
    ]
    # A small window is one string per scope, in one hash tag; a large one `limits`' list.
    assert keys == ["it:rl:limit/VA1/digest4567/1000/60/second", "it:w:{VA1/digest0123}"]
    assert [redis_client.ttl(key) for key in keys] == [60, 60]


def test_limits_on_one_scope_share_one_window_and_each_stays_exact(
    limiter: LimitsRateLimiter, redis_client: redis.Redis, clock: FixedClock
) -> None:
    """Sends per destination per hour and per day: one key, each limit refusing on its own."""
    hour = WindowLimit("Hour", ("VA1", "dest", "tag"), 2, 3600)
    day = WindowLimit("Day", ("VA1", "dest", "tag"), 3, 86_400)
    for _ in range(2):
        assert limiter.hit([hour, day], [], clock.now).refused is None
        clock.advance(60)
    refused = limiter.hit([hour, day], [], clock.now)  # t=120: the hour is full
    assert (refused.refused, refused.retry_after_seconds) == (hour, 3600 - 120 + 1)
    clock.advance(3600 - 120 + 1)
    assert limiter.hit([hour, day], [], clock.now).refused is None  # 3rd of the day
    clock.advance(3600)
    refused = limiter.hit([hour, day], [], clock.now)
    assert refused.refused == day
    assert refused.retry_after_seconds == 86_400 - (2 * 3600 + 1) + 1  # the t=0 send
    # The app's own prefix only: the end-to-end server's worker shares this Redis.
    assert [key.decode() for key in redis_client.scan_iter("it:*")] == ["it:w:{VA1/dest/tag}"]
    assert redis_client.type("it:w:{VA1/dest/tag}") == b"string"
    # The key lives as long as its longest interval since its newest event. Redis counts the
    # expiry in real time while this test's clock jumped 3 601 s since the newest event, so
    # the script (which keeps what the last hit's longest interval still counts, whatever
    # the caller's settings) sees that much more: in production both clocks advance alike.
    assert 86_400 - 5 <= redis_client.ttl("it:w:{VA1/dest/tag}") <= 86_400 + 3_601


def test_a_released_event_leaves_a_small_window(
    limiter: LimitsRateLimiter, clock: FixedClock
) -> None:
    limit = per_minute(1, "release")
    assert limiter.hit([limit], [], clock.now).refused is None
    limiter.release(limit, clock.now)
    assert limiter.hit([limit], [], clock.now).refused is None
    assert limiter.hit([limit], [], clock.now).refused == limit


def test_the_fraud_guard_tally_counts_sends_grace_and_approvals_by_bucket(
    limiter: LimitsRateLimiter, redis_client: redis.Redis, clock: FixedClock
) -> None:
    """Buckets of a minute: a send is in the grace while its bucket ends inside it."""

    def tally(sends: int = 0, approvals: int = 0) -> tuple[int, ...]:
        hit = TallyHit("VA1", "+44740", 600, 120, sends, approvals)
        return limiter.hit([], [], clock.now, hit).counts

    clock.now -= clock.now % 60_000  # at the start of a bucket
    for _ in range(3):
        tally(sends=1)
        clock.advance(60)
    assert tally(approvals=1) == (3, 2, 1)  # t=180: the t=0 send is settled
    clock.advance(600 - 180 + 60)  # the t=0 bucket has left the window
    assert tally() == (2, 0, 1)
    clock.advance(600)
    assert tally() == (0, 0, 0)
    assert redis_client.hlen("it:fg:{VA1:+44740}:tally") == 0  # stale buckets dropped
    limiter.forget_tally("VA1", "+44740")
    assert not redis_client.exists("it:fg:{VA1:+44740}:tally")


def test_a_refused_start_takes_its_send_back_from_the_tally(
    limiter: LimitsRateLimiter, clock: FixedClock
) -> None:
    limit = per_minute(1, "start")
    hit = TallyHit("VA1", "+44740", 600, 120, sends=1)
    assert limiter.hit([limit], [], clock.now, hit).counts == (1, 1, 0)
    refused = limiter.hit([limit], [], clock.now, hit)
    assert refused.refused == limit
    assert limiter.hit([], [], clock.now, TallyHit("VA1", "+44740", 600, 120)).counts == (
        1,
        1,
        0,
    )


def test_a_redis_outage_is_store_unavailable_never_an_admission(clock: FixedClock) -> None:
    dead = redis.Redis(port=1, socket_connect_timeout=0.2)
    limiter = LimitsRateLimiter(dead, ScriptBook(), "it", clock)
    with pytest.raises(StoreUnavailable):
        limiter.hit([per_minute(5, "z")], [], clock.now)


def test_threads_hammering_different_limits_stay_exact(
    limiter: LimitsRateLimiter, clock: FixedClock
) -> None:
    admitted = {"a": 0, "b": 0}
    lock = threading.Lock()

    def hammer(name: str) -> None:
        for _ in range(20):
            if limiter.hit([per_minute(9, name)], [], clock.now).refused is None:
                with lock:
                    admitted[name] += 1

    threads = [threading.Thread(target=hammer, args=(n,)) for n in "abab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted == {"a": 9, "b": 9}


def test_the_tally_keeps_the_last_ten_masked_destinations_and_a_refused_start_s_goes(
    limiter: LimitsRateLimiter, redis_client: redis.Redis, clock: FixedClock
) -> None:
    for n in range(12):
        limiter.hit([], [], clock.now, TallyHit("VA1", "+44740", 600, 120, 1, 0, f"+44••{n:02d}"))
    refused = per_minute(1, "full")
    limiter.hit([refused], [], clock.now)
    hit = TallyHit("VA1", "+44740", 600, 120, 1, 0, "+44••99")
    assert limiter.hit([refused], [], clock.now, hit).refused == refused
    recent = redis_client.hget("it:fg:{VA1:+44740}:tally", "r")
    # the refused start's note is gone (the one it pushed out is not restored: nine are left)
    assert recent == "\n".join(f"+44••{n:02d}" for n in range(11, 2, -1)).encode()
    assert limiter.hit([], [], clock.now, TallyHit("VA1", "+44740", 600, 120)).counts[0] == 12

"""RedisRateLimitStore and its Lua scripts against a real redis-server.

The storage layout is a contract (a start reads it with one HGETALL and
`decode_rate_limits`), and every check-and-change is one script, so the caps and the
uniqueness rules hold under concurrent requests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from tests.support.processes import free_port
from verify_service.adapters.redis_connection import connect, embedded
from verify_service.adapters.redis_store.keys import KeySpace
from verify_service.adapters.redis_store.protection.rate_limit_store import (
    RedisRateLimitStore,
    decode_rate_limits,
)
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.adapters.redis_store.services.service_store import RedisServiceStore
from verify_service.application.protection.ports import RateLimitWrite
from verify_service.domain import sids
from verify_service.domain.errors import StoreUnavailable
from verify_service.domain.protection.rate_limits import (
    MAX_BUCKETS_PER_RATE_LIMIT,
    MAX_RATE_LIMITS_PER_SERVICE,
    Bucket,
    RateLimit,
)
from verify_service.domain.service import Service
from verify_service.settings import Settings

NOW = 1_790_000_000_000


class Harness:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        scripts = ScriptBook()
        self.client = client
        self.keys = KeySpace(prefix)
        self.services = RedisServiceStore(client, scripts, self.keys)
        self.store = RedisRateLimitStore(client, scripts, self.keys)
        self.service_sid = self.new_service()

    def new_service(self) -> str:
        sid = sids.new_sid("VA")
        self.services.create_service(
            Service(sid=sid, friendly_name="Acme", date_created_ms=NOW, date_updated_ms=NOW)
        )
        return sid

    def rate_limit(
        self, unique_name: str = "end_user_ip_address", now_ms: int = NOW, **kwargs: Any
    ) -> RateLimit:
        return RateLimit(
            sid=sids.new_sid("RK"),
            service_sid=kwargs.pop("service_sid", self.service_sid),
            unique_name=unique_name,
            description=kwargs.pop("description", None),
            created_ms=now_ms,
            updated_ms=now_ms,
        )

    def create(self, unique_name: str = "end_user_ip_address", now_ms: int = NOW) -> RateLimit:
        rate_limit = self.rate_limit(unique_name, now_ms)
        assert (
            self.store.create_rate_limit(rate_limit, MAX_RATE_LIMITS_PER_SERVICE)
            is RateLimitWrite.DONE
        )
        return rate_limit

    def bucket(
        self, rate_limit: RateLimit, max_requests: int, interval: int, now_ms: int = NOW
    ) -> Bucket:
        return Bucket(
            sid=sids.new_sid("BL"),
            rate_limit_sid=rate_limit.sid,
            service_sid=rate_limit.service_sid,
            max=max_requests,
            interval=interval,
            created_ms=now_ms,
            updated_ms=now_ms,
        )

    def add_bucket(
        self, rate_limit: RateLimit, max_requests: int, interval: int, now_ms: int = NOW
    ) -> tuple[RateLimitWrite, RateLimit | None]:
        return self.store.create_bucket(
            self.bucket(rate_limit, max_requests, interval, now_ms), MAX_BUCKETS_PER_RATE_LIMIT
        )

    def raw(self) -> dict[bytes, bytes]:
        return self.client.hgetall(self.keys.rate_limits(self.service_sid))  # type: ignore[return-value]


@pytest.fixture
def harness(settings: Settings, redis_client: redis.Redis) -> Harness:
    return Harness(redis_client, settings.key_prefix)


def run_concurrently(count: int, action: Callable[[int], Any]) -> list[Any]:
    """Run `action(i)` in `count` threads released together; return the results."""
    barrier = threading.Barrier(count)

    def released(index: int) -> Any:
        barrier.wait()
        return action(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(released, range(count)))


# -- the storage layout (read by the start path) ------------------------------------------


def test_a_service_keeps_its_rate_limits_in_one_hash_beside_the_service(harness: Harness) -> None:
    """One hash per service, tagged `{svc}` like the service hash, so one script holds both."""
    key = harness.keys.rate_limits(harness.service_sid)
    assert key == f"{harness.keys.prefix}:{{svc}}:{harness.service_sid}:rl"
    assert "{svc}" in harness.keys.service(harness.service_sid)


def test_each_rate_limit_is_a_json_field_holding_its_buckets(harness: Harness) -> None:
    """Field = RK sid; value = the rate limit with its buckets by BL sid."""
    rate_limit = harness.create("phone_number")
    result, _ = harness.add_bucket(rate_limit, 5, 60)
    assert result is RateLimitWrite.DONE
    stored = json.loads(harness.raw()[rate_limit.sid.encode()])
    (bucket_sid,) = stored["buckets"]
    assert stored == {
        "sid": rate_limit.sid,
        "unique_name": "phone_number",
        "description": None,
        "created_ms": NOW,
        "updated_ms": NOW,
        "buckets": {
            bucket_sid: {
                "sid": bucket_sid,
                "max": 5,
                "interval": 60,
                "created_ms": NOW,
                "updated_ms": NOW,
            }
        },
    }


def test_decode_rate_limits_orders_by_creation_then_sid(harness: Harness) -> None:
    """The start path decodes its own HGETALL; rate limits and buckets come in creation order."""
    second = harness.create("second", now_ms=NOW + 1000)
    first = harness.create("first", now_ms=NOW)
    for interval, created_ms in ((3600, NOW + 2000), (60, NOW + 1000), (86400, NOW + 3000)):
        harness.add_bucket(first, 10, interval, created_ms)
    decoded = decode_rate_limits(harness.service_sid, harness.raw())
    assert [r.sid for r in decoded] == [first.sid, second.sid]
    assert [b.interval for b in decoded[0].buckets] == [60, 3600, 86400]
    assert all(b.rate_limit_sid == first.sid for b in decoded[0].buckets)
    assert all(b.service_sid == harness.service_sid for b in decoded[0].buckets)
    assert decoded[1].buckets == ()


def test_decode_accepts_an_emptied_bucket_map_written_as_a_json_array() -> None:
    """Some cjson builds (the embedded store's) encode an emptied Lua table as `[]`."""
    raw = {
        b"RK" + b"1" * 32: json.dumps(
            {
                "sid": "RK" + "1" * 32,
                "unique_name": "ip",
                "description": "d",
                "created_ms": NOW,
                "updated_ms": NOW,
                "buckets": [],
            }
        ).encode()
    }
    (rate_limit,) = decode_rate_limits("VA" + "2" * 32, raw)
    assert rate_limit.buckets == ()
    assert rate_limit.description == "d"


# -- rate limits ----------------------------------------------------------------------------


def test_concurrent_creates_of_one_unique_name_store_exactly_one(harness: Harness) -> None:
    results = run_concurrently(
        16,
        lambda _: harness.store.create_rate_limit(
            harness.rate_limit("end_user_ip_address"), MAX_RATE_LIMITS_PER_SERVICE
        ),
    )
    assert results.count(RateLimitWrite.DONE) == 1
    assert results.count(RateLimitWrite.DUPLICATE) == 15
    assert len(harness.raw()) == 1


def test_concurrent_creates_stop_at_the_per_service_maximum(harness: Harness) -> None:
    results = run_concurrently(
        25,
        lambda i: harness.store.create_rate_limit(
            harness.rate_limit(f"limit_{i}"), MAX_RATE_LIMITS_PER_SERVICE
        ),
    )
    assert results.count(RateLimitWrite.DONE) == MAX_RATE_LIMITS_PER_SERVICE
    assert results.count(RateLimitWrite.FULL) == 25 - MAX_RATE_LIMITS_PER_SERVICE
    assert len(harness.raw()) == MAX_RATE_LIMITS_PER_SERVICE


def test_unique_names_are_per_service(harness: Harness) -> None:
    harness.create("ip")
    other = harness.rate_limit("ip", service_sid=harness.new_service())
    assert (
        harness.store.create_rate_limit(other, MAX_RATE_LIMITS_PER_SERVICE) is RateLimitWrite.DONE
    )


def test_a_rate_limit_needs_an_existing_service(harness: Harness) -> None:
    missing = sids.new_sid("VA")
    rate_limit = harness.rate_limit(service_sid=missing)
    assert (
        harness.store.create_rate_limit(rate_limit, MAX_RATE_LIMITS_PER_SERVICE)
        is RateLimitWrite.NOT_FOUND
    )
    assert not harness.client.exists(harness.keys.rate_limits(missing))
    assert harness.store.list_rate_limits(missing) is None


def test_update_changes_the_description_and_date_updated_only(harness: Harness) -> None:
    rate_limit = harness.create("ip")
    harness.add_bucket(rate_limit, 5, 60)
    updated = harness.store.update_rate_limit(
        harness.service_sid, rate_limit.sid, "per IP", NOW + 5000
    )
    assert updated is not None
    assert (updated.description, updated.updated_ms, updated.created_ms) == (
        "per IP",
        NOW + 5000,
        NOW,
    )
    assert updated.unique_name == "ip"
    assert len(updated.buckets) == 1
    kept = harness.store.update_rate_limit(harness.service_sid, rate_limit.sid, None, NOW + 9000)
    assert kept is not None
    assert kept.description == "per IP"


def test_update_and_delete_of_an_unknown_rate_limit_change_nothing(harness: Harness) -> None:
    unknown = sids.new_sid("RK")
    assert harness.store.update_rate_limit(harness.service_sid, unknown, "x", NOW) is None
    assert harness.store.delete_rate_limit(harness.service_sid, unknown) is False
    assert harness.raw() == {}


def test_delete_removes_the_rate_limit_and_its_buckets(harness: Harness) -> None:
    rate_limit = harness.create("ip")
    harness.add_bucket(rate_limit, 5, 60)
    assert harness.store.delete_rate_limit(harness.service_sid, rate_limit.sid) is True
    assert harness.store.get_rate_limit(harness.service_sid, rate_limit.sid) is None
    assert harness.store.delete_rate_limit(harness.service_sid, rate_limit.sid) is False


def test_deleting_the_service_deletes_its_rate_limit_hash(harness: Harness) -> None:
    rate_limit = harness.create("ip")
    harness.add_bucket(rate_limit, 5, 60)
    key = harness.keys.rate_limits(harness.service_sid)
    assert harness.client.exists(key)
    assert harness.services.delete_service(harness.service_sid)
    assert not harness.client.exists(key)
    # Nothing can be added to a deleted service afterwards (no orphan hash).
    again = harness.rate_limit("ip")
    assert (
        harness.store.create_rate_limit(again, MAX_RATE_LIMITS_PER_SERVICE)
        is RateLimitWrite.NOT_FOUND
    )
    assert harness.add_bucket(rate_limit, 5, 60) == (RateLimitWrite.NOT_FOUND, None)
    assert not harness.client.exists(key)


# -- buckets --------------------------------------------------------------------------------


def test_concurrent_buckets_with_one_interval_store_exactly_one(harness: Harness) -> None:
    rate_limit = harness.create("ip")
    results = run_concurrently(12, lambda i: harness.add_bucket(rate_limit, i + 1, 60)[0])
    assert results.count(RateLimitWrite.DONE) == 1
    assert results.count(RateLimitWrite.DUPLICATE) == 11
    stored = harness.store.get_rate_limit(harness.service_sid, rate_limit.sid)
    assert stored is not None
    assert len(stored.buckets) == 1


def test_concurrent_buckets_stop_at_the_per_rate_limit_maximum(harness: Harness) -> None:
    rate_limit = harness.create("ip")
    results = run_concurrently(12, lambda i: harness.add_bucket(rate_limit, 5, 60 * (i + 1))[0])
    assert results.count(RateLimitWrite.DONE) == MAX_BUCKETS_PER_RATE_LIMIT
    assert results.count(RateLimitWrite.FULL) == 12 - MAX_BUCKETS_PER_RATE_LIMIT
    stored = harness.store.get_rate_limit(harness.service_sid, rate_limit.sid)
    assert stored is not None
    assert len({b.interval for b in stored.buckets}) == MAX_BUCKETS_PER_RATE_LIMIT


def test_a_bucket_cannot_take_another_buckets_interval(harness: Harness) -> None:
    rate_limit = harness.create("ip")
    _, after_first = harness.add_bucket(rate_limit, 5, 60)
    _, after_second = harness.add_bucket(rate_limit, 50, 3600)
    assert after_first is not None
    assert after_second is not None
    hourly = next(b for b in after_second.buckets if b.interval == 3600)
    result, unchanged = harness.store.update_bucket(
        harness.service_sid, rate_limit.sid, hourly.sid, None, 60, NOW + 1000
    )
    assert (result, unchanged) == (RateLimitWrite.DUPLICATE, None)
    # Its own interval is not a conflict; Max alone changes Max only.
    result, updated = harness.store.update_bucket(
        harness.service_sid, rate_limit.sid, hourly.sid, 70, 3600, NOW + 2000
    )
    assert result is RateLimitWrite.DONE
    assert updated is not None
    changed = updated.bucket(hourly.sid)
    assert changed is not None
    assert (changed.max, changed.interval, changed.updated_ms) == (70, 3600, NOW + 2000)


def test_concurrent_updates_to_one_free_interval_let_one_bucket_take_it(harness: Harness) -> None:
    rate_limit = harness.create("ip")
    for interval in (60, 120, 180, 240):
        harness.add_bucket(rate_limit, 5, interval)
    stored = harness.store.get_rate_limit(harness.service_sid, rate_limit.sid)
    assert stored is not None
    results = run_concurrently(
        4,
        lambda i: harness.store.update_bucket(
            harness.service_sid, rate_limit.sid, stored.buckets[i].sid, None, 900, NOW
        )[0],
    )
    assert results.count(RateLimitWrite.DONE) == 1
    after = harness.store.get_rate_limit(harness.service_sid, rate_limit.sid)
    assert after is not None
    assert sorted(b.interval for b in after.buckets).count(900) == 1


def test_deleting_the_last_bucket_leaves_a_readable_rate_limit(harness: Harness) -> None:
    rate_limit = harness.create("ip")
    _, stored = harness.add_bucket(rate_limit, 5, 60)
    assert stored is not None
    bucket_sid = stored.buckets[0].sid
    assert harness.store.delete_bucket(harness.service_sid, rate_limit.sid, bucket_sid) is True
    assert harness.store.delete_bucket(harness.service_sid, rate_limit.sid, bucket_sid) is False
    after = harness.store.get_rate_limit(harness.service_sid, rate_limit.sid)
    assert after is not None
    assert after.buckets == ()
    result, again = harness.add_bucket(rate_limit, 5, 60)
    assert result is RateLimitWrite.DONE
    assert again is not None
    assert len(again.buckets) == 1


def test_bucket_changes_on_an_unknown_rate_limit_or_bucket_are_not_found(
    harness: Harness,
) -> None:
    rate_limit = harness.create("ip")
    ghost = harness.rate_limit("ghost")
    assert harness.add_bucket(ghost, 5, 60) == (RateLimitWrite.NOT_FOUND, None)
    unknown = sids.new_sid("BL")
    assert harness.store.update_bucket(
        harness.service_sid, rate_limit.sid, unknown, 5, None, NOW
    ) == (RateLimitWrite.NOT_FOUND, None)
    assert harness.store.delete_bucket(harness.service_sid, rate_limit.sid, unknown) is False


# -- fail closed and the embedded store -----------------------------------------------------


def test_an_unreachable_redis_is_store_unavailable() -> None:
    client = connect(f"redis://127.0.0.1:{free_port()}/0", 0.2)
    harness_keys = KeySpace("down")
    store = RedisRateLimitStore(client, ScriptBook(), harness_keys)
    service_sid = sids.new_sid("VA")
    with pytest.raises(StoreUnavailable):
        store.list_rate_limits(service_sid)
    with pytest.raises(StoreUnavailable):
        store.delete_rate_limit(service_sid, sids.new_sid("RK"))


def test_the_embedded_store_runs_the_same_scripts() -> None:
    """`make run` uses fakeredis: the round trip, including an emptied bucket map, works."""
    harness = Harness(embedded(), "emb")
    rate_limit = harness.create("ip")
    _, stored = harness.add_bucket(rate_limit, 5, 60)
    assert stored is not None
    harness.store.delete_bucket(harness.service_sid, rate_limit.sid, stored.buckets[0].sid)
    assert harness.add_bucket(rate_limit, 7, 60)[0] is RateLimitWrite.DONE
    (decoded,) = decode_rate_limits(harness.service_sid, harness.raw())
    assert [(b.max, b.interval) for b in decoded.buckets] == [(7, 60)]

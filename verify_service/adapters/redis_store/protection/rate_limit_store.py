"""Rate Limits and Buckets in Redis: one hash per service (`KeySpace.rate_limits`), a field per
`RK` sid whose value is the rate limit with its buckets as JSON:

    {"sid", "unique_name", "description", "created_ms", "updated_ms",
     "buckets": {"BL…": {"sid", "max", "interval", "created_ms", "updated_ms"}}}

Every change is one script that also checks the service hash (same `{svc}` hash tag), so a
change racing a service deletion cannot leave a rate limit behind. The scripts re-encode the
JSON with Redis's cjson, which keeps 14 significant digits: enough for millisecond times (13)
and the bounded Max and Interval.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import KeySpace
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.protection.ports import RateLimitWrite
from verify_service.domain.protection.rate_limits import Bucket, RateLimit


def encode_rate_limit(rate_limit: RateLimit) -> str:
    return json.dumps(
        {
            "sid": rate_limit.sid,
            "unique_name": rate_limit.unique_name,
            "description": rate_limit.description,
            "created_ms": rate_limit.created_ms,
            "updated_ms": rate_limit.updated_ms,
            "buckets": {
                bucket.sid: {
                    "sid": bucket.sid,
                    "max": bucket.max,
                    "interval": bucket.interval,
                    "created_ms": bucket.created_ms,
                    "updated_ms": bucket.updated_ms,
                }
                for bucket in rate_limit.buckets
            },
        },
        separators=(",", ":"),
    )


def decode_rate_limit(service_sid: str, raw: bytes | str) -> RateLimit:
    """One field's value. A Lua cjson that emptied `buckets` may write it back as `[]`."""
    data: dict[str, Any] = json.loads(raw)
    stored_buckets = data.get("buckets") or {}
    bucket_values = stored_buckets.values() if isinstance(stored_buckets, dict) else ()
    buckets = [
        Bucket(
            sid=str(bucket["sid"]),
            rate_limit_sid=str(data["sid"]),
            service_sid=service_sid,
            max=int(bucket["max"]),
            interval=int(bucket["interval"]),
            created_ms=int(bucket["created_ms"]),
            updated_ms=int(bucket["updated_ms"]),
        )
        for bucket in bucket_values
    ]
    description = data.get("description")
    return RateLimit(
        sid=str(data["sid"]),
        service_sid=service_sid,
        unique_name=str(data["unique_name"]),
        description=None if description is None else str(description),
        created_ms=int(data["created_ms"]),
        updated_ms=int(data["updated_ms"]),
        buckets=tuple(sorted(buckets, key=lambda b: (b.created_ms, b.sid))),
    )


def decode_rate_limits(service_sid: str, raw: dict[bytes, bytes]) -> tuple[RateLimit, ...]:
    """A service's rate limits from an HGETALL of `KeySpace.rate_limits(service_sid)`, in
    creation order (then by sid); their buckets likewise."""
    limits = [decode_rate_limit(service_sid, value) for value in raw.values()]
    return tuple(sorted(limits, key=lambda r: (r.created_ms, r.sid)))


def _optional(value: int | None) -> str | int:
    return "" if value is None else value


class RedisRateLimitStore:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: KeySpace) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys

    def _keys_of(self, service_sid: str) -> list[str]:
        return [self._keys.service(service_sid), self._keys.rate_limits(service_sid)]

    def _outcome(self, service_sid: str, reply: Any) -> tuple[RateLimitWrite, RateLimit | None]:
        status, raw = reply
        result = RateLimitWrite(status.decode() if isinstance(status, bytes) else status)
        if result is not RateLimitWrite.DONE:
            return result, None
        return result, decode_rate_limit(service_sid, raw)

    @fail_closed
    def create_rate_limit(self, rate_limit: RateLimit, max_per_service: int) -> RateLimitWrite:
        status = self._scripts.run(
            self._client,
            "create_rate_limit",
            self._keys_of(rate_limit.service_sid),
            [
                rate_limit.sid,
                rate_limit.unique_name,
                encode_rate_limit(rate_limit),
                max_per_service,
            ],
        )
        return RateLimitWrite(status.decode() if isinstance(status, bytes) else status)

    @fail_closed
    def list_rate_limits(self, service_sid: str) -> tuple[RateLimit, ...] | None:
        pipe = self._client.pipeline(transaction=False)
        pipe.exists(self._keys.service(service_sid))
        pipe.hgetall(self._keys.rate_limits(service_sid))
        exists, raw = pipe.execute()
        if not exists:
            return None
        return decode_rate_limits(service_sid, raw)

    @fail_closed
    def get_rate_limit(self, service_sid: str, sid: str) -> RateLimit | None:
        # The service's deletion deletes this hash in the same script: no service, no field.
        raw = self._client.hget(self._keys.rate_limits(service_sid), sid)
        return None if raw is None else decode_rate_limit(service_sid, raw)

    @fail_closed
    def update_rate_limit(
        self, service_sid: str, sid: str, description: str | None, now_ms: int
    ) -> RateLimit | None:
        raw = self._scripts.run(
            self._client,
            "update_rate_limit",
            self._keys_of(service_sid),
            [sid, now_ms, "0" if description is None else "1", description or ""],
        )
        return None if raw is None else decode_rate_limit(service_sid, raw)

    @fail_closed
    def delete_rate_limit(self, service_sid: str, sid: str) -> bool:
        deleted = self._scripts.run(
            self._client, "delete_rate_limit", self._keys_of(service_sid), [sid]
        )
        return bool(deleted)

    @fail_closed
    def create_bucket(
        self, bucket: Bucket, max_per_rate_limit: int
    ) -> tuple[RateLimitWrite, RateLimit | None]:
        reply = self._scripts.run(
            self._client,
            "create_bucket",
            self._keys_of(bucket.service_sid),
            [
                bucket.rate_limit_sid,
                bucket.sid,
                bucket.max,
                bucket.interval,
                bucket.created_ms,
                max_per_rate_limit,
            ],
        )
        return self._outcome(bucket.service_sid, reply)

    @fail_closed
    def update_bucket(
        self,
        service_sid: str,
        rate_limit_sid: str,
        sid: str,
        max_requests: int | None,
        interval: int | None,
        now_ms: int,
    ) -> tuple[RateLimitWrite, RateLimit | None]:
        reply = self._scripts.run(
            self._client,
            "update_bucket",
            self._keys_of(service_sid),
            [rate_limit_sid, sid, _optional(max_requests), _optional(interval), now_ms],
        )
        return self._outcome(service_sid, reply)

    @fail_closed
    def delete_bucket(self, service_sid: str, rate_limit_sid: str, sid: str) -> bool:
        deleted = self._scripts.run(
            self._client, "delete_bucket", self._keys_of(service_sid), [rate_limit_sid, sid]
        )
        return bool(deleted)

"""Fraud Guard's trips in Redis: a block record per prefix (expiring with its cool-down),
an index per service for listing, and the last masked destinations seen per prefix."""

from __future__ import annotations

import json
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import FraudGuardKeys
from verify_service.adapters.redis_store.protection.rate_limiter import (
    RECENT_DESTINATIONS,
    TALLY,
    tally_arguments,
)
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.protection.ports import BreakerTrip, TallyHit

INDEX_GRACE_MS = 60_000


def encode_trip(trip: BreakerTrip) -> str:
    return json.dumps(
        {
            "service_sid": trip.service_sid,
            "prefix": trip.prefix,
            "mode": trip.mode,
            "tripped_ms": trip.tripped_ms,
            "until_ms": trip.until_ms,
            "sends": trip.sends,
            "approvals": trip.approvals,
            "window_seconds": trip.window_seconds,
            "destinations": list(trip.destinations),
        },
        separators=(",", ":"),
    )


def decode_trip(raw: bytes | None) -> BreakerTrip | None:
    if raw is None:
        return None
    values = json.loads(raw)
    values["destinations"] = tuple(values["destinations"])
    return BreakerTrip(**values)


class RedisFraudGuardStore:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: FraudGuardKeys) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys

    # -- pipelined by the start's read (verification_store.prepare_start) ------------------

    def queue_block_read(self, pipe: Any, service_sid: str, prefix: str) -> None:
        pipe.get(self._keys.block(service_sid, prefix))

    def queue_tally(self, pipe: Any, tally: TallyHit, now_ms: int, approvals: int) -> None:
        """Count an approval in the prefix's tally, in a caller's pipeline."""
        pipe.evalsha(
            self._scripts.sha(TALLY),
            1,
            self._keys.tally(tally.service_sid, tally.prefix),
            *tally_arguments(tally, now_ms, 0, approvals),
        )

    @fail_closed
    def take_back_approval(self, tally: TallyHit, now_ms: int) -> None:
        self._scripts.run(
            self._client,
            TALLY,
            [self._keys.tally(tally.service_sid, tally.prefix)],
            tally_arguments(tally, now_ms, 0, -1),
        )

    # -- FraudGuardStore ---------------------------------------------------------------------

    @fail_closed
    def recent_destinations(self, service_sid: str, prefix: str) -> tuple[str, ...]:
        """Noted with the tally (count_fraud_guard.lua), newest first, one per line."""
        raw: bytes | None = self._client.hget(  # type: ignore[assignment]
            self._keys.tally(service_sid, prefix), "r"
        )
        lines = raw.decode("utf-8").split("\n") if raw else []
        return tuple(line for line in lines[:RECENT_DESTINATIONS] if line)

    @fail_closed
    def trip(self, trip: BreakerTrip) -> tuple[bool, int]:
        tripped, until_ms = self._scripts.run(
            self._client,
            "trip_fraud_guard",
            [self._keys.block(trip.service_sid, trip.prefix), self._keys.trips(trip.service_sid)],
            [
                encode_trip(trip),
                trip.prefix,
                trip.until_ms,
                trip.tripped_ms,
                INDEX_GRACE_MS,
                trip.mode,
            ],
        )
        return bool(tripped), int(until_ms)

    @fail_closed
    def trips(self, service_sid: str, now_ms: int) -> list[BreakerTrip]:
        prefixes: list[bytes] = self._client.zrangebyscore(  # type: ignore[assignment]
            self._keys.trips(service_sid), now_ms, "+inf"
        )
        if not prefixes:
            return []
        raws: list[bytes | None] = self._client.mget(  # type: ignore[assignment]
            [self._keys.block(service_sid, p.decode()) for p in prefixes]
        )
        found = [trip for trip in map(decode_trip, raws) if trip is not None]
        return sorted(found, key=lambda t: (-t.tripped_ms, t.prefix))

    @fail_closed
    def lift(self, service_sid: str, prefix: str) -> bool:
        lifted = self._scripts.run(
            self._client,
            "lift_fraud_guard",
            [self._keys.block(service_sid, prefix), self._keys.trips(service_sid)],
            [prefix],
        )
        return bool(lifted)

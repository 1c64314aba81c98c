"""The expiry schedule (`ExpiryKeys`): verifications whose expiry a webhook wants to hear
of, by expiry time, written by a start only when its service has such a webhook. At due
time a worker claims them (claim_due_expiries.lua) and reads each verification's state in
one round trip: still the same pending verification (or gone by its TTL), no recorded
end in its attempt history, and not all its checks used (max_attempts_reached ends it for
the events too) → it expired."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import ExpiryKeys, KeySpace
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.events.ports import ExpiryState, ExpiryWatch
from verify_service.application.verifications.ports import VerificationRef
from verify_service.domain.models import MAX_CHECKS_PER_VERIFICATION


def _all_checks_used(noted: bytes | None) -> bool:
    """The attempt history's `k:<VE>` ("ms:outcome;" per check): every check used, or a
    check refused as locked (`l`) — the verification ended as max_attempts_reached."""
    if noted is None:
        return False
    events = noted.decode("ascii")
    return ":l;" in events or events.count(":w;") >= MAX_CHECKS_PER_VERIFICATION


def _member(watch: ExpiryWatch) -> str:
    return json.dumps(asdict(watch), separators=(",", ":"), sort_keys=True)


class RedisExpirySchedule:
    def __init__(
        self, client: redis.Redis, scripts: ScriptBook, keys: ExpiryKeys, space: KeySpace
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._space = space

    @fail_closed
    def claim_due(self, now_ms: int, lease_ms: int, limit: int) -> list[ExpiryWatch]:
        def build(pipe: Any) -> None:
            claim = self._scripts.sha("claim_due_expiries")
            for due in self._keys.every_shard:
                pipe.evalsha(claim, 1, due, now_ms, lease_ms, limit)

        watches = []
        for claimed in self._scripts.run_pipeline(self._client, build):
            for member in claimed:
                watches.append(ExpiryWatch(**json.loads(member)))
        return watches

    @fail_closed
    def state(self, watch: ExpiryWatch, now_ms: int) -> ExpiryState:
        ref = VerificationRef(watch.service_sid, watch.tag)
        pipe = self._client.pipeline(transaction=False)
        pipe.hmget(self._space.verification(ref), "sid", "ex", "c")
        vsid = watch.verification_sid
        pipe.hmget(self._space.verification_history(ref), f"e:{vsid}", f"k:{vsid}")
        (sid, expires, checks), (ended, noted) = pipe.execute()
        if ended is not None:
            return ExpiryState.ENDED  # approved or canceled
        same = sid is not None and sid.decode() == vsid
        if (same and int(checks or 0) >= MAX_CHECKS_PER_VERIFICATION) or _all_checks_used(noted):
            return ExpiryState.ENDED  # max_attempts_reached: no longer pending
        if sid is not None and sid.decode() == watch.verification_sid and int(expires) > now_ms:
            return ExpiryState.ENDED  # unreachable: a verification's expiry never moves
        return ExpiryState.EXPIRED

    @fail_closed
    def done(self, watch: ExpiryWatch) -> None:
        self._client.zrem(self._keys.for_verification(watch.verification_sid), _member(watch))

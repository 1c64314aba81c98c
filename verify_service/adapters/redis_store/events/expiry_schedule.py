"""The expiry schedule (`ExpiryKeys`): verifications whose expiry is watched, by expiry
time, written in a creating start's own pipeline (`queue_watch`) when metrics are on or a
webhook of the service wants `verification.expired`. At due time a worker claims them
(claim_due_expiries.lua) and reads each verification's state in one round trip: still the
same pending verification (or gone by its TTL) and no recorded end in its attempt history
→ it expired. A watch for a create the start script refused is removed by the start right
after (`forget`)."""

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

    def queue_watch(self, pipe: Any, watch: ExpiryWatch) -> None:
        """The watch, queued on a start's pipeline (no round trip of its own)."""
        pipe.zadd(
            self._keys.for_verification(watch.verification_sid), {_member(watch): watch.expires_ms}
        )

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
        pipe.hmget(self._space.verification(ref), "sid", "ex")
        pipe.hget(self._space.verification_history(ref), f"e:{watch.verification_sid}")
        (sid, expires), ended = pipe.execute()
        if ended is not None:
            return ExpiryState.ENDED  # approved or canceled
        if sid is not None and sid.decode() == watch.verification_sid and int(expires) > now_ms:
            return ExpiryState.ENDED  # unreachable: a verification's expiry never moves
        return ExpiryState.EXPIRED

    @fail_closed
    def done(self, watch: ExpiryWatch) -> bool:
        removed = self._client.zrem(
            self._keys.for_verification(watch.verification_sid), _member(watch)
        )
        return bool(removed)

    forget = done  # a watch whose create the start script refused

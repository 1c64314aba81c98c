"""The expiry schedule (`ExpiryKeys`): verifications whose expiry is watched, by expiry
time, written in a creating start's own pipeline (`queue_watch`) when metrics are on or a
webhook of the service wants `verification.expired`. At due time a worker claims them
(claim_due_expiries.lua) and reads each verification's state in one round trip: still the
same pending verification (or gone by its TTL), no recorded end in its attempt history, and
not all its checks used (max_attempts_reached ends it too) → it expired. A watch for a
create the start script refused is removed by the start right after (`forget`)."""

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
from verify_service.domain import sids
from verify_service.domain.models import MAX_CHECKS_PER_VERIFICATION


def _all_checks_used(noted: bytes | None) -> bool:
    """The attempt history's `k:<VE>` ("ms:outcome;" per check): every check used, or a
    check refused as locked (`l`) — the verification ended as max_attempts_reached."""
    if noted is None:
        return False
    events = noted.decode("ascii")
    return ":l;" in events or events.count(":w;") >= MAX_CHECKS_PER_VERIFICATION


def _member(watch: ExpiryWatch) -> str:
    """A positional JSON array, UTF-8 (the mask's bullets 3 bytes, not 6 escaped), no tag
    (it is inside the VE sid): ~145 bytes, ~267 with the sorted set's own overhead per
    pending verification (docs/performance.md), where the named form took 426."""
    return json.dumps(
        [
            watch.service_sid,
            watch.verification_sid,
            watch.channel,
            watch.masked_to,
            watch.country,
            watch.created_ms,
            watch.expires_ms,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _named_member(watch: ExpiryWatch) -> str:
    """The form watches were written in before `_member` (a JSON object): still read and
    removed, so none written before an upgrade is lost."""
    return json.dumps(asdict(watch), separators=(",", ":"), sort_keys=True)


def _watch(member: bytes) -> ExpiryWatch:
    data = json.loads(member)
    if isinstance(data, dict):  # written before the positional form
        return ExpiryWatch(**data)
    service_sid, verification_sid, channel, masked_to, country, created_ms, expires_ms = data
    return ExpiryWatch(
        service_sid=service_sid,
        verification_sid=verification_sid,
        tag=sids.verification_tag(verification_sid) or "",
        channel=channel,
        masked_to=masked_to,
        country=country,
        created_ms=created_ms,
        expires_ms=expires_ms,
    )


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
                watches.append(_watch(member))
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
    def done(self, watch: ExpiryWatch) -> bool:
        removed = self._client.zrem(
            self._keys.for_verification(watch.verification_sid),
            _member(watch),
            _named_member(watch),  # a watch written before the compact form
        )
        return bool(removed)

    forget = done  # a watch whose create the start script refused

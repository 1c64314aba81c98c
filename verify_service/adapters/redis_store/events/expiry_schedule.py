"""The expiry schedule (`ExpiryKeys`): verifications whose expiry is watched, by expiry
time, written in a creating start's own pipeline (`queue_watch`) when metrics are on or a
webhook of the service wants `verification.expired`. At due time a worker claims them
(claim_due_expiries.lua) and reads each verification's state in one round trip: still the
same pending verification (or gone by its TTL), no recorded end in its attempt history, and
not all its checks used (max_attempts_reached ends it too) → it expired. A watch for a
create the start script refused is removed by the start right after (`forget`).

A start with `Tags` adds them to its watch sealed (AES-256-GCM under the destination key,
bound to the `VE` sid, prefixed by the key's id, base64 in the member): the expired event
carries them like the verification's other events. A start without tags writes the member it
always did, and a watch from before tags emits without them. `verify-service secrets reseal`
moves sealed tags to the primary key (`Resealable`: compare-and-set on the member's score)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import ExpiryKeys, KeySpace
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.events.ports import ExpiryState, ExpiryWatch
from verify_service.application.secrets.ports import Progress, ResealCount
from verify_service.application.verifications.ports import VerificationRef
from verify_service.domain import sids
from verify_service.domain.models import MAX_CHECKS_PER_VERIFICATION

log = logging.getLogger(__name__)

SCAN_COUNT = 500


def _all_checks_used(noted: bytes | None) -> bool:
    """The attempt history's `k:<VE>` ("ms:outcome;" per check): every check used, or a
    check refused as locked (`l`) — the verification ended as max_attempts_reached."""
    if noted is None:
        return False
    events = noted.decode("ascii")
    return ":l;" in events or events.count(":w;") >= MAX_CHECKS_PER_VERIFICATION


def tags_context(verification_sid: str) -> bytes:
    """The associated data a watch's tags are sealed with (bound to their verification)."""
    return f"expiry-tags:{verification_sid}".encode("ascii")


def _member(watch: ExpiryWatch) -> str:
    """A positional JSON array, UTF-8 (the mask's bullets 3 bytes, not 6 escaped), no tag
    (it is inside the VE sid): ~145 bytes, ~267 with the sorted set's own overhead per
    pending verification (docs/performance.md), where the named form took 426. An eighth
    element, the sealed tags (base64), only when the start had tags."""
    fields: list[Any] = [
        watch.service_sid,
        watch.verification_sid,
        watch.channel,
        watch.masked_to,
        watch.country,
        watch.created_ms,
        watch.expires_ms,
    ]
    if watch.sealed_tags is not None:
        fields.append(watch.sealed_tags)
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def _named_member(watch: ExpiryWatch) -> str:
    """The form watches were written in before `_member` (a JSON object, never with tags):
    still read and removed, so none written before an upgrade is lost."""
    named = asdict(watch)
    del named["tags"], named["sealed_tags"]
    return json.dumps(named, separators=(",", ":"), sort_keys=True)


def _sealed_bytes(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


class RedisExpirySchedule:
    def __init__(
        self,
        client: redis.Redis,
        scripts: ScriptBook,
        keys: ExpiryKeys,
        space: KeySpace,
        cipher: DestinationCipher,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._space = space
        self._cipher = cipher

    # -- tags -------------------------------------------------------------------------

    def seal(self, watch: ExpiryWatch) -> ExpiryWatch:
        """The watch with its tags sealed as they are stored (a start calls it once, so
        the watch it queues and the one it may `forget` are the same member)."""
        if watch.tags is None or watch.sealed_tags is not None:
            return watch
        sealed = self._cipher.seal(watch.tags, tags_context(watch.verification_sid))
        return dataclasses.replace(watch, sealed_tags=base64.b64encode(sealed).decode("ascii"))

    def _open_tags(self, verification_sid: str, text: str) -> str | None:
        sealed = _sealed_bytes(text)
        tags = None if sealed is None else self._cipher.open(sealed, tags_context(verification_sid))
        if tags is None:  # under a key no longer on the ring: the event goes without them
            log.warning("verification %s: expiry watch tags cannot be unsealed", verification_sid)
        return tags

    def _watch(self, member: bytes) -> ExpiryWatch:
        data = json.loads(member)
        if isinstance(data, dict):  # written before the positional form
            return ExpiryWatch(**data)
        service_sid, verification_sid, channel, masked_to, country, created_ms, expires_ms = data[
            :7
        ]
        sealed_tags = str(data[7]) if len(data) > 7 else None
        return ExpiryWatch(
            service_sid=service_sid,
            verification_sid=verification_sid,
            tag=sids.verification_tag(verification_sid) or "",
            channel=channel,
            masked_to=masked_to,
            country=country,
            created_ms=created_ms,
            expires_ms=expires_ms,
            tags=None if sealed_tags is None else self._open_tags(verification_sid, sealed_tags),
            sealed_tags=sealed_tags,
        )

    # -- the schedule -------------------------------------------------------------------

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
                watches.append(self._watch(member))
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

    # -- rotation (`Resealable`) ----------------------------------------------------------

    kind = "expiry watch tags"

    def _sealed_watches(self) -> Iterator[tuple[str, bytes, float, str, bytes]]:
        """(shard key, member, score, VE sid, sealed tags) of every watch with tags."""
        for due in self._keys.every_shard:
            for member, score in self._client.zscan_iter(due, count=SCAN_COUNT):
                data = json.loads(member)
                if not isinstance(data, list) or len(data) < 8:
                    continue
                sealed = _sealed_bytes(str(data[7]))
                if sealed is not None:
                    yield due, member, score, str(data[1]), sealed

    @fail_closed
    def key_ids(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for _due, _member_bytes, _score, vsid, sealed in self._sealed_watches():
            counts[self._cipher.key_id(sealed, tags_context(vsid))] += 1
        return counts

    @fail_closed
    def reseal(self, progress: Progress, now_ms: int) -> ResealCount:
        """Each watch whose tags are under an old key is replaced by the same watch with
        them sealed under the primary, at the same score, only if its score is still the
        one read (reseal_expiry_watch.lua): a watch a worker claimed meanwhile is left (it
        is emitted and removed; a re-run finds what remains). A watch in a worker's hands
        now (leased past its expiry) is left too: its worker removes it by its old form."""
        count = ResealCount(self.kind)
        for due, member, score, vsid, sealed in self._sealed_watches():
            count.looked_at += 1
            progress(self.kind, count.looked_at)
            data = json.loads(member)
            leased = int(score) != int(data[6]) and score > now_ms
            new = self._cipher.reseal(sealed, tags_context(vsid))
            if new is None:
                if self._cipher.open(sealed, tags_context(vsid)) is None:
                    count.unreadable += 1
                else:
                    count.already_primary += 1
                continue
            if leased:
                count.raced += 1
                continue
            data[7] = base64.b64encode(new).decode("ascii")
            replacement = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
            swapped = self._scripts.run(
                self._client, "reseal_expiry_watch", [due], [member, replacement, repr(score)]
            )
            if swapped:
                count.resealed += 1
            else:
                count.raced += 1
        if count.raced:
            count.notes.append(
                f"{count.raced} expiry watches were claimed by a worker meanwhile; run the "
                "reseal again once they are settled"
            )
        return count

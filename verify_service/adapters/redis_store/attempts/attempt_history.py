"""The attempt history in Redis.

A send attempt's record is its delivery status hash `vs:att:{VL…}` (delivery_queue.py), kept
for the retention period and given, when it is created, the history's fields: `to` (the
destination sealed with AES-256-GCM, the attempt sid as associated data), `dg` (the keyed
digest the destination is searched by) and `co` (its country). Four sorted sets index the
`VL` sids by creation time (all, per service, per destination digest, per verification),
written by `record_attempt_history.lua` in the start's own pipeline. How each verification
ended, who ended it by hand and why (`b:<VE>`), and its checks live beside the verification,
in `vs:vh:{VA…:tag}` (written by the check and end scripts). Nothing here holds a code or a
destination in clear.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import HistoryKeys, KeySpace, OutboxKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.attempts.ports import (
    AttemptCursor,
    AttemptIndex,
    CheckEvent,
    HistoricAttempt,
    VerificationTrail,
)
from verify_service.application.verifications.ports import VerificationRef
from verify_service.domain import sids
from verify_service.domain.models import EndedBy

DEFAULT_RETENTION_MS = 30 * 24 * 3600 * 1000
# The most check events recorded per verification; later ones are only counted.
MAX_CHECK_EVENTS = 12
BATCH = 200
_CHECK_OUTCOMES = {"w": "wrong", "a": "approved", "l": "refused"}


def encode_ended_by(ended_by: EndedBy) -> str:
    """`b:<VE>` in the verification's history, written by end_verification.lua."""
    fields = {"actor": ended_by.actor, "role": ended_by.role, "reason": ended_by.reason}
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def decode_ended_by(value: str) -> EndedBy | None:
    try:
        fields = json.loads(value)
        return EndedBy(str(fields["actor"]), str(fields["role"]), fields.get("reason") or None)
    except (ValueError, TypeError, KeyError):
        return None


def attempt_context(attempt_sid: str) -> bytes:
    """The associated data an attempt's destination is sealed with."""
    return f"attempt:{attempt_sid}".encode("ascii")


class RedisAttemptHistory:
    def __init__(
        self,
        client: redis.Redis,
        scripts: ScriptBook,
        keys: KeySpace,
        history_keys: HistoryKeys,
        cipher: DestinationCipher,
        retention_ms: int = DEFAULT_RETENTION_MS,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._history = history_keys
        self._attempt_keys = OutboxKeys(keys.prefix)
        self._cipher = cipher
        self.retention_ms = retention_ms

    # -- writing (inside the start's pipeline) ----------------------------------------------

    def record_fields(
        self, attempt_sid: str, to: str, digest: str | None, country: str | None
    ) -> list[Any]:
        """Field, value pairs the attempt's status record gets when it is created."""
        fields: list[Any] = ["to", self._cipher.seal(to, attempt_context(attempt_sid))]
        if digest:
            fields += ["dg", digest]
        if country:
            fields += ["co", country]
        return fields

    def queue_index(
        self,
        pipe: Any,
        attempt_sid: str,
        service_sid: str,
        verification_sid: str,
        digest: str | None,
        now_ms: int,
    ) -> None:
        """Index the attempt (one EVALSHA more in the caller's pipeline)."""
        keys = [
            self._history.all,
            self._history.service(service_sid),
            self._history.destination(digest or "-"),
            self._history.verification(verification_sid),
        ]
        pipe.evalsha(
            self._scripts.sha("record_attempt_history"),
            len(keys),
            *keys,
            now_ms,
            attempt_sid,
            self.retention_ms,
        )

    # -- reading ------------------------------------------------------------------------------

    def _index_key(self, index: AttemptIndex) -> str:
        if index.kind == "service":
            return self._history.service(index.value)
        if index.kind == "destination":
            return self._history.destination(index.value)
        if index.kind == "verification":
            return self._history.verification(index.value)
        return self._history.all

    def _entries(
        self, key: str, newest_ms: int | None, oldest_ms: int, after: AttemptCursor | None
    ) -> Iterator[AttemptCursor]:
        """Index entries newest first, strictly after `after`, in batches (one round trip
        each: the ties at the cursor's time and the next batch below it)."""
        cursor = after
        upper: Any = "+inf" if newest_ms is None else newest_ms
        while True:
            pipe = self._client.pipeline(transaction=False)
            if cursor is not None:
                pipe.zrevrangebyscore(key, cursor.created_ms, cursor.created_ms, withscores=True)
                upper = f"({cursor.created_ms}"
            pipe.zrevrangebyscore(key, upper, oldest_ms, start=0, num=BATCH, withscores=True)
            replies = pipe.execute()
            rows: list[tuple[bytes, float]] = []
            if cursor is not None:
                ties = replies[0]
                rows += [row for row in ties if row[0].decode() < cursor.sid]
            below = replies[-1]
            rows += below
            for member, score in rows:
                cursor = AttemptCursor(int(score), member.decode())
                yield cursor
            if len(below) < BATCH:
                return

    def _decode(
        self, sid: str, raw: dict[bytes, bytes]
    ) -> tuple[dict[str, Any], str | None] | None:
        fields = {k.decode(): v for k, v in raw.items()}
        if not fields.get("va") or not fields.get("ve"):
            return None
        sealed = fields.get("to")
        destination = self._cipher.open(sealed, attempt_context(sid)) if sealed else None
        return fields, destination

    @fail_closed
    def _records(
        self, cursors: list[AttemptCursor], now_ms: int
    ) -> list[tuple[AttemptCursor, HistoricAttempt | None]]:
        pipe = self._client.pipeline(transaction=False)
        for cursor in cursors:
            pipe.hgetall(self._keys_attempt(cursor.sid))
        raws = pipe.execute()
        decoded = [self._decode(c.sid, raw) for c, raw in zip(cursors, raws, strict=True)]
        verifications = {
            (found[0]["va"].decode(), found[0]["ve"].decode())
            for found in decoded
            if found is not None
        }
        outcomes = self._outcomes(sorted(verifications), now_ms)
        results: list[tuple[AttemptCursor, HistoricAttempt | None]] = []
        for cursor, found in zip(cursors, decoded, strict=True):
            if found is None:
                results.append((cursor, None))
                continue
            fields, destination = found
            service_sid, verification_sid = fields["va"].decode(), fields["ve"].decode()
            results.append(
                (
                    cursor,
                    _attempt(
                        cursor.sid,
                        fields,
                        destination,
                        outcomes.get((service_sid, verification_sid), "expired"),
                    ),
                )
            )
        return results

    def _keys_attempt(self, attempt_sid: str) -> str:
        return self._attempt_keys.attempt(attempt_sid)

    def _outcomes(
        self, verifications: list[tuple[str, str]], now_ms: int
    ) -> dict[tuple[str, str], str]:
        """How each (service, verification) ended so far, in one round trip."""
        refs = []
        pipe = self._client.pipeline(transaction=False)
        for service_sid, verification_sid in verifications:
            tag = sids.verification_tag(verification_sid)
            if tag is None:
                continue
            ref = VerificationRef(service_sid, tag)
            refs.append((service_sid, verification_sid))
            pipe.hget(self._keys.verification_history(ref), f"e:{verification_sid}")
            pipe.hmget(self._keys.verification(ref), "sid", "ex")
        if not refs:
            return {}
        replies = pipe.execute()
        outcomes: dict[tuple[str, str], str] = {}
        for index, pair in enumerate(refs):
            ended, (live_sid, expires) = replies[2 * index], replies[2 * index + 1]
            if ended is not None:
                outcomes[pair] = ended.decode().split("|", 1)[1]
            elif (
                live_sid is not None
                and live_sid.decode() == pair[1]
                and expires is not None
                and int(expires) > now_ms
            ):
                outcomes[pair] = "pending"
            else:
                outcomes[pair] = "expired"
        return outcomes

    def walk(
        self,
        index: AttemptIndex,
        newest_ms: int | None,
        oldest_ms: int,
        after: AttemptCursor | None,
        now_ms: int,
    ) -> Iterator[tuple[AttemptCursor, HistoricAttempt | None]]:
        # A generator: each step that talks to Redis fails closed on its own.
        entries = self._entries(self._index_key(index), newest_ms, oldest_ms, after)
        while True:
            batch = self._next_batch(entries)
            if not batch:
                return
            yield from self._records(batch, now_ms)

    @fail_closed
    def _next_batch(self, entries: Iterator[AttemptCursor]) -> list[AttemptCursor]:
        batch = []
        for cursor in entries:
            batch.append(cursor)
            if len(batch) == BATCH:
                break
        return batch

    @fail_closed
    def get(self, sid: str, now_ms: int) -> HistoricAttempt | None:
        raw: Any = self._client.hgetall(self._keys_attempt(sid))
        created = raw.get(b"ca")
        if created is None:
            return None
        found = self._records([AttemptCursor(int(created), sid)], now_ms)
        return found[0][1]

    @fail_closed
    def trails(self, service_sid: str, tag: str) -> dict[str, VerificationTrail]:
        raw: Any = self._client.hgetall(
            self._keys.verification_history(VerificationRef(service_sid, tag))
        )
        checks: dict[str, list[CheckEvent]] = {}
        extra: dict[str, int] = {}
        ends: dict[str, tuple[str, int]] = {}
        enders: dict[str, EndedBy | None] = {}
        for name_bytes, value_bytes in raw.items():
            kind, _, verification_sid = name_bytes.decode().partition(":")
            value = value_bytes.decode()
            if kind == "k":
                events = []
                for event in filter(None, value.split(";")):
                    time_ms, _, outcome = event.partition(":")
                    events.append(CheckEvent(int(time_ms), _CHECK_OUTCOMES.get(outcome, outcome)))
                checks[verification_sid] = events
            elif kind == "kx":
                extra[verification_sid] = int(value)
            elif kind == "e":
                time_ms, _, outcome = value.partition("|")
                ends[verification_sid] = (outcome, int(time_ms))
            elif kind == "b":
                enders[verification_sid] = decode_ended_by(value)
        trails = {}
        for verification_sid in set(checks) | set(extra) | set(ends):
            end = ends.get(verification_sid)
            trails[verification_sid] = VerificationTrail(
                checks=tuple(checks.get(verification_sid, ())),
                unrecorded_checks=extra.get(verification_sid, 0),
                ended=end[0] if end else None,
                ended_ms=end[1] if end else None,
                ended_by=enders.get(verification_sid),
            )
        return trails


def _millis(fields: dict[str, Any], name: str) -> int | None:
    value = fields.get(name)
    return int(value) if value is not None and value.isdigit() else None


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value.decode() if value else None


def _attempt(
    sid: str, fields: dict[str, Any], destination: str | None, outcome: str
) -> HistoricAttempt:
    created = _millis(fields, "ca") or 0
    return HistoricAttempt(
        sid=sid,
        service_sid=fields["va"].decode(),
        verification_sid=fields["ve"].decode(),
        channel=_text(fields, "ch") or "sms",
        country=_text(fields, "co"),
        destination=destination,
        destination_digest=_text(fields, "dg"),
        created_ms=created,
        updated_ms=_millis(fields, "ua") or created,
        delivery_status=_text(fields, "status") or "queued",
        provider=_text(fields, "provider"),
        error_code=_text(fields, "err"),
        outcome=outcome,
    )

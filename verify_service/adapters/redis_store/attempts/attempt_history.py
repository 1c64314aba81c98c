"""The attempt history in Redis: walking and reading the buckets of attempt_records.py.

A list walks one service's buckets (or every service's, from the service index) newest day
first, and in each day the buckets' streams newest entry first (XREVRANGE between the
query's times: only the buckets in range are touched, and in each only the entries asked
for). A bucket is probed with XLEN, 32 days of every service in one round trip, then read
in batches of `BATCH` entries with their statuses (list_attempts.lua, one round trip per
batch); the verifications' outcomes cost one round trip per batch of records.

How each verification ended, who ended it by hand and why (`b:<VE>`), and its checks live
beside the verification, in `vs:vh:{VA…:tag}` (written by the check and end scripts).
Nothing here holds a code or a destination in clear.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.attempts.attempt_records import (
    DEFAULT_RETENTION_MS,
    AttemptRow,
    RedisAttemptRecords,
    decode_status,
    unpack_record,
)
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import HistoryKeys, KeySpace
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.attempts.ports import (
    AttemptCursor,
    CheckEvent,
    HistoricAttempt,
    VerificationTrail,
)
from verify_service.application.verifications.ports import VerificationRef
from verify_service.domain import sids
from verify_service.domain.models import EndedBy

__all__ = ["DEFAULT_RETENTION_MS", "MAX_CHECK_EVENTS", "RedisAttemptHistory"]

# The most check events recorded per verification; later ones are only counted.
MAX_CHECK_EVENTS = 12
BATCH = 200
# Days of buckets probed (XLEN) per round trip while looking for the next non-empty one.
PROBE_DAYS = 32
_CHECK_OUTCOMES = {"w": "wrong", "a": "approved", "l": "refused"}
_KEY_BYTES = sids.ATTEMPT_KEY_HEX_DIGITS // 2


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


@dataclass(slots=True)
class _Stream:
    """One service's bucket of one day, read in batches, newest first."""

    service_sid: str
    locator: str
    day: int
    records: str
    statuses: str
    upper: str  # the next batch's newest id (inclusive)
    oldest: str
    buffer: list[tuple[AttemptCursor, AttemptRow | None]]
    done: bool = False


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
        self.records = RedisAttemptRecords(client, scripts, history_keys, cipher, retention_ms)
        self.retention_ms = retention_ms

    # -- walking ------------------------------------------------------------------------

    @fail_closed
    def _services(self, service_sids: Sequence[str] | None) -> list[str]:
        if service_sids is not None:
            return [sid for sid in service_sids if sids.is_sid(sid, "VA")]
        listed: Any = self._client.zrange(self._keys.service_index(), 0, -1)
        return [sid.decode() for sid in listed]

    @fail_closed
    def _probe(self, days: list[int], services: list[str]) -> list[tuple[int, list[str]]]:
        """The days (newest first) with their services whose bucket holds anything."""
        pipe = self._client.pipeline(transaction=False)
        for day in days:
            for service_sid in services:
                pipe.xlen(self._history.records(sids.service_locator(service_sid), day))
        lengths = iter(pipe.execute())
        found = []
        for day in days:
            busy = [service_sid for service_sid in services if next(lengths)]
            if busy:
                found.append((day, busy))
        return found

    @fail_closed
    def _fill(self, streams: list[_Stream], after: AttemptCursor | None, match: Any) -> None:
        """The next batch of each stream (one round trip)."""

        def build(pipe: Any) -> None:
            for stream in streams:
                pipe.evalsha(
                    self._scripts.sha("list_attempts"),
                    2,
                    stream.records,
                    stream.statuses,
                    stream.upper,
                    stream.oldest,
                    BATCH,
                    _KEY_BYTES,
                )

        replies = self._scripts.run_pipeline(self._client, build)
        for stream, reply in zip(streams, replies, strict=True):
            owner = reply[0].decode() if reply[0] else stream.service_sid
            entries = reply[1:]
            stream.done = len(entries) < BATCH
            for entry_id, blob, raw_status in entries:
                stream.upper = "(" + entry_id.decode()
                cursor_row = _row(stream, owner, entry_id, blob, raw_status)
                if cursor_row is None:
                    continue
                cursor, row = cursor_row
                if after is not None and _key(cursor) <= _key(after):
                    continue
                if row is not None and owner != stream.service_sid:
                    row = None  # another service's bucket (a locator collision)
                if (
                    row is not None
                    and match is not None
                    and not match(row.service_sid, row.verification_sid)
                ):
                    row = None
                stream.buffer.append((cursor, row))

    def _day(
        self,
        day: int,
        services: list[str],
        newest_ms: int | None,
        oldest_ms: int,
        after: AttemptCursor | None,
        match: Any,
    ) -> Iterator[tuple[AttemptCursor, AttemptRow | None]]:
        """The day's entries of every service, newest first (ties: by sid)."""
        upper = "+" if newest_ms is None else str(newest_ms)
        located = sids.attempt_location(after.sid) if after is not None else None
        if after is not None and located is not None and located.day == day:
            # The cursor's own day: from its entry down (the entries that tie with it are
            # told apart by sid, in _fill).
            upper = f"{after.created_ms}-{after.seq}"
        else:
            after = None
        streams = []
        for service_sid in services:
            locator = sids.service_locator(service_sid)
            streams.append(
                _Stream(
                    service_sid,
                    locator,
                    day,
                    self._history.records(locator, day),
                    self._history.statuses(locator, day),
                    upper,
                    str(oldest_ms),
                    [],
                )
            )
        self._fill(streams, after, match)
        for stream in streams:
            while not stream.buffer and not stream.done:
                self._fill([stream], after, match)
        heap: list[tuple[tuple[int, int, str], int, int]] = []
        for index, stream in enumerate(streams):
            if stream.buffer:
                heapq.heappush(heap, (_key_of(stream.buffer[0][0]), index, 0))
        while heap:
            _, index, position = heapq.heappop(heap)
            stream = streams[index]
            yield stream.buffer[position]
            position += 1
            if position == len(stream.buffer) and not stream.done:
                stream.buffer, position = [], 0
                while not stream.buffer and not stream.done:
                    self._fill([stream], after, match)
            if position < len(stream.buffer):
                heapq.heappush(heap, (_key_of(stream.buffer[position][0]), index, position))

    def _rows(
        self,
        service_sids: Sequence[str] | None,
        newest_ms: int | None,
        oldest_ms: int,
        after: AttemptCursor | None,
        now_ms: int,
        match: Any,
    ) -> Iterator[tuple[AttemptCursor, AttemptRow | None]]:
        services = self._services(service_sids)
        if not services:
            return
        # Another process's clock may run ahead of ours: one day more at the top. Never more,
        # and never below the retention, whatever the caller's dates or token say: the walk
        # probes at most the retention's days and the day ahead.
        top = now_ms // sids.DAY_MS + 1
        if newest_ms is not None:
            top = min(top, newest_ms // sids.DAY_MS)
        if after is not None:
            located = sids.attempt_location(after.sid)
            if located is not None:
                top = min(top, located.day)
        bottom = max(oldest_ms, now_ms - self.retention_ms) // sids.DAY_MS
        day = top
        while day >= bottom:
            days = list(range(day, max(bottom, day - PROBE_DAYS + 1) - 1, -1))
            for busy_day, busy in self._probe(days, services):
                yield from self._day(busy_day, busy, newest_ms, oldest_ms, after, match)
            day = days[-1] - 1

    def walk(
        self,
        service_sids: Sequence[str] | None,
        newest_ms: int | None,
        oldest_ms: int,
        after: AttemptCursor | None,
        now_ms: int,
        match: Callable[[str, str], bool] | None = None,
    ) -> Iterator[tuple[AttemptCursor, HistoricAttempt | None]]:
        # A generator: each step that talks to Redis fails closed on its own.
        rows = self._rows(service_sids, newest_ms, oldest_ms, after, now_ms, match)
        while True:
            batch = self._next_batch(rows)
            if not batch:
                return
            yield from self._complete(batch, now_ms)

    @fail_closed
    def _next_batch(
        self, rows: Iterator[tuple[AttemptCursor, AttemptRow | None]]
    ) -> list[tuple[AttemptCursor, AttemptRow | None]]:
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                break
        return batch

    @fail_closed
    def _complete(
        self, batch: list[tuple[AttemptCursor, AttemptRow | None]], now_ms: int
    ) -> list[tuple[AttemptCursor, HistoricAttempt | None]]:
        verifications = {
            (row.service_sid, row.verification_sid) for _cursor, row in batch if row is not None
        }
        outcomes = self._outcomes(sorted(verifications), now_ms)
        results: list[tuple[AttemptCursor, HistoricAttempt | None]] = []
        for cursor, row in batch:
            if row is None:
                results.append((cursor, None))
                continue
            outcome = outcomes.get((row.service_sid, row.verification_sid), "expired")
            results.append((cursor, self._attempt(row, outcome)))
        return results

    def _attempt(self, row: AttemptRow, outcome: str) -> HistoricAttempt:
        status = row.status
        return HistoricAttempt(
            sid=row.sid,
            service_sid=row.service_sid,
            verification_sid=row.verification_sid,
            channel=row.channel,
            country=row.country,
            destination=self.records.open_destination(row),
            created_ms=row.created_ms,
            updated_ms=row.updated_ms,
            delivery_status=status.get("status", "queued"),
            provider=status.get("provider"),
            error_code=status.get("err"),
            outcome=outcome,
            messaging_service_sid=status.get("mg"),
        )

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

    @fail_closed
    def get(self, sid: str, now_ms: int) -> HistoricAttempt | None:
        row = self.records.read(sid)
        if row is None:
            return None
        cursor = AttemptCursor(row.created_ms, sid, row.entry_seq)
        return self._complete([(cursor, row)], now_ms)[0][1]

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


def _key(cursor: AttemptCursor) -> tuple[int, int, int, str]:
    """A position in the walk's order, growing with age: day, then time, then sid."""
    located = sids.attempt_location(cursor.sid)
    day = located.day if located is not None else 0
    return (-day, -cursor.created_ms, -cursor.seq, cursor.sid)


def _key_of(cursor: AttemptCursor) -> tuple[int, int, str]:
    return (-cursor.created_ms, -cursor.seq, cursor.sid)


def _row(
    stream: _Stream, owner: str, entry_id: bytes, blob: bytes, raw_status: bytes | None
) -> tuple[AttemptCursor, AttemptRow | None] | None:
    """A stream entry as a cursor and a row (None: not readable)."""
    ms_text, _, seq_text = entry_id.decode().partition("-")
    record = unpack_record(blob)
    if record is None:
        return None
    day = stream.day
    sid = sids.attempt_sid(stream.locator, day, record.key)
    cursor = AttemptCursor(int(ms_text), sid, int(seq_text or 0))
    if raw_status is None:
        return cursor, None
    status = decode_status(raw_status, day * sids.DAY_MS)
    if not status:
        return cursor, None
    row = AttemptRow(
        sid=sid,
        service_sid=owner,
        verification_sid=record.verification_sid,
        channel=record.channel,
        country=record.country,
        sealed_to=record.sealed_to,
        created_ms=int(ms_text),
        entry_seq=int(seq_text or 0),
        status=status,
    )
    return cursor, row

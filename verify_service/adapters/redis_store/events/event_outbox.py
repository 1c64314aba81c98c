"""The event outbox: the delivery queue's layout (keys.py `OutboxShard`: a stream read by a
consumer group, a delayed set for retries, a bounded dead-letter list) in shards of its
own (`EventOutboxKeys`), driven by the delivery queue's own scripts (complete, reschedule,
promote, dead-letter, requeue: their fields `att`/`job`/`p`/`t`/`q` are generic; here
`att` is the delivery key `<event uuid>.<YW sid>`, `p` is 0, `t` the try number).

One stream entry per event and subscribed webhook (fan-out at write time), in the
webhook's shard. Entries are sealed (AES-256-GCM under the ring's outbox key, bound to the
delivery key): an event for an `IncludeDestination` webhook carries the full destination."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher, key_id_of
from verify_service.adapters.redis_store.delivery.delivery_queue import (
    FOREIGN_KEY_RETRY_MS,
    outbox_backlog,
)
from verify_service.adapters.redis_store.delivery.outbox_seals import OutboxSeals
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import EventOutboxKeys, OutboxShard
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.events.ports import (
    EventDeadLetter,
    EventDelivery,
    delivery_key,
)
from verify_service.application.metrics.ports import QueueBacklog
from verify_service.application.secrets.ports import Progress, ResealCount
from verify_service.domain.events.events import Event

log = logging.getLogger(__name__)

GROUP = "events"
DEAD_LETTER_BOUND = 10_000
PROMOTE_LIMIT = 100


def _context(key: str) -> bytes:
    return b"event:" + key.encode("ascii")


class RedisEventOutbox:
    def __init__(
        self,
        client: redis.Redis,
        scripts: ScriptBook,
        keys: EventOutboxKeys,
        sealer: DestinationCipher,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._sealer = sealer
        self._shards = keys.every_shard
        self._by_tag = {shard.tag: shard for shard in self._shards}
        self._next_reclaim_s: dict[str, float] = {}  # by consumer: its next look
        self._cursor = 0  # the shard the next read starts at (round robin)

    def _seal(self, event: Event, webhook_sid: str) -> bytes:
        key = delivery_key(event.event_id, webhook_sid)
        plain = json.dumps({"e": event.to_json(), "w": webhook_sid}, separators=(",", ":"))
        return self._sealer.seal(plain, _context(key))

    # -- producing ----------------------------------------------------------------------

    @fail_closed
    def append(self, event: Event, webhook_sids: Sequence[str]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for webhook_sid in webhook_sids:
            pipe.xadd(
                self._keys.for_webhook(webhook_sid).stream,
                {
                    "att": delivery_key(event.event_id, webhook_sid),
                    "job": self._seal(event, webhook_sid),
                    "p": 0,
                    "t": 0,
                    "q": event.occurred_ms,
                },
            )
            # Deliveries pending per webhook (the backlog cap reads it): same round trip.
            pipe.hincrby(self._keys.for_webhook(webhook_sid).backlogs, webhook_sid, 1)
        pipe.execute()

    # -- consuming ----------------------------------------------------------------------

    @fail_closed
    def ensure_groups(self) -> None:
        for shard in self._shards:
            try:
                self._client.xgroup_create(shard.stream, GROUP, id="0", mkstream=True)
            except redis.exceptions.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _next_shards(self, count: int) -> tuple[OutboxShard, ...]:
        """`count` shards (at most all), starting where the last read stopped: every
        shard gets its turn, whatever sits at the head of the others."""
        count = max(1, min(count, len(self._shards)))
        start = self._cursor
        self._cursor = (start + count) % len(self._shards)
        return tuple(self._shards[(start + i) % len(self._shards)] for i in range(count))

    @fail_closed
    def read(self, consumer: str, count: int, visibility_ms: int) -> list[EventDelivery]:
        """At most `count` deliveries in all, one per shard from `count` shards taken in
        turn (the next `count` if those have none, until every shard was looked at):
        deliveries a dead worker abandoned (idle past the visibility timeout; looked for
        at most every quarter of it), then new ones, in one pipeline (a round trip per
        Redis node). The caller starts sending each at once (its visibility timeout runs
        from here): it reads only as many as it has senders free."""
        now_s = time.monotonic()
        reclaim = now_s >= self._next_reclaim_s.get(consumer, 0.0)
        if reclaim:
            self._next_reclaim_s[consumer] = now_s + min(1.0, visibility_ms / 4000)
        looked = 0
        while looked < len(self._shards):
            shards = self._next_shards(count)
            looked += len(shards)
            if reclaim:
                reclaimed = self._reclaim(consumer, shards, visibility_ms)
                if reclaimed:
                    return reclaimed
            found, missing_group = self._read_new(consumer, shards)
            if missing_group:
                # A first start, or a Redis that restarted empty: the groups, then again.
                self.ensure_groups()
                found += self._read_new(consumer, shards)[0]
            if found:
                return found
        return []

    def _read_new(
        self, consumer: str, shards: tuple[OutboxShard, ...]
    ) -> tuple[list[EventDelivery], bool]:
        found: list[EventDelivery] = []
        pipe = self._client.pipeline(transaction=False)
        for shard in shards:
            pipe.xreadgroup(GROUP, consumer, {shard.stream: ">"}, count=1)
        replies = pipe.execute(raise_on_error=False)
        missing_group = False
        for shard, reply in zip(shards, replies, strict=True):
            if isinstance(reply, Exception):
                if "NOGROUP" not in str(reply):
                    raise reply
                missing_group = True
                continue
            for _stream, entries in reply or []:
                found += self._deliveries(shard, entries, {})
        return found, missing_group

    def _reclaim(
        self, consumer: str, shards: tuple[OutboxShard, ...], visibility_ms: int
    ) -> list[EventDelivery]:
        pipe = self._client.pipeline(transaction=False)
        for shard in shards:
            pipe.xautoclaim(shard.stream, GROUP, consumer, visibility_ms, "0-0", count=1)
        replies = pipe.execute(raise_on_error=False)
        found: list[EventDelivery] = []
        for shard, reply in zip(shards, replies, strict=True):
            if isinstance(reply, Exception):
                continue  # NOGROUP: nothing to reclaim there
            entries = [entry for entry in reply[1] if entry and entry[1]]
            deliveries: dict[bytes, int] = {}
            for entry_id, _fields in entries:
                pending: Any = self._client.xpending_range(
                    shard.stream, GROUP, entry_id, entry_id, 1
                )
                if pending:
                    deliveries[entry_id] = int(pending[0]["times_delivered"])
            found += self._deliveries(shard, entries, deliveries)
        return found

    def _deliveries(
        self,
        shard: OutboxShard,
        entries: list[tuple[bytes, dict[bytes, bytes]]],
        deliveries: dict[bytes, int],
    ) -> list[EventDelivery]:
        found = []
        for entry_id, fields in entries:
            key = fields[b"att"].decode()
            plain = self._sealer.open(fields[b"job"], _context(key))
            if plain is None and not self._sealer.can_open(fields[b"job"]):
                # Sealed under a key this process's ring lacks (a newer worker's, mid-
                # rotation): put back for a worker that has it, never dropped.
                self._put_back(shard, entry_id, fields)
                continue
            if plain is None:
                # Under one of our keys, yet unreadable (altered): undeliverable, dropped.
                if self._scripts.run(
                    self._client, "complete_delivery", [shard.stream], [GROUP, entry_id]
                ):
                    _, _, webhook_sid = key.rpartition(".")
                    self._client.hincrby(shard.backlogs, webhook_sid, -1)
                continue
            data = json.loads(plain)
            found.append(
                EventDelivery(
                    delivery_id=f"{shard.tag}/{entry_id.decode()}",
                    event=Event.from_json(data["e"]),
                    webhook_sid=data["w"],
                    try_number=int(fields[b"t"]),
                    enqueued_ms=int(fields[b"q"]),
                    deliveries=deliveries.get(entry_id, 1),
                )
            )
        return found

    def _put_back(self, shard: OutboxShard, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        """Into the delayed set as it is (same sealed bytes, same try), due a little later.
        Redis's clock: the one place the outbox needs the time itself."""
        log.warning(
            "events: a delivery sealed under key %s, which this process's ring lacks, is put "
            "back for a worker that has it",
            key_id_of(fields[b"job"]),
        )
        seconds, micros = self._client.time()
        due_ms = int(seconds) * 1000 + int(micros) // 1000 + FOREIGN_KEY_RETRY_MS
        member = b":".join([fields[b"att"], b"0", fields[b"t"], fields[b"q"]])
        self._scripts.run(
            self._client,
            "reschedule_delivery",
            [shard.stream, shard.delayed, shard.delayed_jobs],
            [GROUP, entry_id, due_ms, member, fields[b"job"]],
        )

    def _where(self, delivery: EventDelivery) -> tuple[OutboxShard, str]:
        tag, _, entry_id = delivery.delivery_id.rpartition("/")
        return self._by_tag[tag], entry_id

    def _left(self, shard: OutboxShard, delivery: EventDelivery) -> None:
        """One delivery fewer pending for its webhook (after the script that removed it
        said it did: a worker dying in between leaves the count one high, never low)."""
        self._client.hincrby(shard.backlogs, delivery.webhook_sid, -1)

    @fail_closed
    def complete(self, delivery: EventDelivery) -> bool:
        shard, entry_id = self._where(delivery)
        done = bool(
            self._scripts.run(self._client, "complete_delivery", [shard.stream], [GROUP, entry_id])
        )
        if done:
            self._left(shard, delivery)
        return done

    @fail_closed
    def hold(self, delivery: EventDelivery, consumer: str) -> bool:
        """Just before sending a delivery read a while ago: True (and its idle time reset)
        if `consumer` still holds it, False if another worker took it over."""
        shard, entry_id = self._where(delivery)
        return bool(
            self._scripts.run(
                self._client,
                "hold_event_delivery",
                [shard.stream],
                [GROUP, entry_id, consumer],
            )
        )

    @fail_closed
    def backlog_of(self, webhook_sid: str) -> int:
        """Deliveries pending for one webhook (queued, in hand or waiting for a retry)."""
        count = self._client.hget(self._keys.for_webhook(webhook_sid).backlogs, webhook_sid)
        return int(count) if count is not None else 0

    @fail_closed
    def reschedule(self, delivery: EventDelivery, due_ms: int, try_number: int) -> bool:
        shard, entry_id = self._where(delivery)
        member = f"{delivery.key}:0:{try_number}:{delivery.enqueued_ms}"
        done = self._scripts.run(
            self._client,
            "reschedule_delivery",
            [shard.stream, shard.delayed, shard.delayed_jobs],
            [GROUP, entry_id, due_ms, member, self._seal(delivery.event, delivery.webhook_sid)],
        )
        return bool(done)

    @fail_closed
    def promote_due(self, now_ms: int) -> int:
        """Due retries of every shard back onto their streams, in one pipeline."""

        def build(pipe: Any) -> None:
            promote = self._scripts.sha("promote_due_deliveries")
            for shard in self._shards:
                pipe.evalsha(
                    promote,
                    3,
                    shard.stream,
                    shard.delayed,
                    shard.delayed_jobs,
                    now_ms,
                    PROMOTE_LIMIT,
                )

        return sum(int(moved) for moved in self._scripts.run_pipeline(self._client, build))

    @fail_closed
    def dead_letter(self, delivery: EventDelivery, reason: str, now_ms: int) -> bool:
        shard, entry_id = self._where(delivery)
        letter = f"{now_ms}|{delivery.event.type.value}|{reason}"
        done = self._scripts.run(
            self._client,
            "dead_letter_delivery",
            [shard.stream, shard.dead, shard.dead_letters],
            [
                GROUP,
                entry_id,
                delivery.key,
                letter,
                self._seal(delivery.event, delivery.webhook_sid),
                DEAD_LETTER_BOUND,
            ],
        )
        if done:
            self._left(shard, delivery)
        return bool(done)

    @fail_closed
    def dead_letters(self, limit: int) -> list[EventDeadLetter]:
        """The newest `limit` dead letters of every shard, newest first."""
        pipe = self._client.pipeline(transaction=False)
        for shard in self._shards:
            pipe.lrange(shard.dead, 0, limit - 1)
        listed = pipe.execute()
        pipe = self._client.pipeline(transaction=False)
        wanted = []
        for shard, keys in zip(self._shards, listed, strict=True):
            if keys:
                names = [key.decode() for key in keys]
                wanted.append(names)
                pipe.hmget(shard.dead_letters, [f"{name}:why" for name in names])
        letters = []
        for names, whys in zip(wanted, pipe.execute() if wanted else [], strict=True):
            for name, why in zip(names, whys, strict=True):
                if why is not None:
                    failed_ms, event_type, reason = why.decode().split("|", 2)
                    letters.append(EventDeadLetter(name, int(failed_ms), event_type, reason))
        letters.sort(key=lambda letter: letter.failed_ms, reverse=True)
        return letters[:limit]

    @fail_closed
    def requeue(self, key: str, now_ms: int) -> bool:
        """A dead letter back on its stream, with a fresh try count."""
        _event_id, _, webhook_sid = key.rpartition(".")
        if not webhook_sid:
            return False
        shard = self._keys.for_webhook(webhook_sid)
        entry = self._scripts.run(
            self._client,
            "requeue_dead_letter",
            [shard.stream, shard.dead, shard.dead_letters],
            [key, now_ms],
        )
        if entry is not None:
            self._client.hincrby(shard.backlogs, webhook_sid, 1)
        return entry is not None

    # -- rotation (`Resealable`, as the delivery queue's: outbox_seals.py) --------------

    kind = "event outbox"

    def _seals(self) -> OutboxSeals:
        return OutboxSeals(
            self.kind,
            self._client,
            self._scripts,
            self._sealer,
            lambda: self._shards,
            GROUP,
            context=lambda key: b"event:" + key,  # a delivery is bound to its key
        )

    def key_ids(self) -> Counter[str]:
        return self._seals().key_ids()

    def reseal(self, progress: Progress, now_ms: int) -> ResealCount:
        return self._seals().reseal(progress, now_ms)

    queue_name = "events"

    @fail_closed
    def backlog(self) -> QueueBacklog:
        """The event outbox's backlog, as the metrics and `/readyz` read the delivery one."""
        return outbox_backlog(self._client, self._scripts, self._shards)

    def depth(self) -> int:
        """Deliveries written and not yet done (queued, in hand, or waiting for a retry)."""
        pipe = self._client.pipeline(transaction=False)
        for shard in self._shards:
            pipe.xlen(shard.stream)
            pipe.zcard(shard.delayed)
        return sum(int(n) for n in pipe.execute())

"""The outbox: Redis streams read by a consumer group, delayed sets for retries, and bounded
dead-letter lists, in `OutboxKeys.shards` shards (keys.py): a message goes to the shard of its
attempt sid, and a worker reads every shard in turn. Jobs carry the code, so each is sealed
(AES-256-GCM) at rest, naming its ring key (`DestinationCipher`); a job under a key this
process does not hold is put back for another worker, never dropped (docs/key-rotation.md)."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher, key_id_of
from verify_service.adapters.redis_cluster import is_cluster
from verify_service.adapters.redis_store.attempts.attempt_records import RedisAttemptRecords
from verify_service.adapters.redis_store.delivery.outbox_seals import OutboxSeals
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import OutboxKeys, OutboxShard
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.metrics.ports import QueueBacklog
from verify_service.application.secrets.ports import Progress, ResealCount
from verify_service.domain.delivery.delivery import DeliveryJob, RenderedMessage
from verify_service.domain.models import Channel

log = logging.getLogger(__name__)

GROUP = "delivery"
DEAD_LETTER_BOUND = 10_000
# How often (clock ms) a worker looks at every shard's delayed retries: a retry is sent at
# most this late (its own retries, this process finds at once). 17 scripts a look.
PROMOTE_ALL_MS = 100
# A job sealed under a key this worker's ring lacks (a newer worker's, mid-rotation) waits
# this long in the delayed set, then is offered again: no worker drops or dead-letters it.
FOREIGN_KEY_RETRY_MS = 5_000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    attempt_sid: str
    failed_ms: int
    channel: str
    reason: str


@dataclass(slots=True)
class _ReclaimPass:
    """A consumer's look for abandoned deliveries over every shard, a few shards a read."""

    cursor: int = 0  # the next shard it looks at
    left: int = 0  # shards it has still to look at (0: none under way)
    next_s: float = 0.0  # when the next pass starts (time.monotonic)


class RedisDeliveryQueue:
    def __init__(
        self,
        client: redis.Redis,
        scripts: ScriptBook,
        keys: OutboxKeys,
        sealer: DestinationCipher,
        attempts: RedisAttemptRecords,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._sealer = sealer
        # Attempts' delivery status lives in the attempt history (attempts/attempt_records.py).
        self._attempts = attempts
        self._shards = keys.every_shard
        self._by_tag = {shard.tag: shard for shard in self._shards}
        self._next_shard = 0  # where the next read starts, so every shard gets its turn
        self._reclaims: dict[str, _ReclaimPass] = {}  # by consumer
        self._cluster = is_cluster(client)
        self._promote_all_ms = 0  # when every shard's due retries are next looked at
        self._own_due_ms: dict[str, int] = {}  # shard tag -> earliest retry this process set

    def _job_shard(self, job_id: str) -> tuple[OutboxShard, str]:
        """The shard and stream entry id of a job id (`<shard tag>/<entry id>`)."""
        tag, _, entry_id = job_id.rpartition("/")
        return self._by_tag[tag], entry_id

    # -- sealing ------------------------------------------------------------------------

    def _seal(self, job: DeliveryJob) -> bytes:
        message = job.message
        plain = json.dumps(
            {
                "ve": job.verification_sid,
                "va": job.service_sid,
                "tag": job.verification_tag,
                "to": job.to,
                "ch": message.channel.value,
                "lo": message.locale,
                "text": message.text,
                "subject": message.subject,
                "html": message.html,
                "voice": message.voice_language,
                # Every key added after the first format is optional and sealed only when
                # it has a value: an entry queued before a key existed (or without a value)
                # reads it back as None. `rt` (route sid) and `wa_from` (Whatsapp.From,
                # DeliveryJob.whatsapp_sender) are the job's; `from`, `from_name` (the
                # e-mail's ChannelConfiguration) and `digits` (SendDigits) the message's.
                # Keys never change name: jobs queued by an older version must still read.
                **_optional(
                    ("rt", job.route_sid),
                    ("wa_from", job.whatsapp_sender),
                    ("from", message.sender),
                    ("from_name", message.sender_name),
                    ("digits", message.send_digits),
                ),
            },
            separators=(",", ":"),
        )
        return self._sealer.seal(plain, job.attempt_sid.encode("ascii"))

    def _unseal(
        self, job_id: str, fields: dict[bytes, bytes], deliveries: int = 1
    ) -> DeliveryJob | None:
        attempt_sid = fields[b"att"].decode()
        plain = self._sealer.open(fields[b"job"], attempt_sid.encode("ascii"))
        if plain is None:
            return None  # sealed under a previous secret key: undeliverable
        data: dict[str, Any] = json.loads(plain)
        return DeliveryJob(
            attempt_sid=attempt_sid,
            verification_sid=data["ve"],
            service_sid=data["va"],
            verification_tag=data["tag"],
            to=data["to"],
            message=RenderedMessage(
                channel=Channel(data["ch"]),
                locale=data["lo"],
                text=data["text"],
                subject=data["subject"],
                html=data["html"],
                voice_language=data["voice"],
                sender=data.get("from"),
                sender_name=data.get("from_name"),
                send_digits=data.get("digits"),
            ),
            enqueued_ms=int(fields[b"q"]),
            provider_index=int(fields[b"p"]),
            try_number=int(fields[b"t"]),
            job_id=job_id,
            deliveries=deliveries,
            route_sid=data.get("rt"),  # absent in jobs queued before routes
            whatsapp_sender=data.get("wa_from"),
        )

    # -- producing ----------------------------------------------------------------------

    def queue_commands(self, pipe: Any, job: DeliveryJob) -> None:
        """Add the commands that queue `job` to a caller's pipeline (one round trip with
        the caller's own commands). The caller records the attempt (status `queued`) in the
        attempt history in the same pipeline (RedisAttemptRecords.queue_creation)."""
        pipe.xadd(
            self._keys.for_attempt(job.attempt_sid).stream,
            {"att": job.attempt_sid, "job": self._seal(job), "p": 0, "t": 0, "q": job.enqueued_ms},
        )

    @fail_closed
    def enqueue(self, job: DeliveryJob) -> None:
        pipe = self._client.pipeline(transaction=False)
        self.queue_commands(pipe, job)
        pipe.execute()

    # -- consuming ----------------------------------------------------------------------

    @fail_closed
    def ensure_group(self) -> None:
        for shard in self._shards:
            self._ensure_group(shard)

    def _ensure_group(self, shard: OutboxShard) -> None:
        try:
            self._client.xgroup_create(shard.stream, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @fail_closed
    def read(
        self, consumer: str, count: int, block_ms: int, visibility_ms: int
    ) -> list[DeliveryJob]:
        """Deliveries abandoned by a dead worker (idle past the visibility timeout) first,
        then new ones, shard after shard (starting where the last read stopped) until
        `count` are found; when none is, waiting up to `block_ms` for one (`_wait_for_new`).
        A shard's consumer group is created when missing (first start, or a Redis that
        restarted empty).

        Abandoned deliveries are looked for in passes over every shard, a pass at most
        every quarter of the visibility timeout (and every second at most): the look costs
        a command per shard, and what it finds has waited a whole timeout already."""
        jobs: list[DeliveryJob] = []
        shards = len(self._shards)
        now_s = time.monotonic()
        reclaim = self._reclaims.setdefault(consumer, _ReclaimPass())
        if reclaim.left == 0 and now_s >= reclaim.next_s:
            reclaim.left = shards
        while reclaim.left and len(jobs) < count:
            shard = self._shards[reclaim.cursor]
            reclaim.cursor = (reclaim.cursor + 1) % shards
            reclaim.left -= 1
            if reclaim.left == 0:
                reclaim.next_s = now_s + min(1.0, visibility_ms / 4000)
            jobs += self._grouped(self._reclaim, shard, consumer, count - len(jobs), visibility_ms)
        for turn in range(shards):
            if len(jobs) >= count:
                return jobs
            shard = self._shards[self._next_shard]
            self._next_shard = (self._next_shard + 1) % shards
            jobs += self._grouped(self._read_new, shard, consumer, count - len(jobs), 0)
            del turn
        if not jobs and block_ms:
            jobs += self._wait_for_new(consumer, count, block_ms)
        return jobs

    def _wait_for_new(self, consumer: str, count: int, block_ms: int) -> list[DeliveryJob]:
        """Wait up to `block_ms` for a new delivery. One server: on every shard at once (an
        XADD anywhere wakes the worker; every shard was just found empty, so one stream
        answers). A cluster: a blocking read cannot span slots, so on the next shard only."""
        if self._cluster:
            shard = self._shards[self._next_shard]
            self._next_shard = (self._next_shard + 1) % len(self._shards)
            return self._grouped(self._read_new, shard, consumer, count, block_ms)
        streams: dict[Any, Any] = {shard.stream: ">" for shard in self._shards}
        try:
            reply: Any = self._client.xreadgroup(
                GROUP, consumer, streams, count=count, block=block_ms
            )
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group()
            reply = self._client.xreadgroup(GROUP, consumer, streams, count=count, block=block_ms)
        jobs = []
        for stream, entries in reply or []:
            name = stream.decode() if isinstance(stream, bytes) else str(stream)
            shard = next(shard for shard in self._shards if shard.stream == name)
            jobs += self._jobs(shard, entries, {})
        return jobs

    def _grouped(
        self,
        take: Callable[[OutboxShard, str, int, int], list[DeliveryJob]],
        shard: OutboxShard,
        consumer: str,
        count: int,
        option: int,
    ) -> list[DeliveryJob]:
        """`take` from `shard`, creating its consumer group once if it is missing."""
        try:
            return take(shard, consumer, count, option)
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._ensure_group(shard)
            return take(shard, consumer, count, option)

    def _reclaim(
        self, shard: OutboxShard, consumer: str, count: int, visibility_ms: int
    ) -> list[DeliveryJob]:
        claimed: Any = self._client.xautoclaim(
            shard.stream, GROUP, consumer, visibility_ms, "0-0", count=count
        )
        # A claimed entry deleted meanwhile comes back without fields: nothing to deliver.
        entries = [entry for entry in claimed[1] if entry and entry[1]]
        # How often each reclaimed entry was handed out: one that keeps killing or hanging its
        # worker must end as a dead letter, not come back forever (one look-up per reclaim).
        deliveries: dict[bytes, int] = {}
        for entry_id, _fields in entries:
            pending: Any = self._client.xpending_range(shard.stream, GROUP, entry_id, entry_id, 1)
            if pending:
                deliveries[entry_id] = int(pending[0]["times_delivered"])
        return self._jobs(shard, entries, deliveries)

    def _read_new(
        self, shard: OutboxShard, consumer: str, count: int, block_ms: int
    ) -> list[DeliveryJob]:
        reply: Any = self._client.xreadgroup(
            GROUP, consumer, {shard.stream: ">"}, count=count, block=block_ms or None
        )
        entries: list[tuple[bytes, dict[bytes, bytes]]] = []
        for _stream, stream_entries in reply or []:
            entries += stream_entries
        return self._jobs(shard, entries, {})

    def _jobs(
        self,
        shard: OutboxShard,
        entries: list[tuple[bytes, dict[bytes, bytes]]],
        deliveries: dict[bytes, int],
    ) -> list[DeliveryJob]:
        jobs = []
        for entry_id, fields in entries:
            job_id = f"{shard.tag}/{entry_id.decode()}"
            job = self._unseal(job_id, fields, deliveries.get(entry_id, 1))
            if job is None and not self._sealer.can_open(fields[b"job"]):
                self._put_back(shard, entry_id, fields)
                continue
            if job is None:
                self._scripts.run(
                    self._client, "complete_delivery", [shard.stream], [GROUP, entry_id]
                )
                continue
            jobs.append(job)
        return jobs

    def _put_back(self, shard: OutboxShard, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        """A job sealed under a key not on this ring: into the delayed set as it is (same
        sealed bytes, same provider and try), due a little later, for a worker that has the
        key. Redis's clock, since this is the one place the queue needs the time."""
        log.warning(
            "outbox: a job sealed under key %s, which this process's ring lacks, is put back "
            "for a worker that has it",
            key_id_of(fields[b"job"]),
        )
        seconds, micros = self._client.time()
        due_ms = int(seconds) * 1000 + int(micros) // 1000 + FOREIGN_KEY_RETRY_MS
        member = b":".join([fields[b"att"], fields[b"p"], fields[b"t"], fields[b"q"]])
        self._scripts.run(
            self._client,
            "reschedule_delivery",
            [shard.stream, shard.delayed, shard.delayed_jobs],
            [GROUP, entry_id, due_ms, member, fields[b"job"]],
        )

    @fail_closed
    def complete(self, job: DeliveryJob) -> bool:
        shard, entry_id = self._job_shard(job.job_id)
        done = self._scripts.run(
            self._client, "complete_delivery", [shard.stream], [GROUP, entry_id]
        )
        return bool(done)

    @fail_closed
    def reschedule(
        self, job: DeliveryJob, due_ms: int, provider_index: int, try_number: int
    ) -> bool:
        member = f"{job.attempt_sid}:{provider_index}:{try_number}:{job.enqueued_ms}"
        shard, entry_id = self._job_shard(job.job_id)
        done = self._scripts.run(
            self._client,
            "reschedule_delivery",
            [shard.stream, shard.delayed, shard.delayed_jobs],
            [GROUP, entry_id, due_ms, member, self._seal(job)],
        )
        if done:
            earliest = self._own_due_ms.get(shard.tag, due_ms)
            self._own_due_ms[shard.tag] = min(earliest, due_ms)
        return bool(done)

    @fail_closed
    def promote_due(self, now_ms: int, limit: int = 100) -> int:
        """Due retries back onto their streams, up to `limit` per shard, in one pipeline
        (a round trip per Redis node). Every shard at most every PROMOTE_ALL_MS of the
        clock; in between, only the shards where this process scheduled a retry that is
        now due (its own next provider goes at once, with no wait)."""
        if now_ms >= self._promote_all_ms:
            self._promote_all_ms = now_ms + PROMOTE_ALL_MS
            for tag in [tag for tag, due_ms in self._own_due_ms.items() if due_ms <= now_ms]:
                del self._own_due_ms[tag]
            shards = self._shards
        else:
            due = {tag for tag, due_ms in self._own_due_ms.items() if due_ms <= now_ms}
            if not due:
                return 0
            for tag in due:
                del self._own_due_ms[tag]
            shards = tuple(shard for shard in self._shards if shard.tag in due)

        def build(pipe: Any) -> None:
            promote = self._scripts.sha("promote_due_deliveries")
            for shard in shards:
                pipe.evalsha(
                    promote, 3, shard.stream, shard.delayed, shard.delayed_jobs, now_ms, limit
                )

        return sum(int(moved) for moved in self._scripts.run_pipeline(self._client, build))

    @fail_closed
    def dead_letter(self, job: DeliveryJob, reason: str, now_ms: int) -> bool:
        letter = f"{now_ms}|{job.message.channel.value}|{reason}"
        shard, entry_id = self._job_shard(job.job_id)
        done = self._scripts.run(
            self._client,
            "dead_letter_delivery",
            [shard.stream, shard.dead, shard.dead_letters],
            [GROUP, entry_id, job.attempt_sid, letter, self._seal(job), DEAD_LETTER_BOUND],
        )
        return bool(done)

    @fail_closed
    def dead_letters(self, limit: int) -> list[DeadLetter]:
        """The newest `limit` dead letters of all shards, newest first (each shard's list
        is bounded by DEAD_LETTER_BOUND)."""

        def listing(pipe: Any) -> None:
            for shard in self._shards:
                pipe.lrange(shard.dead, 0, limit - 1)

        listed: list[Any] = self._scripts.run_pipeline(self._client, listing)
        wanted = [
            (shard, [a.decode() for a in attempts])
            for shard, attempts in zip(self._shards, listed, strict=True)
            if attempts
        ]
        if not wanted:
            return []

        def reasons(pipe: Any) -> None:
            for shard, attempts in wanted:
                pipe.hmget(shard.dead_letters, [f"{a}:why" for a in attempts])

        letters = []
        whys_by_shard = self._scripts.run_pipeline(self._client, reasons)
        for (_shard, attempts), whys in zip(wanted, whys_by_shard, strict=True):
            for attempt, why in zip(attempts, whys, strict=True):
                if why is None:
                    continue
                failed_ms, channel, reason = why.decode().split("|", 2)
                letters.append(DeadLetter(attempt, int(failed_ms), channel, reason))
        letters.sort(key=lambda letter: letter.failed_ms, reverse=True)
        return letters[:limit]

    @fail_closed
    def requeue(self, attempt_sid: str, now_ms: int) -> bool:
        """Back on its own shard's stream (the legacy outbox's letters too, so they move)."""
        shard = self._keys.for_attempt(attempt_sid)
        entry = self._scripts.run(
            self._client,
            "requeue_dead_letter",
            [shard.stream, shard.dead, shard.dead_letters],
            [attempt_sid, now_ms],
        )
        if entry is None:
            entry = self._requeue_legacy(self._keys.legacy, shard, attempt_sid, now_ms)
        if entry is None:
            return False
        # Its attempt failed when it was dead-lettered; it is queued again now.
        self._attempts.reopen(attempt_sid, now_ms)
        return True

    def _requeue_legacy(
        self, legacy: OutboxShard, target: OutboxShard, attempt_sid: str, now_ms: int
    ) -> Any:
        """A dead letter of the outbox before sharding: its sealed job is read there and
        queued on its shard, then the letter removed (two slots: a crash between the two
        leaves the letter listed as well as queued; requeuing it again is harmless, a
        delivery is at-least-once)."""
        job: Any = self._client.hget(legacy.dead_letters, attempt_sid)
        if job is None:
            return None
        entry = self._client.xadd(
            target.stream, {"att": attempt_sid, "job": job, "p": 0, "t": 0, "q": now_ms}
        )
        self._client.hdel(legacy.dead_letters, attempt_sid, f"{attempt_sid}:why")
        self._client.lrem(legacy.dead, 0, attempt_sid)
        return entry

    # -- backlog (the metrics' `QueueProbe`, read at scrape time) ----------------------------

    queue_name = "delivery"

    @fail_closed
    def backlog(self) -> QueueBacklog:
        """The outbox's backlog (`outbox_backlog`)."""
        return outbox_backlog(self._client, self._scripts, self._shards)

    # -- attempt status (kept by the attempt history) ----------------------------------

    def record_status(
        self,
        attempt_sid: str,
        status: str,
        now_ms: int,
        provider: str = "",
        provider_message_id: str = "",
        error_code: str = "",
        sender: str = "",
        route_sid: str = "",
    ) -> bool:
        """True when recorded; False when the status would have moved backwards."""
        return self._attempts.record_status(
            attempt_sid,
            status,
            now_ms,
            provider,
            provider_message_id,
            error_code,
            sender,
            route_sid,
        )

    def attempt_status(self, attempt_sid: str) -> dict[str, str]:
        return self._attempts.fields(attempt_sid)

    # -- rotation (`Resealable`: outbox_seals.py, shared with the event outbox) ----------

    kind = "outbox"

    def _outbox_keys(self) -> tuple[OutboxShard, ...]:
        """Every shard of the outbox, the one from before sharding included."""
        return self._shards

    def _seals(self) -> OutboxSeals:
        return OutboxSeals(
            self.kind,
            self._client,
            self._scripts,
            self._sealer,
            self._outbox_keys,
            GROUP,
            context=lambda attempt: attempt,  # a job is bound to its attempt sid
        )

    def key_ids(self) -> Counter[str]:
        return self._seals().key_ids()

    def reseal(self, progress: Progress, now_ms: int) -> ResealCount:
        """Re-seal every job at rest under the primary, each by a compare-and-set script.
        A queued job a worker holds (pending) is left to it: re-run once it is handled."""
        return self._seals().reseal(progress, now_ms)


def outbox_backlog(
    client: redis.Redis, scripts: ScriptBook, shards: tuple[OutboxShard, ...]
) -> QueueBacklog:
    """Every shard's length, first entry, delayed retries and dead letters: one pipeline of 4
    commands a shard, whatever the backlog (the delivery outbox and the event outbox share
    the layout). The oldest message is the stream entry that has waited longest since it
    entered its stream (queued, or its retry came due): its id is Redis's time of that
    moment."""

    def build(pipe: Any) -> None:
        for shard in shards:
            pipe.xlen(shard.stream)
            pipe.xrange(shard.stream, min="-", max="+", count=1)
            pipe.zcard(shard.delayed)
            pipe.llen(shard.dead)

    replies = scripts.run_pipeline(client, build)
    ready = delayed = dead = 0
    oldest: int | None = None
    for index in range(0, len(replies), 4):
        length, first, waiting, letters = replies[index : index + 4]
        ready, delayed, dead = ready + int(length), delayed + int(waiting), dead + int(letters)
        if first:
            entered_ms = int(first[0][0].split(b"-", 1)[0])
            oldest = entered_ms if oldest is None else min(oldest, entered_ms)
    return QueueBacklog(ready, delayed, dead, oldest)


def _optional(*pairs: tuple[str, str | None]) -> dict[str, str]:
    """The sealed job's optional keys that have a value (neither None nor empty)."""
    return {key: value for key, value in pairs if value}

"""The outbox: a Redis stream read by a consumer group, a delayed set for retries, and a
bounded dead-letter list. Jobs carry the code, so each is sealed (AES-256-GCM) at rest,
naming its ring key (`DestinationCipher`); a job under a key this process does not hold is
put back for another worker, never dropped (docs/key-rotation.md)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher, key_id_of
from verify_service.adapters.redis_store.attempts.attempt_records import RedisAttemptRecords
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import OutboxKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.secrets.ports import Progress, ResealCount
from verify_service.domain.delivery.delivery import DeliveryJob, RenderedMessage
from verify_service.domain.models import Channel

log = logging.getLogger(__name__)

GROUP = "delivery"
DEAD_LETTER_BOUND = 10_000
# A job sealed under a key this worker's ring lacks (a newer worker's, mid-rotation) waits
# this long in the delayed set, then is offered again: no worker drops or dead-letters it.
FOREIGN_KEY_RETRY_MS = 5_000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    attempt_sid: str
    failed_ms: int
    channel: str
    reason: str


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
            ),
            enqueued_ms=int(fields[b"q"]),
            provider_index=int(fields[b"p"]),
            try_number=int(fields[b"t"]),
            job_id=job_id,
            deliveries=deliveries,
        )

    # -- producing ----------------------------------------------------------------------

    def queue_commands(self, pipe: Any, job: DeliveryJob) -> None:
        """Add the commands that queue `job` to a caller's pipeline (one round trip with
        the caller's own commands). The caller records the attempt (status `queued`) in the
        attempt history in the same pipeline (RedisAttemptRecords.queue_creation)."""
        pipe.xadd(
            self._keys.stream,
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
        try:
            self._client.xgroup_create(self._keys.stream, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @fail_closed
    def read(
        self, consumer: str, count: int, block_ms: int, visibility_ms: int
    ) -> list[DeliveryJob]:
        """Deliveries abandoned by a dead worker (idle past the visibility timeout) first,
        then new ones, waiting up to `block_ms` for them. The consumer group is created
        when missing (first start, or a Redis that restarted empty)."""
        try:
            return self._read(consumer, count, block_ms, visibility_ms)
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group()
            return self._read(consumer, count, block_ms, visibility_ms)

    def _read(
        self, consumer: str, count: int, block_ms: int, visibility_ms: int
    ) -> list[DeliveryJob]:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = []
        claimed: Any = self._client.xautoclaim(
            self._keys.stream, GROUP, consumer, visibility_ms, "0-0", count=count
        )
        # A claimed entry deleted meanwhile comes back without fields: nothing to deliver.
        entries += [entry for entry in claimed[1] if entry and entry[1]]
        # How often each reclaimed entry was handed out: one that keeps killing or hanging its
        # worker must end as a dead letter, not come back forever (one look-up per reclaim).
        deliveries: dict[bytes, int] = {}
        for entry_id, _fields in entries:
            pending: Any = self._client.xpending_range(
                self._keys.stream, GROUP, entry_id, entry_id, 1
            )
            if pending:
                deliveries[entry_id] = int(pending[0]["times_delivered"])
        if len(entries) < count:
            reply: Any = self._client.xreadgroup(
                GROUP,
                consumer,
                {self._keys.stream: ">"},
                count=count - len(entries),
                block=block_ms or None,
            )
            for _stream, stream_entries in reply or []:
                entries += stream_entries
        jobs = []
        for entry_id, fields in entries:
            job = self._unseal(entry_id.decode(), fields, deliveries.get(entry_id, 1))
            if job is None and not self._sealer.can_open(fields[b"job"]):
                self._put_back(entry_id, fields)
                continue
            if job is None:
                self._scripts.run(
                    self._client, "complete_delivery", [self._keys.stream], [GROUP, entry_id]
                )
                continue
            jobs.append(job)
        return jobs

    def _put_back(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
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
            [self._keys.stream, self._keys.delayed, self._keys.delayed_jobs],
            [GROUP, entry_id, due_ms, member, fields[b"job"]],
        )

    @fail_closed
    def complete(self, job: DeliveryJob) -> bool:
        done = self._scripts.run(
            self._client, "complete_delivery", [self._keys.stream], [GROUP, job.job_id]
        )
        return bool(done)

    @fail_closed
    def reschedule(
        self, job: DeliveryJob, due_ms: int, provider_index: int, try_number: int
    ) -> bool:
        member = f"{job.attempt_sid}:{provider_index}:{try_number}:{job.enqueued_ms}"
        done = self._scripts.run(
            self._client,
            "reschedule_delivery",
            [self._keys.stream, self._keys.delayed, self._keys.delayed_jobs],
            [GROUP, job.job_id, due_ms, member, self._seal(job)],
        )
        return bool(done)

    @fail_closed
    def promote_due(self, now_ms: int, limit: int = 100) -> int:
        moved = self._scripts.run(
            self._client,
            "promote_due_deliveries",
            [self._keys.stream, self._keys.delayed, self._keys.delayed_jobs],
            [now_ms, limit],
        )
        return int(moved)

    @fail_closed
    def dead_letter(self, job: DeliveryJob, reason: str, now_ms: int) -> bool:
        letter = f"{now_ms}|{job.message.channel.value}|{reason}"
        done = self._scripts.run(
            self._client,
            "dead_letter_delivery",
            [self._keys.stream, self._keys.dead, self._keys.dead_letters],
            [GROUP, job.job_id, job.attempt_sid, letter, self._seal(job), DEAD_LETTER_BOUND],
        )
        return bool(done)

    @fail_closed
    def dead_letters(self, limit: int) -> list[DeadLetter]:
        listed: Any = self._client.lrange(self._keys.dead, 0, limit - 1)
        attempts = [a.decode() for a in listed]
        if not attempts:
            return []
        whys: Any = self._client.hmget(self._keys.dead_letters, [f"{a}:why" for a in attempts])
        letters = []
        for attempt, why in zip(attempts, whys, strict=True):
            if why is None:
                continue
            failed_ms, channel, reason = why.decode().split("|", 2)
            letters.append(DeadLetter(attempt, int(failed_ms), channel, reason))
        return letters

    @fail_closed
    def requeue(self, attempt_sid: str, now_ms: int) -> bool:
        entry = self._scripts.run(
            self._client,
            "requeue_dead_letter",
            [self._keys.stream, self._keys.dead, self._keys.dead_letters],
            [attempt_sid, now_ms],
        )
        if entry is None:
            return False
        # Its attempt failed when it was dead-lettered; it is queued again now.
        self._attempts.reopen(attempt_sid, now_ms)
        return True

    # -- attempt status (kept by the attempt history) ----------------------------------

    def record_status(
        self,
        attempt_sid: str,
        status: str,
        now_ms: int,
        provider: str = "",
        provider_message_id: str = "",
        error_code: str = "",
    ) -> bool:
        """True when recorded; False when the status would have moved backwards."""
        return self._attempts.record_status(
            attempt_sid, status, now_ms, provider, provider_message_id, error_code
        )

    def attempt_status(self, attempt_sid: str) -> dict[str, str]:
        return self._attempts.fields(attempt_sid)

    # -- rotation (`Resealable`) ----------------------------------------------------------

    kind = "outbox"

    def _outbox_keys(self) -> list[OutboxKeys]:
        """Every outbox (one today; one per shard when the outbox is sharded)."""
        return [self._keys]

    def _sealed_values(self, keys: OutboxKeys) -> Iterator[tuple[str, str, bytes, bytes]]:
        """(where, field or entry id, attempt sid, sealed job) of every job at rest: queued
        in the stream, delayed for a retry, dead-lettered."""
        cursor = "-"
        while True:
            page: Any = self._client.xrange(keys.stream, min=cursor, max="+", count=500)
            for entry_id, fields in page:
                if b"job" in fields:
                    yield "stream", entry_id.decode(), fields[b"att"], fields[b"job"]
            if len(page) < 500:
                break
            cursor = f"({page[-1][0].decode()}"
        for member, job in self._client.hscan_iter(keys.delayed_jobs):
            yield "delayed", member.decode(), member.split(b":", 1)[0], job
        for field, job in self._client.hscan_iter(keys.dead_letters):
            if not field.endswith(b":why"):
                yield "dead", field.decode(), field, job

    def key_ids(self) -> Counter[str]:
        return Counter(
            key_id_of(job)
            for keys in self._outbox_keys()
            for _where, _field, _attempt, job in self._sealed_values(keys)
        )

    def reseal(self, progress: Progress, _now_ms: int) -> ResealCount:
        """Re-seal every job at rest under the primary, each by a compare-and-set script.
        A queued job a worker holds (pending) is left to it: re-run once it is handled."""
        count = ResealCount(self.kind)
        for keys in self._outbox_keys():
            for where, field, attempt, job in list(self._sealed_values(keys)):
                count.looked_at += 1
                progress(self.kind, count.looked_at)
                new = self._sealer.reseal(job, attempt)
                if new is None:
                    if self._sealer.open(job, attempt) is None:
                        count.unreadable += 1
                    else:
                        count.already_primary += 1
                    continue
                if where == "stream":
                    done = self._scripts.run(
                        self._client,
                        "reseal_queued_delivery",
                        [keys.stream],
                        [GROUP, field, job, new],
                    )
                else:
                    target = keys.delayed_jobs if where == "delayed" else keys.dead_letters
                    done = self._scripts.run(
                        self._client, "reseal_sealed_field", [target], [field, job, new]
                    )
                if done:
                    count.resealed += 1
                else:
                    count.raced += 1
        if count.raced:
            count.notes.append("jobs in a worker's hands or changed meanwhile: run it again")
        return count

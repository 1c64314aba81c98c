"""What a key rotation does to an outbox laid out in `OutboxShard`s (the delivery queue and
the event outbox): count the sealed jobs at rest by key id, and re-seal them under the
primary, each by a compare-and-set script. Shared by both; each says how its jobs are bound
(`context`: the sealing's associated data, from the job's `att` name)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.keys import OutboxShard
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.secrets.ports import Progress, ResealCount


class OutboxSeals:
    def __init__(
        self,
        kind: str,
        client: redis.Redis,
        scripts: ScriptBook,
        sealer: DestinationCipher,
        shards: Callable[[], Sequence[OutboxShard]],
        group: str,
        context: Callable[[bytes], bytes],
    ) -> None:
        self.kind = kind
        self._client = client
        self._scripts = scripts
        self._sealer = sealer
        self._shards = shards
        self._group = group
        self._context = context

    def sealed_values(self, keys: OutboxShard) -> Iterator[tuple[str, str, bytes, bytes]]:
        """(where, field or entry id, sealing context, sealed job) of every job at rest:
        queued in the stream, delayed for a retry, dead-lettered."""
        cursor = "-"
        while True:
            page: Any = self._client.xrange(keys.stream, min=cursor, max="+", count=500)
            for entry_id, fields in page:
                if b"job" in fields:
                    yield "stream", entry_id.decode(), self._context(fields[b"att"]), fields[b"job"]
            if len(page) < 500:
                break
            cursor = f"({page[-1][0].decode()}"
        for member, job in self._client.hscan_iter(keys.delayed_jobs):
            yield "delayed", member.decode(), self._context(member.split(b":", 1)[0]), job
        for field, job in self._client.hscan_iter(keys.dead_letters):
            if not field.endswith(b":why"):
                yield "dead", field.decode(), self._context(field), job

    def key_ids(self) -> Counter[str]:
        return Counter(
            self._sealer.key_id(job, context)
            for keys in self._shards()
            for _where, _field, context, job in self.sealed_values(keys)
        )

    def reseal(self, progress: Progress, _now_ms: int) -> ResealCount:
        """Re-seal every job at rest under the primary, each by a compare-and-set script.
        A queued job a worker holds (pending) is left to it: re-run once it is handled."""
        count = ResealCount(self.kind)
        for keys in self._shards():
            for where, field, context, job in list(self.sealed_values(keys)):
                count.looked_at += 1
                progress(self.kind, count.looked_at)
                new = self._sealer.reseal(job, context)
                if new is None:
                    if self._sealer.open(job, context) is None:
                        count.unreadable += 1
                    else:
                        count.already_primary += 1
                    continue
                if where == "stream":
                    done = self._scripts.run(
                        self._client,
                        "reseal_queued_delivery",
                        [keys.stream],
                        [self._group, field, job, new],
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

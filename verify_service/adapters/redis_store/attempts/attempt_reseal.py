"""A key rotation's reseal of the attempt history (`Resealable`): the destinations sealed in
the buckets' records.

A record is a stream entry, written once and never changed in place, so a bucket with
records under an old key is rebuilt: a copy beside it (`…:n:<run>`, same hash tag, a random
suffix of its own so two runs at once never write into each other's copy, with a TTL
refreshed at each page so an interrupted run's copy goes by itself) gets every entry with the
same id, its destination re-sealed under the primary, then swap_attempt_bucket.lua appends
what was written meanwhile, checks the copy now holds every record of the bucket (same
length, same newest id), gives it the bucket's TTL and renames it over the records. A swap
refused (the copy lost an entry: it expired, or something else wrote to it) leaves the bucket
as it was and is retried with a fresh copy; still refused, its records are counted as changed
meanwhile (a re-run picks them up). The statuses (a hash beside the records) hold nothing
sealed and are left as they are.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.attempts.attempt_records import (
    attempt_context,
    unpack_record,
)
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import HistoryKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.secrets.ports import Progress, ResealCount
from verify_service.domain import sids

SCAN_COUNT = 500
PAGE = 500
# An interrupted run's copy goes this long after its last page was written.
COPY_TTL_MS = 3600 * 1000
# Fresh copies tried per bucket before its swap is given up for this run.
SWAP_TRIES = 3
SWAPPED_GONE = -1  # the bucket expired meanwhile
SWAP_REFUSED = -2  # the copy does not hold every record


class AttemptHistorySeals:
    """The attempt history's sealed destinations, by key id; re-sealed bucket by bucket."""

    kind = "attempt history"

    def __init__(
        self,
        client: redis.Redis,
        scripts: ScriptBook,
        keys: HistoryKeys,
        cipher: DestinationCipher,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._cipher = cipher

    def _buckets(self) -> list[tuple[str, str, int]]:
        """(records key, service locator, day) of every bucket (SCAN: on a cluster client,
        every primary)."""
        found = []
        for raw in self._client.scan_iter(match=self._keys.records_pattern, count=SCAN_COUNT):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            bucket = self._keys.bucket_of(key)
            if bucket is not None:
                found.append((key, *bucket))
        return found

    def _entries(self, key: str) -> Iterator[tuple[bytes, bytes]]:
        """(id, record) of every entry of a bucket, oldest first, a page a round trip."""
        cursor = "-"
        while True:
            page: Any = self._client.xrange(key, min=cursor, max="+", count=PAGE)
            for entry_id, fields in page:
                yield entry_id, fields.get(b"d", b"")
            if len(page) < PAGE:
                return
            cursor = f"({page[-1][0].decode()}"

    @fail_closed
    def key_ids(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for key, locator, day in self._buckets():
            for _entry_id, blob in self._entries(key):
                record = unpack_record(blob)
                if record is not None and record.sealed_to:
                    sid = sids.attempt_sid(locator, day, record.key)
                    counts[self._cipher.key_id(record.sealed_to, attempt_context(sid))] += 1
        return counts

    @fail_closed
    def reseal(self, progress: Progress, _now_ms: int) -> ResealCount:
        count = ResealCount(self.kind)
        for key, locator, day in self._buckets():
            stale = False
            for _entry_id, blob in self._entries(key):
                record = unpack_record(blob)
                count.looked_at += 1
                progress(self.kind, count.looked_at)
                if record is None:
                    continue
                sid = sids.attempt_sid(locator, day, record.key)
                new = self._cipher.reseal(record.sealed_to, attempt_context(sid))
                if new is not None:
                    stale = True
                elif self._cipher.open(record.sealed_to, attempt_context(sid)) is None:
                    count.unreadable += 1
                else:
                    count.already_primary += 1
            if stale:
                resealed, raced = self._rebuild(key, locator, day)
                count.resealed += resealed
                if raced:
                    count.raced += raced
                    count.notes.append(
                        f"an attempt history bucket ({raced} records) was not swapped: its "
                        f"copy was incomplete {SWAP_TRIES} times (another reseal at once?); "
                        "nothing was lost, run the reseal again"
                    )
        return count

    def _rebuild(self, key: str, locator: str, day: int) -> tuple[int, int]:
        """Copy the bucket with its destinations re-sealed and swap it in, with a fresh copy
        while the swap refuses one: (re-sealed, left as they were)."""
        copied = 0
        for _try in range(SWAP_TRIES):
            copy, last, resealed, copied = self.copy(key, locator, day)
            swapped = self.swap(key, copy, last)
            if swapped == SWAPPED_GONE:
                return 0, 0
            if swapped != SWAP_REFUSED:
                return resealed, 0
        return 0, copied

    def copy(self, key: str, locator: str, day: int) -> tuple[str, str, int, int]:
        """A copy of the bucket in a key of this run's own, its destinations re-sealed:
        (copy key, its last entry id, how many were re-sealed, how many copied)."""
        copy = self._keys.rebuilt(locator, day, secrets.token_hex(8))
        last, resealed, copied = "0-0", 0, 0
        batch: list[tuple[bytes, bytes]] = []

        def flush() -> None:
            pipe = self._client.pipeline(transaction=False)
            for entry_id, blob in batch:
                pipe.xadd(copy, {"d": blob}, id=entry_id)
            pipe.pexpire(copy, COPY_TTL_MS)  # an interrupted copy goes by itself
            pipe.execute()
            batch.clear()

        for entry_id, blob in self._entries(key):
            record = unpack_record(blob)
            new_blob = blob
            if record is not None:
                sid = sids.attempt_sid(locator, day, record.key)
                new = self._cipher.reseal(record.sealed_to, attempt_context(sid))
                if new is not None:
                    new_blob = blob[: len(blob) - len(record.sealed_to)] + new
                    resealed += 1
            batch.append((entry_id, new_blob))
            copied += 1
            last = entry_id.decode()
            if len(batch) == PAGE:
                flush()
        if batch:
            flush()
        return copy, last, resealed, copied

    def swap(self, key: str, copy: str, last: str) -> int:
        """swap_attempt_bucket.lua: the entries appended, SWAPPED_GONE or SWAP_REFUSED."""
        return int(self._scripts.run(self._client, "swap_attempt_bucket", [key, copy], [last]))

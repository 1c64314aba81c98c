"""One sealed field of every hash whose key matches a pattern, found by SCAN (on a cluster
client `scan_iter` visits every primary): the attempt history's sealed destinations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import redis

from verify_service.adapters.destination_cipher import DestinationCipher, key_id_of
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.secrets.ports import Progress, ResealCount

SCAN_COUNT = 500


class SealedHashFields:
    """`Resealable` over `field` of each hash matching `pattern`; `context(key)` gives the
    associated data the value was sealed with."""

    def __init__(
        self,
        client: redis.Redis,
        scripts: ScriptBook,
        kind: str,
        pattern: str,
        field: str,
        context: Callable[[str], bytes],
        cipher: DestinationCipher,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self.kind = kind
        self._pattern = pattern
        self._field = field
        self._context = context
        self._cipher = cipher

    def _keys(self) -> list[str]:
        return [
            key.decode() if isinstance(key, bytes) else str(key)
            for key in self._client.scan_iter(match=self._pattern, count=SCAN_COUNT)
        ]

    @fail_closed
    def key_ids(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for key in self._keys():
            sealed = self._client.hget(key, self._field)
            if isinstance(sealed, bytes) and sealed:
                counts[key_id_of(sealed)] += 1
        return counts

    @fail_closed
    def reseal(self, progress: Progress, _now_ms: int) -> ResealCount:
        count = ResealCount(self.kind)
        for key in self._keys():
            count.looked_at += 1
            progress(self.kind, count.looked_at)
            sealed = self._client.hget(key, self._field)
            if not isinstance(sealed, bytes) or not sealed:
                continue  # expired meanwhile, or nothing sealed
            context = self._context(key)
            new = self._cipher.reseal(sealed, context)
            if new is None:
                if self._cipher.open(sealed, context) is None:
                    count.unreadable += 1
                else:
                    count.already_primary += 1
                continue
            done = self._scripts.run(
                self._client, "reseal_sealed_field", [key], [self._field, sealed, new]
            )
            if done:
                count.resealed += 1
            else:
                count.raced += 1
        return count

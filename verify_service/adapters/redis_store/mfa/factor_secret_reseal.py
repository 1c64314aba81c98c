"""A key rotation's reseal of TOTP secrets (`Resealable`, `verify-service secrets`): each
factor's `totp_secret` is opened with the ring and sealed again under the primary (same
associated data: its service and factor sids), replaced with a compare-and-set
(reseal_sealed_field.lua), so a factor changed or deleted meanwhile is left to a re-run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import redis

from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import MfaKeys
from verify_service.adapters.redis_store.mfa.records import TOTP_SECRET
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.mfa.ports import secret_context
from verify_service.application.secrets.ports import Progress, ResealCount

SCAN_COUNT = 500


class FactorSecretSeals:
    kind = "totp secrets"

    def __init__(
        self, client: redis.Redis, scripts: ScriptBook, keys: MfaKeys, cipher: DestinationCipher
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._cipher = cipher

    def _sealed(self) -> Iterator[tuple[str, bytes, bytes]]:
        """(factor key, sealed secret, associated data) of every TOTP factor (SCAN: on a
        cluster client, every primary)."""
        for raw in self._client.scan_iter(match=self._keys.factor_pattern, count=SCAN_COUNT):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            found: list[bytes | None] = self._client.hmget(  # type: ignore[assignment]
                key, "service_sid", "sid", TOTP_SECRET
            )
            service_sid, factor_sid, sealed = found
            if service_sid is None or factor_sid is None or sealed is None:
                continue  # not a TOTP factor (a passkey), or gone meanwhile
            yield key, sealed, secret_context(service_sid.decode(), factor_sid.decode())

    @fail_closed
    def key_ids(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for _key, sealed, context in self._sealed():
            counts[self._cipher.key_id(sealed, context)] += 1
        return counts

    @fail_closed
    def reseal(self, progress: Progress, _now_ms: int) -> ResealCount:
        count = ResealCount(self.kind)
        for key, sealed, context in self._sealed():
            count.looked_at += 1
            progress(self.kind, count.looked_at)
            if self._cipher.key_id(sealed, context) == self._cipher.primary:
                count.already_primary += 1
                continue
            resealed = self._cipher.reseal(sealed, context)
            if resealed is None:
                count.unreadable += 1
                continue
            replaced = self._scripts.run(
                self._client, "reseal_sealed_field", [key], [TOTP_SECRET, sealed, resealed]
            )
            if replaced:
                count.resealed += 1
            else:
                count.raced += 1
        return count

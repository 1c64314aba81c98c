"""The account's Safe List in Redis: one hash (`KeySpace.safe_list`) whose fields are
`<key id>:<keyed digest of the number>` (`safe_list_fields`; a bare digest is from before key
ids) and whose values are `{"sid", "created_ms", "n"}` as JSON, `n` being the number wrapped
under the field's key (base64) so a rotation can re-digest it. No number is written in clear:
a Redis dump shows which entries exist, not for whom.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import KeySpace
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.protection.ports import SafeListRecord
from verify_service.application.protection.safe_list import safe_list_field

__all__ = ["RedisSafeListStore", "decode_entry", "encode_entry", "safe_list_field"]


def encode_entry(record: SafeListRecord) -> str:
    data: dict[str, Any] = {"sid": record.sid, "created_ms": record.created_ms}
    if record.wrapped_number is not None:
        data["n"] = record.wrapped_number
    return json.dumps(data, separators=(",", ":"))


def decode_entry(raw: bytes | str) -> SafeListRecord:
    data: dict[str, Any] = json.loads(raw)
    wrapped = data.get("n")
    return SafeListRecord(
        sid=str(data["sid"]),
        created_ms=int(data["created_ms"]),
        wrapped_number=None if wrapped is None else str(wrapped),
    )


class RedisSafeListStore:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: KeySpace) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys

    @fail_closed
    def add(self, field: str, record: SafeListRecord, others: Sequence[str] = ()) -> SafeListRecord:
        raw = self._scripts.run(
            self._client,
            "add_safe_list_number",
            [self._keys.safe_list()],
            [field, encode_entry(record), *others],
        )
        return decode_entry(raw)

    @fail_closed
    def get(self, field: str, others: Sequence[str] = ()) -> SafeListRecord | None:
        raw: list[bytes | None] = self._client.hmget(  # type: ignore[assignment]
            self._keys.safe_list(), [field, *others]
        )
        found = next((value for value in raw if value is not None), None)
        return None if found is None else decode_entry(found)

    @fail_closed
    def remove(self, field: str, others: Sequence[str] = ()) -> bool:
        # One command, atomic on its own: no script needed.
        return bool(self._client.hdel(self._keys.safe_list(), field, *others))

    def entries(self) -> Iterator[tuple[str, bytes, SafeListRecord | None]]:
        for field, value in self._client.hscan_iter(self._keys.safe_list()):
            try:
                record: SafeListRecord | None = decode_entry(value)
            except (ValueError, KeyError, TypeError):
                record = None
            yield field.decode(), value, record

    @fail_closed
    def replace(self, field: str, value: bytes, new_field: str, record: SafeListRecord) -> bool:
        return bool(
            self._scripts.run(
                self._client,
                "reseal_safe_list_number",
                [self._keys.safe_list()],
                [field, value, new_field, encode_entry(record)],
            )
        )

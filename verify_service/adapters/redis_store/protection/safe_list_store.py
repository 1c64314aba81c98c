"""The account's Safe List in Redis: one hash (`KeySpace.safe_list`) whose fields are keyed
digests of the numbers (`safe_list_field`) and whose values are `{"sid", "created_ms"}` as
JSON. No number is ever written: a Redis dump shows which entries exist, not for whom.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import KeySpace
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.protection.ports import SafeListRecord
from verify_service.application.protection.safe_list import safe_list_field

__all__ = ["RedisSafeListStore", "decode_entry", "encode_entry", "safe_list_field"]


def encode_entry(record: SafeListRecord) -> str:
    return json.dumps({"sid": record.sid, "created_ms": record.created_ms}, separators=(",", ":"))


def decode_entry(raw: bytes | str) -> SafeListRecord:
    data: dict[str, Any] = json.loads(raw)
    return SafeListRecord(sid=str(data["sid"]), created_ms=int(data["created_ms"]))


class RedisSafeListStore:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: KeySpace) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys

    @fail_closed
    def add(self, field: str, record: SafeListRecord) -> SafeListRecord:
        raw = self._scripts.run(
            self._client,
            "add_safe_list_number",
            [self._keys.safe_list()],
            [field, encode_entry(record)],
        )
        return decode_entry(raw)

    @fail_closed
    def get(self, field: str) -> SafeListRecord | None:
        raw = self._client.hget(self._keys.safe_list(), field)
        return None if raw is None else decode_entry(raw)

    @fail_closed
    def remove(self, field: str) -> bool:
        # One command, atomic on its own: no script needed.
        return bool(self._client.hdel(self._keys.safe_list(), field))

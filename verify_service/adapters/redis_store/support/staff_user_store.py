"""Support console users and sessions in Redis, all under the `{staff}` hash tag:

| Key | Type | Holds |
| --- | --- | --- |
| `vs:{staff}:user:<name>` | hash | role, argon2id `hash`, `disabled`, `locked`, `failures`, times |
| `vs:{staff}:users` | set | user names |
| `vs:{staff}:session:<sha256 of the id>` | hash, TTL = idle timeout | user, csrf, times |

Every change is one script (`create_staff_user`, `update_staff_user`,
`record_staff_login_failure`, `record_staff_login_success`, `open_staff_session`,
`touch_staff_session`); a session's end is one `DEL`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.support.staff_users import SessionRecord, StaffUserRecord
from verify_service.domain.staff import StaffRole


@dataclass(frozen=True, slots=True)
class StaffKeys:
    prefix: str = "vs"

    def user(self, name: str) -> str:
        return f"{self.prefix}:{{staff}}:user:{name}"

    @property
    def users(self) -> str:
        return f"{self.prefix}:{{staff}}:users"

    def session(self, key: str) -> str:
        return f"{self.prefix}:{{staff}}:session:{key}"


def _decode(raw: dict[bytes, bytes]) -> StaffUserRecord | None:
    if not raw:
        return None
    fields = {key.decode(): value.decode("utf-8") for key, value in raw.items()}
    last_login = fields.get("ll")
    return StaffUserRecord(
        name=fields["name"],
        role=StaffRole(fields["role"]),
        password_hash=fields["hash"],
        disabled=fields.get("disabled") == "1",
        locked=fields.get("locked") == "1",
        failures=int(fields.get("failures") or 0),
        created_ms=int(fields.get("ca") or 0),
        last_login_ms=int(last_login) if last_login else None,
    )


class RedisStaffUserStore:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: StaffKeys) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys

    @fail_closed
    def create(self, record: StaffUserRecord) -> bool:
        pairs: list[str | bytes | int] = [
            "name",
            record.name,
            "role",
            record.role.value,
            "hash",
            record.password_hash,
            "disabled",
            "1" if record.disabled else "0",
            "locked",
            "0",
            "failures",
            "0",
            "ca",
            record.created_ms,
            "ua",
            record.created_ms,
        ]
        created = self._scripts.run(
            self._client,
            "create_staff_user",
            [self._keys.user(record.name), self._keys.users],
            [record.name, *pairs],
        )
        return bool(created)

    @fail_closed
    def get(self, name: str) -> StaffUserRecord | None:
        raw: dict[bytes, bytes] = self._client.hgetall(self._keys.user(name))  # type: ignore[assignment]
        return _decode(raw)

    @fail_closed
    def list(self) -> list[StaffUserRecord]:
        names: set[bytes] = self._client.smembers(self._keys.users)  # type: ignore[assignment]
        pipe = self._client.pipeline(transaction=False)
        for name in sorted(names):
            pipe.hgetall(self._keys.user(name.decode()))
        records = [_decode(raw) for raw in pipe.execute()]
        return [record for record in records if record is not None]

    @fail_closed
    def update(self, name: str, changes: dict[str, str], now_ms: int) -> bool:
        pairs = [part for item in changes.items() for part in item]
        changed = self._scripts.run(
            self._client, "update_staff_user", [self._keys.user(name)], [now_ms, *pairs]
        )
        return bool(changed)

    @fail_closed
    def record_failure(self, name: str, max_failures: int, now_ms: int) -> bool:
        locked = self._scripts.run(
            self._client,
            "record_staff_login_failure",
            [self._keys.user(name)],
            [max_failures, now_ms],
        )
        return bool(locked)

    @fail_closed
    def record_success(self, name: str, now_ms: int, old_hash: str, new_hash: str) -> bool:
        admitted = self._scripts.run(
            self._client,
            "record_staff_login_success",
            [self._keys.user(name)],
            [now_ms, old_hash, new_hash],
        )
        return bool(admitted)

    @fail_closed
    def open_session(self, key: str, record: SessionRecord, idle_ms: int) -> None:
        self._scripts.run(
            self._client,
            "open_staff_session",
            [self._keys.session(key)],
            [
                idle_ms,
                "user",
                record.user_name,
                "csrf",
                record.csrf_token,
                "ca",
                record.created_ms,
                "ex",
                record.expires_ms,
                "seen",
                record.created_ms,
            ],
        )

    @fail_closed
    def touch_session(self, key: str, now_ms: int, idle_ms: int) -> SessionRecord | None:
        reply: Any = self._scripts.run(
            self._client, "touch_staff_session", [self._keys.session(key)], [now_ms, idle_ms]
        )
        if not reply:
            return None
        user, csrf, created, expires = (value.decode("utf-8") for value in reply)
        return SessionRecord(user, csrf, int(created), int(expires))

    @fail_closed
    def close_session(self, key: str) -> None:
        self._client.delete(self._keys.session(key))

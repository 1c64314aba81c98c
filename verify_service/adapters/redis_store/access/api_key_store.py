"""API keys in Redis: one hash per `SK` sid (`ApiKeyKeys.key`) plus a creation-ordered
index, all under the `{keys}` hash tag. The hash holds the keyed digest of the secret
(`Keyring.api_key_digest`), never the secret. Authenticating a request is one `HGETALL`.
"""

from __future__ import annotations

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import ApiKeyKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.access.ports import ApiKeyRecord

# Short field names, like the verification hash.
_SID, _NAME, _ROLE, _DIGEST, _CREATED, _UPDATED = "sid", "fn", "role", "h", "ca", "ua"
# The ring key id of `h`, and the wrapped proof a reseal re-MACs (absent on older keys).
_KEY_ID, _PROOF = "k", "p"


def _decode(raw: dict[bytes, bytes]) -> ApiKeyRecord | None:
    if not raw:
        return None
    fields = {key.decode(): value for key, value in raw.items()}
    name = fields.get(_NAME)
    return ApiKeyRecord(
        sid=fields[_SID].decode(),
        # An empty name is stored as no field at all.
        friendly_name=None if name is None else name.decode("utf-8"),
        role=fields[_ROLE].decode(),
        secret_digest=fields[_DIGEST],
        created_ms=int(fields[_CREATED]),
        updated_ms=int(fields[_UPDATED]),
        key_id=fields[_KEY_ID].decode() if _KEY_ID in fields else None,
        wrapped_proof=fields.get(_PROOF),
    )


class RedisApiKeyStore:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: ApiKeyKeys) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys

    @fail_closed
    def create(self, record: ApiKeyRecord) -> None:
        pairs: list[str | bytes | int] = [
            _SID,
            record.sid,
            _ROLE,
            record.role,
            _DIGEST,
            record.secret_digest,
            _CREATED,
            record.created_ms,
            _UPDATED,
            record.updated_ms,
        ]
        if record.friendly_name is not None:
            pairs += [_NAME, record.friendly_name]
        if record.key_id is not None and record.wrapped_proof is not None:
            pairs += [_KEY_ID, record.key_id, _PROOF, record.wrapped_proof]
        position = self._scripts.run(
            self._client,
            "create_api_key",
            [self._keys.key(record.sid), self._keys.index, self._keys.counter],
            [record.sid, *pairs],
        )
        if not position:  # 128 random bits collided: never in practice, but never overwrite
            raise RuntimeError("API key sid collision")

    @fail_closed
    def get(self, sid: str) -> ApiKeyRecord | None:
        raw: dict[bytes, bytes] = self._client.hgetall(self._keys.key(sid))  # type: ignore[assignment]
        return _decode(raw)

    @fail_closed
    def list(self, offset: int, limit: int) -> tuple[list[ApiKeyRecord], bool]:
        # One extra sid tells whether another page follows.
        sids: list[bytes] = self._client.zrange(  # type: ignore[assignment]
            self._keys.index, offset, offset + limit
        )
        pipe = self._client.pipeline(transaction=False)
        for sid in sids[:limit]:
            pipe.hgetall(self._keys.key(sid.decode()))
        records = [_decode(raw) for raw in pipe.execute()]
        return [record for record in records if record is not None], len(sids) > limit

    @fail_closed
    def revoke(self, sid: str) -> bool:
        return bool(
            self._scripts.run(
                self._client, "revoke_api_key", [self._keys.key(sid), self._keys.index], [sid]
            )
        )

    @fail_closed
    def sids(self) -> tuple[str, ...]:
        raw: list[bytes] = self._client.zrange(self._keys.index, 0, -1)  # type: ignore[assignment]
        return tuple(sid.decode() for sid in raw)

    @fail_closed
    def replace_digest(
        self, sid: str, expected_digest: bytes, key_id: str, digest: bytes, wrapped: bytes
    ) -> bool:
        return bool(
            self._scripts.run(
                self._client,
                "reseal_api_key",
                [self._keys.key(sid)],
                [expected_digest, _DIGEST, digest, _KEY_ID, key_id, _PROOF, wrapped],
            )
        )

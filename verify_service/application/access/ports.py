"""The port API keys depend on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored: never its secret, only the keyed digest of it."""

    sid: str
    friendly_name: str | None
    role: str
    secret_digest: bytes
    created_ms: int
    updated_ms: int
    # The ring key `secret_digest` is MAC'd under; None: a key from before key ids, whose
    # digest is HMAC(k_api[k0], sid 0x00 secret) (docs/key-rotation.md).
    key_id: str | None = None
    # The proof P = SHA-256(sid 0x00 secret), wrapped under `key_id`: what a reseal re-MACs.
    wrapped_proof: bytes | None = None


class ApiKeyStore(Protocol):
    def create(self, record: ApiKeyRecord) -> None:
        """Store the key and list it in creation order (one script)."""
        ...

    def get(self, sid: str) -> ApiKeyRecord | None:
        """One read: what authenticating a request with the key costs."""
        ...

    def list(self, offset: int, limit: int) -> tuple[list[ApiKeyRecord], bool]:
        """A page in creation order, and whether another follows."""
        ...

    def revoke(self, sid: str) -> bool:
        """Delete the key (one script); True when it existed."""
        ...

    def sids(self) -> tuple[str, ...]:
        """Every key's sid (the index), for a reseal."""
        ...

    def replace_digest(
        self, sid: str, expected_digest: bytes, key_id: str, digest: bytes, wrapped: bytes
    ) -> bool:
        """Compare-and-set: store the new digest, key id and wrapped proof only if the key
        still holds `expected_digest`; False when it changed or is gone."""
        ...

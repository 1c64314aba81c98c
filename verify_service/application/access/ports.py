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

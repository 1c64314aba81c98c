"""The audit log's port and its entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited action. `target` is masked where it names a destination; no entry ever
    holds a code or a secret."""

    actor: str  # a credential sid (AC…, SK…) or a console user name
    role: str
    action: str  # e.g. "keys.create", "services.update", "console.resend"
    target: str  # e.g. "SK…", "VA…/VE…", "+14•••••••71"
    outcome: str  # "ok", or the refusal (e.g. "20404", "denied")
    time_ms: int
    reason: str | None = None  # a console action's stated reason


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> None:
        """Append to the hash-chained log; raises StoreUnavailable when Redis is down."""
        ...

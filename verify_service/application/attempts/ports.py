"""The attempt history's port and its records."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from verify_service.domain.models import EndedBy


@dataclass(frozen=True, slots=True)
class AttemptCursor:
    """A position in the history: the entry's creation time, `VL` sid and, among entries of
    one service created in the same millisecond, its sequence number (ties across services
    are broken by sid)."""

    created_ms: int
    sid: str
    seq: int = 0


@dataclass(frozen=True, slots=True)
class HistoricAttempt:
    """One send attempt as the history holds it. `destination` is unsealed (None when it
    was sealed under a previous secret key): mask it before it leaves the application.
    `outcome` is how its verification ended so far: `approved`, `canceled`, `expired`
    (gone without an end), or `pending` (still live)."""

    sid: str
    service_sid: str
    verification_sid: str
    channel: str
    country: str | None
    destination: str | None
    created_ms: int
    updated_ms: int
    delivery_status: str
    provider: str | None
    error_code: str | None
    outcome: str
    # The route (`MG` sid, VERIFY_ROUTES_FILE) whose list sent it; None: the global list.
    messaging_service_sid: str | None = None

    @property
    def converted(self) -> bool:
        return self.outcome == "approved"


@dataclass(frozen=True, slots=True)
class CheckEvent:
    """One check of a verification: `wrong`, `approved`, or `refused` (locked)."""

    time_ms: int
    outcome: str


@dataclass(frozen=True, slots=True)
class VerificationTrail:
    """What the history keeps of one verification besides its sends."""

    checks: tuple[CheckEvent, ...] = ()
    unrecorded_checks: int = 0  # past the per-verification bound, counted only
    ended: str | None = None  # approved | canceled (None: expired, or still live)
    ended_ms: int | None = None
    ended_by: EndedBy | None = None  # who ended it by hand, and why


class AttemptHistoryStore(Protocol):
    def walk(
        self,
        service_sids: Sequence[str] | None,
        newest_ms: int | None,
        oldest_ms: int,
        after: AttemptCursor | None,
        now_ms: int,
        match: Callable[[str, str], bool] | None = None,
    ) -> Iterator[tuple[AttemptCursor, HistoricAttempt | None]]:
        """Attempts of these services (None: every service) created in [oldest_ms,
        newest_ms], newest first, strictly after `after`; each with its record (None: the
        record is unreadable, or `match(service sid, verification sid)` said no, which is
        asked before anything is unsealed). Whatever the range, only the buckets from the
        retention's first day to the day after `now_ms` are touched."""
        ...

    def get(self, sid: str, now_ms: int) -> HistoricAttempt | None: ...

    def trails(self, service_sid: str, tag: str) -> dict[str, VerificationTrail]:
        """Checks and ends of the verifications of one (service, destination tag)."""
        ...

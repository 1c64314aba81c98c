"""The ports abuse protection depends on: counting windows, Fraud Guard records,
programmable rate limits and the safe list."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from verify_service.domain.protection.rate_limits import Bucket, RateLimit


@dataclass(frozen=True, slots=True)
class WindowLimit:
    """At most `max` events per moving window of `interval_seconds`, for one scope.

    `scope` identifies whose events they are (service sid, the limit's name, a digest of the
    value); it never holds a phone number, an address or an IP. A limit that is not
    `enforced` only counts (a Fraud Guard tally): it never refuses a request."""

    name: str
    scope: tuple[str, ...]
    max: int
    interval_seconds: int
    enforced: bool = True


@dataclass(frozen=True, slots=True)
class WindowCount:
    """A read of a counting window: how many of its events fall in the last `seconds`."""

    window: WindowLimit
    seconds: int


@dataclass(frozen=True, slots=True)
class TallyHit:
    """Fraud Guard's tally of one prefix, counted and read in the same round trip as the
    limits: `sends` and `approvals` to add (a send taken back is -1), then the counts of the
    window, of its last `grace_seconds`, and of the approvals (approximate to a time bucket:
    docs/abuse-protection.md)."""

    service_sid: str
    prefix: str
    window_seconds: int
    grace_seconds: int
    sends: int = 0
    approvals: int = 0
    masked_destination: str = ""  # a start's, noted among the prefix's recent ones


@dataclass(frozen=True, slots=True)
class LimitOutcome:
    """The first enforced limit that refused (None: all admitted), when it frees, and the
    counts read, one per `WindowCount` asked for, in order, then the tally's three (sends in
    the window, sends in the grace, approvals), if one was asked for."""

    refused: WindowLimit | None = None
    retry_after_seconds: int = 0
    counts: tuple[int, ...] = ()


class RateLimiter(Protocol):
    def hit(
        self,
        limits: Sequence[WindowLimit],
        reads: Sequence[WindowCount],
        now_ms: int,
        tally: TallyHit | None = None,
    ) -> LimitOutcome:
        """Count one event in each limit (and the tally's), read the counts, in one round
        trip. Each scope's limits are checked and counted atomically: when one refuses, the
        request counts nowhere (what other scopes counted is taken back, the tally's too)."""
        ...

    def forget_tally(self, service_sid: str, prefix: str) -> None:
        """Clear a prefix's Fraud Guard tally."""
        ...

    def release(self, limit: WindowLimit, now_ms: int) -> None:
        """Take back one event `hit` counted at `now_ms` (the request it admitted was not
        answered after all)."""
        ...

    def clear(self, limit: WindowLimit) -> None:
        """Forget every event of the limit's window."""
        ...


@dataclass(frozen=True, slots=True)
class BreakerTrip:
    """Fraud Guard's record of a prefix it blocked (or, in monitor mode, would have)."""

    service_sid: str
    prefix: str
    mode: str
    tripped_ms: int
    until_ms: int
    sends: int
    approvals: int
    window_seconds: int
    destinations: tuple[str, ...]  # masked, most recent first


class FraudGuardStore(Protocol):
    def recent_destinations(self, service_sid: str, prefix: str) -> tuple[str, ...]:
        """The last masked destinations attempted in the prefix, newest first."""
        ...

    def trip(self, trip: BreakerTrip) -> tuple[bool, int]:
        """Record the trip until `trip.until_ms` unless a record of the same mode is in
        force: (whether this call tripped it, until when the record in force holds). In
        block mode the record is what refuses sends to the prefix."""
        ...

    def trips(self, service_sid: str, now_ms: int) -> list[BreakerTrip]:
        """Blocks in force and monitor-mode events still on record, newest first."""
        ...

    def lift(self, service_sid: str, prefix: str) -> bool: ...


class RateLimitWrite(enum.Enum):
    """What a Rate Limit or Bucket change script decided."""

    DONE = "done"
    NOT_FOUND = "not_found"  # the service, rate limit or bucket does not exist
    DUPLICATE = "duplicate"  # UniqueName (rate limit) or Interval (bucket) already taken
    FULL = "full"  # the service's rate limits, or the rate limit's buckets, are at their maximum


class RateLimitStore(Protocol):
    """A service's Rate Limits and their Buckets; every check-and-change is atomic."""

    def create_rate_limit(self, rate_limit: RateLimit, max_per_service: int) -> RateLimitWrite:
        """Store a new rate limit (no buckets) unless its name is taken or the service is full."""
        ...

    def list_rate_limits(self, service_sid: str) -> tuple[RateLimit, ...] | None:
        """Every rate limit of the service in creation order; None when the service does not
        exist."""
        ...

    def get_rate_limit(self, service_sid: str, sid: str) -> RateLimit | None: ...

    def update_rate_limit(
        self, service_sid: str, sid: str, description: str | None, now_ms: int
    ) -> RateLimit | None:
        """Set the description (None keeps it); None when the rate limit does not exist."""
        ...

    def delete_rate_limit(self, service_sid: str, sid: str) -> bool: ...

    def create_bucket(
        self, bucket: Bucket, max_per_rate_limit: int
    ) -> tuple[RateLimitWrite, RateLimit | None]:
        """Add the bucket unless its Interval is taken or the rate limit is full; the rate
        limit as stored afterwards when DONE."""
        ...

    def update_bucket(
        self,
        service_sid: str,
        rate_limit_sid: str,
        sid: str,
        max_requests: int | None,
        interval: int | None,
        now_ms: int,
    ) -> tuple[RateLimitWrite, RateLimit | None]:
        """Change Max and/or Interval (None keeps each) unless another bucket has the
        Interval; the rate limit as stored afterwards when DONE."""
        ...

    def delete_bucket(self, service_sid: str, rate_limit_sid: str, sid: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class SafeListRecord:
    """A safe-listed number as stored: its `GN` sid and when it was added (never the number;
    the store names it by a keyed digest)."""

    sid: str
    created_ms: int
    # The number wrapped under the field's key (base64), so a reseal can re-digest it;
    # None on entries from before key ids.
    wrapped_number: str | None = None


class SafeListStore(Protocol):
    """The account's safe list, one entry per keyed digest (`field`) of a number."""

    def add(self, field: str, record: SafeListRecord, others: Sequence[str] = ()) -> SafeListRecord:
        """Store `record` unless the field, or one of `others` (the number's fields under
        the ring's other keys), is listed already (atomic); the stored record either way,
        so adding twice keeps the first sid."""
        ...

    def get(self, field: str, others: Sequence[str] = ()) -> SafeListRecord | None:
        """The entry under the first of `field`, `others` that is listed (one HMGET)."""
        ...

    def remove(self, field: str, others: Sequence[str] = ()) -> bool:
        """Delete the number under every field; True when one was listed."""
        ...

    def entries(self) -> Iterator[tuple[str, bytes, SafeListRecord | None]]:
        """Every (field, stored value, its record or None when malformed), for a reseal
        (HSCAN)."""
        ...

    def replace(self, field: str, value: bytes, new_field: str, record: SafeListRecord) -> bool:
        """Compare-and-set: move the entry to `new_field` only if `field` still holds
        `value`; False when it changed or is gone."""
        ...

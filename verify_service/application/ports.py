"""The ports use cases depend on; adapters implement them (Redis, argon2, console...)."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from verify_service.domain.delivery import DeliveryJob, DeliveryReceipt, DeliveryRequest
from verify_service.domain.fallback import FallbackStep
from verify_service.domain.models import Channel, Verification
from verify_service.domain.rate_limits import Bucket, RateLimit
from verify_service.domain.service import Service


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...


class CodeHasher(Protocol):
    """argon2id over the keyed MAC of (verification sid, code)."""

    def new_salt(self) -> bytes: ...

    def digest(self, verification_sid: str, code: str, salt: bytes) -> bytes: ...

    def matches(
        self, verification_sid: str, code: str, salt: bytes, digests: Sequence[bytes]
    ) -> bool:
        """True when `code` produced one of `digests`; compares every digest in constant time."""
        ...


class DeliveryProvider(Protocol):
    """One configured gateway (a DSN entry). Raises `TransientDeliveryError` or
    `PermanentDeliveryError` when it does not accept the message."""

    @property
    def name(self) -> str:
        """A display name without secrets, e.g. `twilio` or `smtp://mail.example.com`."""
        ...

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt: ...


class ServiceStore(Protocol):
    def create_service(self, service: Service) -> None: ...

    def get_service(self, sid: str) -> Service | None: ...

    def update_service(self, sid: str, changes: dict[str, Any], now_ms: int) -> Service | None: ...

    def delete_service(self, sid: str) -> bool: ...

    def list_services(self, offset: int, limit: int) -> tuple[list[Service], bool]:
        """One page in creation order, and whether more follow."""
        ...


@dataclass(frozen=True, slots=True)
class VerificationRef:
    """Where a verification lives: its service and the destination's storage tag."""

    service_sid: str
    tag: str


@dataclass(frozen=True, slots=True)
class PendingSnapshot:
    """What a start needs to know about the verification already pending, if any."""

    sid: str
    salt: bytes
    sends: int = 0
    checks: int = 0
    expires_ms: int = 0
    amount: str | None = None
    payee: str | None = None
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class StartWrite:
    """Everything one create-or-resend script call records. No code, only its digest."""

    ref: VerificationRef
    sid: str
    is_new: bool
    salt: bytes
    code_digest: bytes
    attempt_sid: str
    channel: Channel
    now_ms: int
    ttl_ms: int
    to: str
    amount: str | None
    payee: str | None
    locale: str | None
    tags_json: str | None
    fallback: FallbackStep | None = None  # the channel fallback step this send schedules
    # Fraud Guard: remember this masked destination among its prefix's recent ones.
    fraud_guard_note: FraudGuardNote | None = None
    # Attempt history: the keyed digest `To` is searched by, and its country (phones).
    destination_digest: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class FraudGuardNote:
    service_sid: str
    prefix: str
    masked_destination: str
    keep_seconds: int


class StartResult(enum.Enum):
    CREATED = "created"
    RESENT = "resent"
    CONFLICT = "conflict"
    LOCKED = "locked"
    MAX_SENDS = "max_sends"


@dataclass(frozen=True, slots=True)
class StartOutcome:
    result: StartResult
    verification: Verification | None = None
    retry_after_ms: int = 0


@dataclass(frozen=True, slots=True)
class ProtectionSettings:
    """The few service settings a check or an approval needs for protection."""

    checks_per_destination_per_hour: int
    fraud_guard_mode: str
    fraud_guard_window_seconds: int
    test_destinations: tuple[str, ...] = ()


class ReserveResult(enum.Enum):
    RESERVED = "reserved"
    MISSING = "missing"
    LOCKED = "locked"
    PSD2_REQUIRED = "psd2_required"


@dataclass(frozen=True, slots=True)
class Reservation:
    """A counted check attempt and the material to verify it against."""

    result: ReserveResult
    service_exists: bool
    verification: Verification | None = None
    salt: bytes = b""
    code_digests: tuple[bytes, ...] = ()
    retry_after_ms: int = 0
    settings: ProtectionSettings | None = None  # the service's, read with the reservation


class VerificationStore(Protocol):
    def prepare_start(
        self, ref: VerificationRef, now_ms: int
    ) -> tuple[Service | None, PendingSnapshot | None]:
        """The service and the pending verification for the destination, in one round trip."""
        ...

    def prepare_protected_start(
        self, ref: VerificationRef, now_ms: int, probe: StartProbe
    ) -> StartContext:
        """`prepare_start` plus the service's rate limits and what `probe` asks for, in the
        same round trip."""
        ...

    def start_or_resend(self, write: StartWrite, delivery: DeliveryJob | None) -> StartOutcome:
        """Record the send and queue its delivery (None: a test destination, nothing to
        send) in one round trip. The delivery is queued
        even when the script refuses (a race): the worker drops a delivery whose attempt
        the verification does not hold. `write.fallback`, if any, is scheduled in the same
        round trip (and skipped when it runs if the verification does not hold the send)."""
        ...

    def reserve_check(
        self, ref: VerificationRef, expected_sid: str | None, now_ms: int, psd2_given: bool
    ) -> Reservation:
        """Count one check attempt atomically (together with reading the service)."""
        ...

    def approve(
        self, ref: VerificationRef, sid: str, now_ms: int, by_check: bool = False
    ) -> Verification | None:
        """End a pending verification as approved (`by_check`: by a right code, which the
        attempt history marks); None when it already ended."""
        ...

    def cancel(self, ref: VerificationRef, sid: str, now_ms: int) -> Verification | None: ...

    def protection_settings(self, service_sid: str) -> ProtectionSettings:
        """The service's check-time protection settings (defaults for a missing field)."""
        ...

    def fetch(
        self, ref: VerificationRef, sid: str, now_ms: int
    ) -> tuple[Service | None, Verification | None]: ...


# -- abuse protection ------------------------------------------------------------------------


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
class LimitOutcome:
    """The first enforced limit that refused (None: all admitted), when it frees, and the
    counts read, one per `WindowCount` asked for, in order."""

    refused: WindowLimit | None = None
    retry_after_seconds: int = 0
    counts: tuple[int, ...] = ()


class RateLimiter(Protocol):
    def hit(
        self, limits: Sequence[WindowLimit], reads: Sequence[WindowCount], now_ms: int
    ) -> LimitOutcome:
        """Count one event in each limit and read the counts, in one round trip.

        Each limit is checked and counted atomically on its own: one at its Max refuses and
        does not count, the others still count (a refused attempt is still an attempt)."""
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


@dataclass(frozen=True, slots=True)
class StartProbe:
    """What a start reads beside the service and the pending verification (same round
    trip): the destination's safe-list field and, for a phone, its prefix's Fraud Guard
    record."""

    safe_list_field: str | None = None
    prefix: str | None = None


@dataclass(frozen=True, slots=True)
class StartContext:
    service: Service | None
    pending: PendingSnapshot | None
    rate_limits: tuple[RateLimit, ...] = ()
    safe_listed: bool = False
    block: BreakerTrip | None = None


# -- programmable rate limits (configuration) ------------------------------------------------


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


# -- safe list ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SafeListRecord:
    """A safe-listed number as stored: its `GN` sid and when it was added (never the number;
    the store names it by a keyed digest)."""

    sid: str
    created_ms: int


class SafeListStore(Protocol):
    """The account's safe list, one entry per keyed digest (`field`) of a number."""

    def add(self, field: str, record: SafeListRecord) -> SafeListRecord:
        """Store `record` unless the field is listed already (atomic); the stored record
        either way, so adding twice keeps the first sid."""
        ...

    def get(self, field: str) -> SafeListRecord | None: ...

    def remove(self, field: str) -> bool:
        """True when the field was listed."""
        ...


# -- API keys --------------------------------------------------------------------------------


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


# -- audit -----------------------------------------------------------------------------------


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


# -- attempt history -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttemptIndex:
    """Which index of the attempt history to walk: `all`, or by `service` (VA sid),
    `destination` (keyed digest) or `verification` (VE sid)."""

    kind: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class AttemptCursor:
    """A position in an index: the entry's creation time and `VL` sid (ties broken by sid)."""

    created_ms: int
    sid: str


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
    destination_digest: str | None
    created_ms: int
    updated_ms: int
    delivery_status: str
    provider: str | None
    error_code: str | None
    outcome: str

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


class AttemptHistoryStore(Protocol):
    def walk(
        self,
        index: AttemptIndex,
        newest_ms: int | None,
        oldest_ms: int,
        after: AttemptCursor | None,
        now_ms: int,
    ) -> Iterator[tuple[AttemptCursor, HistoricAttempt | None]]:
        """Index entries created in [oldest_ms, newest_ms], newest first, strictly after
        `after`; each with its record (None: the record expired meanwhile)."""
        ...

    def get(self, sid: str, now_ms: int) -> HistoricAttempt | None: ...

    def trails(self, service_sid: str, tag: str) -> dict[str, VerificationTrail]:
        """Checks and ends of the verifications of one (service, destination tag)."""
        ...

"""The ports verifications depend on: their store and the code hasher."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from verify_service.application.events.ports import ExpiryWatch
from verify_service.application.protection.ports import (
    BreakerTrip,
    LimitOutcome,
    TallyHit,
    WindowLimit,
)
from verify_service.domain.delivery.delivery import DeliveryJob
from verify_service.domain.delivery.fallback import FallbackStep
from verify_service.domain.models import Channel, EndedBy, Verification
from verify_service.domain.protection.rate_limits import RateLimit
from verify_service.domain.service import Service


class CodeHasher(Protocol):
    """argon2id over the keyed MAC of (verification sid, code)."""

    def new_salt(self) -> bytes: ...

    def digest(self, verification_sid: str, code: str, salt: bytes) -> bytes: ...

    def matches(
        self, verification_sid: str, code: str, salt: bytes, digests: Sequence[bytes]
    ) -> bool:
        """True when `code` produced one of `digests`; compares every digest in constant time."""
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
    # The address its messages go to (sealed in the verification, opened by the store):
    # a resend in another spelling of the mailbox goes here, never to the new spelling.
    # None only when it cannot be opened (then none of its codes can match either).
    to: str | None = None


@dataclass(frozen=True, slots=True)
class DestinationLock:
    """What a verification canceled with its checks used up leaves: until `expires_ms` (its
    own expiry) no start creates another for the destination and a check by To is refused,
    so a cancel never hands out fresh guesses. (Canceled with fewer used, they carry over
    into the next verification of the destination instead: no lock.)"""

    verification_sid: str
    expires_ms: int


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
    # Attempt history: the keyed digest `To` is searched by, and its country (phones).
    destination_digest: str | None = None
    country: str | None = None
    # A create whose expiry is watched (metrics on, or a webhook wants verification.expired):
    # written in the start's own pipeline, removed again when the script refuses the create.
    expiry: ExpiryWatch | None = None


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
    # Amount or Payee on a check of a verification started without PSD2 terms.
    PSD2_NOT_ENABLED = "psd2_not_enabled"


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
    # The outcome of the checks-per-destination window counted in the same round trip, when
    # one was asked for (`reserve_check`'s `window`).
    window: LimitOutcome | None = None


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
        same round trip: `probe.limits` and `probe.tally` are counted there too
        (`StartContext.counted`)."""
        ...

    def start_or_resend(
        self,
        write: StartWrite,
        delivery: DeliveryJob | None,
        correction: TallyCorrection | None = None,
    ) -> StartOutcome:
        """Record the send and queue its delivery (None: a test destination, nothing to
        send) in one round trip, with `correction` to the start's early tally. The delivery
        is queued
        even when the script refuses (a race): the worker drops a delivery whose attempt
        the verification does not hold. `write.fallback`, if any, is scheduled once the
        send is accepted (a refused start schedules nothing)."""
        ...

    def reserve_check(
        self,
        ref: VerificationRef,
        expected_sid: str | None,
        now_ms: int,
        psd2_given: bool,
        window: WindowLimit | None = None,
        *,
        psd2_terms_sent: bool = False,
    ) -> Reservation:
        """Count one check attempt atomically (together with reading the service), and
        count `window` in the same round trip when given (`Reservation.window`).
        `psd2_given`: both Amount and Payee were sent; `psd2_terms_sent`: either was."""
        ...

    def approve(
        self,
        ref: VerificationRef,
        sid: str,
        now_ms: int,
        by_check: bool = False,
        ended_by: EndedBy | None = None,
        tally: TallyHit | None = None,
    ) -> Verification | None:
        """End a pending verification as approved (`by_check`: by a right code, which the
        attempt history marks); None when it already ended. `ended_by` (an approval by
        update) is kept in the attempt history with the end, in the same step. `tally`:
        Fraud Guard's approval, counted in the same round trip (taken back when the
        verification had already ended)."""
        ...

    def cancel(
        self, ref: VerificationRef, sid: str, now_ms: int, ended_by: EndedBy | None = None
    ) -> Verification | None: ...

    def protection_settings(self, service_sid: str) -> ProtectionSettings:
        """The service's check-time protection settings (defaults for a missing field)."""
        ...

    def fetch(
        self, ref: VerificationRef, sid: str, now_ms: int
    ) -> tuple[Service | None, Verification | None]: ...

    def fetch_many(
        self, wanted: Sequence[tuple[VerificationRef, str]], now_ms: int
    ) -> list[tuple[Service | None, Verification | None]]:
        """`fetch` for each (ref, sid), in one round trip."""
        ...


@dataclass(frozen=True, slots=True)
class StartProbe:
    """What a start reads beside the service and the pending verification (same round
    trip): the destination's safe-list field and, for a phone, its prefix's Fraud Guard
    record."""

    safe_list_field: str | None = None
    # The number's fields under the ring's other keys (one HMGET with the first).
    safe_list_others: tuple[str, ...] = ()
    prefix: str | None = None
    # The limits (and Fraud Guard tally) to count in the same round trip, as this process
    # last saw the service's settings: confirmed, or taken back, once the read is in.
    limits: tuple[WindowLimit, ...] = ()
    tally: TallyHit | None = None


@dataclass(frozen=True, slots=True)
class TallyCorrection:
    """What a start's early tally counted too much, taken back in the write's round trip:
    a resend is not a new send, a safe-listed number is not watched (`sends` negative; the
    note of `masked_destination` too when not empty). `counted_ms`: when it was counted."""

    tally: TallyHit
    counted_ms: int


@dataclass(frozen=True, slots=True)
class StartContext:
    service: Service | None
    pending: PendingSnapshot | None
    rate_limits: tuple[RateLimit, ...] = ()
    safe_listed: bool = False
    block: BreakerTrip | None = None
    lock: DestinationLock | None = None  # a canceled locked verification's, still lasting
    # What the probe's limits answered (None: none were counted), and when they were.
    counted: LimitOutcome | None = None
    counted_ms: int = 0

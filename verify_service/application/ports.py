"""The ports use cases depend on; adapters implement them (Redis, argon2, console...)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from verify_service.domain.delivery import DeliveryJob, DeliveryReceipt, DeliveryRequest
from verify_service.domain.fallback import FallbackStep
from verify_service.domain.models import Channel, Verification
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


class VerificationStore(Protocol):
    def prepare_start(
        self, ref: VerificationRef, now_ms: int
    ) -> tuple[Service | None, PendingSnapshot | None]:
        """The service and the pending verification for the destination, in one round trip."""
        ...

    def start_or_resend(self, write: StartWrite, delivery: DeliveryJob) -> StartOutcome:
        """Record the send and queue its delivery in one round trip. The delivery is queued
        even when the script refuses (a race): the worker drops a delivery whose attempt
        the verification does not hold. `write.fallback`, if any, is scheduled in the same
        round trip (and skipped when it runs if the verification does not hold the send)."""
        ...

    def reserve_check(
        self, ref: VerificationRef, expected_sid: str | None, now_ms: int, psd2_given: bool
    ) -> Reservation:
        """Count one check attempt atomically (together with reading the service)."""
        ...

    def approve(self, ref: VerificationRef, sid: str, now_ms: int) -> Verification | None:
        """End a pending verification as approved; None when it already ended."""
        ...

    def cancel(self, ref: VerificationRef, sid: str, now_ms: int) -> Verification | None: ...

    def fetch(
        self, ref: VerificationRef, sid: str, now_ms: int
    ) -> tuple[Service | None, Verification | None]: ...

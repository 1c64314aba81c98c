"""Entities, factors and challenges as the use cases exchange them (no I/O, no secrets in
the clear: a factor carries its TOTP secret sealed, and only the use case opens it)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any


class FactorType(enum.StrEnum):
    PUSH = "push"  # Twilio's; refused here (no push provider): docs/mfa.md
    TOTP = "totp"
    PASSKEYS = "passkeys"


class FactorStatus(enum.StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"


class ChallengeStatus(enum.StrEnum):
    PENDING = "pending"
    EXPIRED = "expired"
    APPROVED = "approved"
    DENIED = "denied"


class RespondedReason(enum.StrEnum):
    """Twilio's `responded_reason`: `none` unless the challenge was answered without asking
    (push only, which is not offered), so every answer here keeps `none`."""

    NONE = "none"
    NOT_NEEDED = "not_needed"
    NOT_REQUESTED = "not_requested"


class TotpAlgorithm(enum.StrEnum):
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"


class ListOrder(enum.StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True, slots=True)
class Entity:
    sid: str  # YE…
    service_sid: str
    identity: str
    created_ms: int
    updated_ms: int


@dataclass(frozen=True, slots=True)
class TotpConfig:
    time_step: int
    skew: int
    code_length: int
    alg: TotpAlgorithm

    def as_wire(self) -> dict[str, Any]:
        """Twilio's `config` object of a TOTP factor."""
        return {
            "alg": self.alg.value,
            "skew": self.skew,
            "code_length": self.code_length,
            "time_step": self.time_step,
        }


@dataclass(frozen=True, slots=True)
class Factor:
    """A factor as stored. `sealed_secret` is the TOTP secret sealed under the ring
    (never shown); `last_step` the last accepted TOTP time step (replay guard); `version`
    changes with every change of the factor, so an evaluation made with one config is
    recorded only if the config is still the same. `passkey` holds the `pk_*` fields the
    passkeys capability owns, as stored (field name without the prefix → value)."""

    sid: str  # YF…
    service_sid: str
    entity_sid: str
    identity: str
    factor_type: FactorType
    friendly_name: str
    status: FactorStatus
    created_ms: int
    updated_ms: int
    version: int = 1
    totp: TotpConfig | None = None
    sealed_secret: bytes | None = None
    last_step: int | None = None
    metadata: dict[str, Any] | None = None
    last_used_ms: int | None = None
    wrong_codes: int = 0
    wrong_window_start_ms: int | None = None
    passkey: dict[str, str] = field(default_factory=dict)

    def with_changes(self, **changes: Any) -> Factor:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class DetailField:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class ChallengeDetails:
    message: str | None
    fields: tuple[DetailField, ...] = ()


@dataclass(frozen=True, slots=True)
class Challenge:
    """A challenge as stored: `status` is what Redis holds; `status_at(now)` is what a
    caller sees (a pending challenge past its expiration date reads `expired`)."""

    sid: str  # YC…
    service_sid: str
    entity_sid: str
    identity: str
    factor_sid: str
    factor_type: FactorType
    created_ms: int
    updated_ms: int
    expires_ms: int
    status: ChallengeStatus = ChallengeStatus.PENDING
    responded_ms: int | None = None
    responded_reason: RespondedReason = RespondedReason.NONE
    details: ChallengeDetails | None = None
    hidden_details: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    # The passkeys capability's `pk_*` fields (e.g. a WebAuthn challenge), without prefix.
    passkey: dict[str, str] = field(default_factory=dict)

    def status_at(self, now_ms: int) -> ChallengeStatus:
        if self.status is ChallengeStatus.PENDING and now_ms >= self.expires_ms:
            return ChallengeStatus.EXPIRED
        return self.status


class CodeOutcome(enum.StrEnum):
    """What the evaluating script recorded for one answer (a code or none)."""

    UNANSWERED = "pending"  # a challenge stored without a code to evaluate
    ACCEPTED = "accepted"  # right code, a time step after the last accepted one
    WRONG = "wrong"  # counted against the factor's wrong-code window
    REPLAYED = "replayed"  # right code of a time step already used: refused, not counted
    LOCKED = "locked"  # the wrong-code window is full: refused, not evaluated
    CHANGED = "changed"  # the factor changed since it was read (version): evaluate again
    GONE = "gone"  # the factor (or challenge) does not exist
    NOT_VERIFIED = "not_verified"  # a challenge for a factor that is not verified
    NOT_PENDING = "not_pending"  # the challenge was already answered
    EXPIRED = "expired"  # the challenge is past its expiration date
    FULL = "full"  # the entity has its most pending challenges: refused, nothing stored

"""What the passkey use cases need beyond the MFA store (ports.py): pending ceremonies found
by their challenge, verified credentials found by their id, and the passkey state changes
(each one atomic step of the store: one Lua script in the Redis adapter)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from verify_service.domain.mfa.models import Challenge, Factor


class CeremonyKind(enum.StrEnum):
    REGISTRATION = "registration"  # a new factor's `navigator.credentials.create()`
    AUTHENTICATION = "authentication"  # a challenge's `navigator.credentials.get()`


@dataclass(frozen=True, slots=True)
class Ceremony:
    """A pending ceremony, found by its challenge (the request names no sid). `sid` is the
    factor (registration) or challenge (authentication) it answers; `identity` is empty for a
    discoverable sign-in; `factor_sid` the one factor a challenge was limited to, if any.
    The challenge itself is not kept: the record is stored under its SHA-256, and the answer
    brings the challenge (py_webauthn compares it with the one in `clientDataJSON`)."""

    kind: CeremonyKind
    sid: str
    service_sid: str
    identity: str
    created_ms: int
    expires_ms: int
    rp_id: str
    user_verification: str
    factor_sid: str = ""


class ClaimOutcome(enum.StrEnum):
    CLAIMED = "claimed"
    GONE = "gone"  # unknown, or already claimed (a replay)
    EXPIRED = "expired"


class OpenOutcome(enum.StrEnum):
    OPENED = "opened"
    COLLIDED = "collided"  # a ceremony with this challenge exists (a 256-bit collision: never)
    TOO_MANY = "too_many"  # the most open discoverable ceremonies (raised, never returned)


class StepOutcome(enum.StrEnum):
    """What a passkey state change recorded."""

    ACCEPTED = "accepted"
    GONE = "gone"  # the factor/challenge is gone, or not this credential's
    NOT_PENDING = "not_pending"  # a factor already verified, a challenge already answered
    NOT_VERIFIED = "not_verified"  # a sign-in with a factor that is not verified
    REGRESSED = "regressed"  # the sign count did not increase: refused, nothing changed


@dataclass(frozen=True, slots=True)
class Approval:
    """A verified assertion, to record: the new sign count goes into the factor only if it is
    above the stored one (compare-and-set); `new_challenge` is the challenge to write for a
    discoverable sign-in (it had no entity until now), else None."""

    credential_id: str
    sign_count: int
    metadata_json: str
    challenge_ttl_ms: int
    new_challenge: Challenge | None = None


class PasskeyStore(Protocol):
    def open_ceremony(
        self, tag: str, ceremony: Ceremony, ttl_ms: int, most_discoverable: int
    ) -> OpenOutcome:
        """Store a pending ceremony under `tag` (the SHA-256 of its challenge); a
        discoverable one (no identity) only while the service has fewer than
        `most_discoverable` open, else PasskeyTooManyPending."""
        ...

    def claim_ceremony(
        self, service_sid: str, tag: str, kind: CeremonyKind, now_ms: int
    ) -> tuple[ClaimOutcome, Ceremony | None]:
        """Take the ceremony of `kind` for one answer: read and delete in one step (single
        use); one of the other kind is left alone (GONE)."""
        ...

    def verify_factor(
        self,
        service_sid: str,
        identity: str,
        factor_sid: str,
        passkey_fields: dict[str, str],
        metadata_json: str,
        now_ms: int,
    ) -> tuple[StepOutcome, Factor | None]:
        """Record a verified registration: the factor becomes verified with its credential."""
        ...

    def claim_credential(
        self,
        service_sid: str,
        credential_id: str,
        holder: tuple[str, str],
        previous: tuple[str, str] | None,
    ) -> bool:
        """Index the credential id to `holder` (identity, factor sid) if the entry is still
        `previous` (what the caller read: None for no entry, or one whose factor is gone):
        compare-and-set, so one credential is claimed by one factor. False: lost a race."""
        ...

    def release_credential(
        self, service_sid: str, credential_id: str, holder: tuple[str, str]
    ) -> None:
        """Remove `holder`'s claim (its factor did not become verified)."""
        ...

    def find_credential(self, service_sid: str, credential_id: str) -> tuple[str, str] | None:
        """(identity, factor sid) of a credential id, or None."""
        ...

    def create_challenge(
        self, challenge: Challenge, ttl_ms: int, prune_before_ms: int, most_pending: int
    ) -> Challenge | None:
        """Store a pending challenge of an existing entity (None when the entity is gone);
        PasskeyTooManyPending when the entity has `most_pending` pending passkeys ones."""
        ...

    def approve_challenge(
        self, service_sid: str, identity: str, factor_sid: str, challenge_sid: str,
        approval: Approval, now_ms: int,
    ) -> tuple[StepOutcome, Challenge | None, Factor | None]:  # fmt: skip
        """Record a verified assertion (sign count compare-and-set, challenge approved)."""
        ...

    def deny_challenge(
        self, service_sid: str, identity: str, challenge_sid: str, now_ms: int
    ) -> None:
        """A pending challenge whose answer failed a check reads `denied`."""
        ...

    def delete_service(self, service_sid: str) -> None:
        """Forget a deleted service's passkey look-ups."""
        ...

"""The port the MFA use cases depend on: one store of entities, factors and challenges.

Every state change is one atomic step of the store (one Lua script in the Redis adapter);
a TOTP code is evaluated by the use case (it opens the sealed secret), and the store gets
the time step the code matched (or none) with the factor's version, so it can refuse a
replayed step and count a wrong code in the same step as it records the result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from verify_service.domain.mfa.models import (
    Challenge,
    ChallengeStatus,
    CodeOutcome,
    Entity,
    Factor,
    ListOrder,
)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One answer, evaluated: the TOTP time step the code matched (None: it matched none),
    the version of the factor it was evaluated with, and the clock's time."""

    matched_step: int | None
    factor_version: int
    now_ms: int
    max_wrong: int
    wrong_window_ms: int
    entity_max_wrong: int
    entity_wrong_window_ms: int


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """What the store recorded. `factor`/`challenge` as they are after the step (None when
    gone); `retry_after_ms` with LOCKED: how long until the wrong-code window ends;
    `wrong_codes` with WRONG: the factor's wrong codes in its window, this one included (at
    the limit, this answer locked the factor)."""

    outcome: CodeOutcome
    factor: Factor | None = None
    challenge: Challenge | None = None
    retry_after_ms: int | None = None
    wrong_codes: int | None = None
    # With LOCKED: the entity's 24-hour budget binds, not the factor's window.
    entity_locked: bool = False


@dataclass(frozen=True, slots=True)
class ChallengeQuery:
    factor_sid: str | None = None
    status: ChallengeStatus | None = None
    order: ListOrder = ListOrder.ASC


class MfaStore(Protocol):
    # -- entities ------------------------------------------------------------------------

    def create_entity(self, entity: Entity) -> tuple[Entity, bool]:
        """The entity with this identity (the new one, or the one that exists), and
        whether it was created now."""
        ...

    def get_entity(self, service_sid: str, identity: str) -> Entity | None: ...

    def list_entities(self, service_sid: str, offset: int, limit: int) -> tuple[list[Entity], bool]:
        """One page in creation order, and whether more follow."""
        ...

    def delete_entity(self, service_sid: str, identity: str) -> bool:
        """Delete the entity with its factors and challenges; False when it did not exist."""
        ...

    def delete_service_entities(self, service_sid: str) -> int:
        """Delete every entity of a deleted service; how many there were."""
        ...

    # -- factors -------------------------------------------------------------------------

    def create_factor(self, factor: Factor, entity: Entity, max_factors: int) -> Factor | None:
        """Store a new factor, creating `entity` first when the identity has none (the
        factor then names the entity that exists). None when the entity has `max_factors`."""
        ...

    def get_factor(self, service_sid: str, identity: str, factor_sid: str) -> Factor | None: ...

    def get_service_factor(
        self, service_sid: str, identity: str, factor_sid: str
    ) -> tuple[bool, Factor | None]:
        """Whether the service exists, and the factor: one round trip (a challenge's read)."""
        ...

    def list_factors(self, service_sid: str, identity: str) -> list[Factor]:
        """Every factor of the entity, in creation order."""
        ...

    def update_factor(
        self,
        service_sid: str,
        identity: str,
        factor_sid: str,
        changes: dict[str, Any],
        expected_version: int,
        now_ms: int,
    ) -> AnswerResult:
        """Change the friendly name / TOTP config (`changes`: store field → value) when
        the factor still has `expected_version`: ACCEPTED, CHANGED or GONE."""
        ...

    def delete_factor(self, service_sid: str, identity: str, factor_sid: str) -> bool:
        """Delete the factor and its challenges; False when it did not exist."""
        ...

    def verify_factor(
        self, service_sid: str, identity: str, factor_sid: str, evaluation: Evaluation
    ) -> AnswerResult:
        """Record a verification answer: ACCEPTED (now verified), WRONG, REPLAYED, LOCKED,
        CHANGED or GONE."""
        ...

    # -- challenges ----------------------------------------------------------------------

    def create_challenge(
        self, challenge: Challenge, evaluation: Evaluation | None, retention_ms: int
    ) -> AnswerResult:
        """Store a challenge for a verified factor, evaluated at once when `evaluation` is
        given. The challenge is kept `retention_ms` past its expiration date."""
        ...

    def answer_challenge(
        self,
        service_sid: str,
        identity: str,
        challenge_sid: str,
        factor_sid: str,
        evaluation: Evaluation,
        metadata: dict[str, Any] | None,
    ) -> AnswerResult:
        """Record an answer to a pending challenge of `factor_sid` (the factor's version in
        `evaluation`)."""
        ...

    def get_challenge(
        self, service_sid: str, identity: str, challenge_sid: str
    ) -> Challenge | None: ...

    def list_challenges(
        self,
        service_sid: str,
        identity: str,
        query: ChallengeQuery,
        now_ms: int,
        offset: int,
        limit: int,
    ) -> tuple[list[Challenge], bool]:
        """One page of the entity's challenges that match `query` (status as of `now_ms`),
        and whether more follow."""
        ...


class SecretSealer(Protocol):
    """AES-GCM under the key ring's `factor_secret_key` (adapters/destination_cipher.py):
    the sealed value names its key id; `context` binds it to its factor."""

    def seal(self, value: str, context: bytes, /) -> bytes: ...

    def open(self, sealed: bytes, context: bytes, /) -> str | None: ...


def secret_context(service_sid: str, factor_sid: str) -> bytes:
    """The associated data a TOTP secret is sealed with: its service and factor sids, so a
    sealed secret copied onto another factor does not open."""
    return f"totp-secret\x00{service_sid}\x00{factor_sid}".encode("ascii")

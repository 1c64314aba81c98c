"""What the passkey use cases share: a passkeys factor's `pk_*` fields, its config and
credential, and the ceremonies (opened with a fresh challenge, claimed once by the answer
that carries it)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from verify_service.application.mfa.passkey_ports import (
    Ceremony,
    CeremonyKind,
    ClaimOutcome,
    OpenOutcome,
    PasskeyStore,
)
from verify_service.application.mfa.ports import MfaStore
from verify_service.application.ports import Clock
from verify_service.domain.mfa.models import Challenge, Factor, FactorStatus, FactorType
from verify_service.domain.mfa.passkey_ceremonies import (
    CEREMONY_TIMEOUT_MS,
    CHALLENGE_BYTES,
    MAX_OPEN_DISCOVERABLE_CEREMONIES,
    StoredCredential,
    ceremony_tag,
    challenge_of,
)
from verify_service.domain.mfa.passkey_config import PasskeyConfig
from verify_service.domain.mfa.passkey_errors import (
    PasskeyCeremonyExpired,
    PasskeyCeremonyNotFound,
    PasskeyRefused,
)

# `pk_*` fields of a passkeys factor (the `pk_` prefix is added by the store).
CONFIG = "config"
CREDENTIAL_ID = "credential_id"
PUBLIC_KEY = "public_key"
SIGN_COUNT = "sign_count"
TRANSPORTS = "transports"
AAGUID = "aaguid"


@dataclass(frozen=True, slots=True)
class Started:
    """A ceremony's record (the factor or challenge) and its WebAuthn `options`."""

    options: dict[str, Any]
    factor: Factor | None = None
    challenge: Challenge | None = None


def factor_config(factor: Factor) -> PasskeyConfig:
    return PasskeyConfig.from_wire(json.loads(factor.passkey[CONFIG]))


def stored_credential(factor: Factor) -> StoredCredential:
    return StoredCredential(
        credential_id=factor.passkey[CREDENTIAL_ID],
        public_key=factor.passkey[PUBLIC_KEY],
        sign_count=int(factor.passkey.get(SIGN_COUNT, "0")),
        transports=tuple(json.loads(factor.passkey.get(TRANSPORTS, "[]"))),
    )


def is_verified_passkey(factor: Factor) -> bool:
    return (
        factor.factor_type is FactorType.PASSKEYS
        and factor.status is FactorStatus.VERIFIED
        and CREDENTIAL_ID in factor.passkey
    )


def iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_ms // 1000))


class Ceremonies:
    """Pending ceremonies of one store, on one clock, with fresh random challenges; and the
    credential index (a credential id → its verified factor)."""

    def __init__(
        self,
        mfa: MfaStore,
        store: PasskeyStore,
        clock: Clock,
        random_bytes: Callable[[int], bytes],
    ) -> None:
        self.mfa = mfa
        self.store = store
        self.clock = clock
        self._random = random_bytes

    def new_challenge(self) -> bytes:
        return self._random(CHALLENGE_BYTES)

    def open(self, challenge: bytes, ceremony: Ceremony) -> None:
        outcome = self.store.open_ceremony(
            ceremony_tag(challenge), ceremony, CEREMONY_TIMEOUT_MS, MAX_OPEN_DISCOVERABLE_CEREMONIES
        )
        if outcome is not OpenOutcome.OPENED:
            raise PasskeyRefused("a challenge collided; try again")  # 2^-256: never

    def claim(
        self, service_sid: str, credential: dict[str, Any], kind: CeremonyKind
    ) -> tuple[bytes, Ceremony]:
        """The ceremony of the response's challenge, taken for this answer only."""
        challenge = challenge_of(credential)
        outcome, ceremony = self.store.claim_ceremony(
            service_sid, ceremony_tag(challenge), kind, self.clock.now_ms()
        )
        if outcome is ClaimOutcome.EXPIRED:
            raise PasskeyCeremonyExpired
        if ceremony is None:
            raise PasskeyCeremonyNotFound
        return challenge, ceremony

    def claim_credential(self, factor: Factor, credential_id: str) -> None:
        """Index `credential_id` to `factor` (not yet verified) unless another live factor
        holds it: one already verified with it, or an unverified one that claimed it first
        (a registration racing this one). A stale entry (its factor deleted, or never
        verified and gone) is taken over by compare-and-set. PasskeyRefused otherwise."""
        holder = (factor.identity, factor.sid)
        previous = self.store.find_credential(factor.service_sid, credential_id)
        if previous is not None and previous != holder:
            identity, factor_sid = previous
            held = self.mfa.get_factor(factor.service_sid, identity, factor_sid)
            if held is not None and (
                held.status is FactorStatus.UNVERIFIED
                or (is_verified_passkey(held) and held.passkey[CREDENTIAL_ID] == credential_id)
            ):
                raise PasskeyRefused("this passkey is already registered")
        if not self.store.claim_credential(factor.service_sid, credential_id, holder, previous):
            raise PasskeyRefused("this passkey is already registered")  # lost a race

    def credential_factor(self, service_sid: str, credential_id: str) -> Factor | None:
        """The verified passkeys factor with this credential id in the service, if any."""
        found = self.store.find_credential(service_sid, credential_id)
        if found is None:
            return None
        identity, factor_sid = found
        factor = self.mfa.get_factor(service_sid, identity, factor_sid)
        if factor is None or not is_verified_passkey(factor):
            return None
        return factor if factor.passkey[CREDENTIAL_ID] == credential_id else None

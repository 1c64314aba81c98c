"""Passkey factors and sign-ins (Twilio's `/Passkeys/*`, docs/mfa.md "Passkeys").

Registration: `create_factor` stores an unverified `passkeys` factor of the entity (created
with it when missing) and opens a ceremony whose challenge goes into the creation options;
`verify_factor` finds that ceremony by the challenge inside the browser's `clientDataJSON`,
claims it (single use, expiring), checks the attestation with py_webauthn and records the
credential. Sign-in: `create_challenge` opens a ceremony (for an identity's passkeys, or any
discoverable one); `approve_challenge` claims it, checks the assertion against the stored
credential and records the new sign count only if it increased (compare-and-set).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from verify_service.application.mfa.passkey_ports import (
    Approval,
    Ceremony,
    CeremonyKind,
    ClaimOutcome,
    PasskeyStore,
    StepOutcome,
)
from verify_service.application.mfa.ports import MfaStore
from verify_service.application.ports import Clock
from verify_service.application.services.service_catalog import ServiceCatalog
from verify_service.domain import sids
from verify_service.domain.errors import (
    ChallengeNotPending,
    FactorNotVerified,
    InvalidMfaRequest,
    TooManyFactors,
)
from verify_service.domain.mfa.identity import require_identity
from verify_service.domain.mfa.limits import (
    CHALLENGE_RETENTION_MS,
    MAX_CHALLENGE_TTL_MS,
    MAX_FACTOR_FRIENDLY_NAME_LENGTH,
    MAX_FACTORS_PER_ENTITY,
)
from verify_service.domain.mfa.models import (
    Challenge,
    ChallengeStatus,
    Entity,
    Factor,
    FactorStatus,
    FactorType,
)
from verify_service.domain.mfa.passkey_ceremonies import (
    CEREMONY_TIMEOUT_MS,
    CHALLENGE_BYTES,
    StoredCredential,
    authentication_options,
    b64url,
    ceremony_tag,
    challenge_of,
    check_assertion,
    check_registration,
    from_b64url,
    registration_options,
    require_credential_shape,
)
from verify_service.domain.mfa.passkey_config import (
    PasskeyConfig,
    Requirement,
    resolve_passkey_config,
)
from verify_service.domain.mfa.passkey_errors import (
    PasskeyCeremonyExpired,
    PasskeyCeremonyNotFound,
    PasskeyRefused,
)

log = logging.getLogger(__name__)

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


def _is_verified_passkey(factor: Factor) -> bool:
    return (
        factor.factor_type is FactorType.PASSKEYS
        and factor.status is FactorStatus.VERIFIED
        and CREDENTIAL_ID in factor.passkey
    )


def _iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_ms // 1000))


class Passkeys:
    def __init__(
        self,
        mfa: MfaStore,
        store: PasskeyStore,
        catalog: ServiceCatalog,
        clock: Clock,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._mfa = mfa
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._random = random_bytes

    def now_ms(self) -> int:
        """The clock's time (a challenge's status is read at this time)."""
        return self._clock.now_ms()

    # -- registration ----------------------------------------------------------------------

    def create_factor(
        self, service_sid: str, friendly_name: Any, identity: Any, config: Any
    ) -> Started:
        service = self._catalog.fetch(service_sid)
        name = _friendly_name(friendly_name)
        identity = require_identity(identity if isinstance(identity, str) else "")
        if config is not None and not isinstance(config, dict):
            raise InvalidMfaRequest("config", "an object")
        resolved = resolve_passkey_config(config, service)
        now = self._clock.now_ms()
        factor = Factor(
            sid=sids.new_sid("YF"),
            service_sid=service.sid,
            entity_sid="",  # the entity's, set by the store
            identity=identity,
            factor_type=FactorType.PASSKEYS,
            friendly_name=name,
            status=FactorStatus.UNVERIFIED,
            created_ms=now,
            updated_ms=now,
            passkey={CONFIG: json.dumps(resolved.as_wire(), separators=(",", ":"))},
        )
        entity = Entity(sids.new_sid("YE"), service.sid, identity, now, now)
        created = self._mfa.create_factor(
            factor.with_changes(entity_sid=entity.sid), entity, MAX_FACTORS_PER_ENTITY
        )
        if created is None:
            raise TooManyFactors(MAX_FACTORS_PER_ENTITY)
        exclude = [
            stored_credential(f)
            for f in self._mfa.list_factors(service.sid, identity)
            if _is_verified_passkey(f)
        ]
        challenge = self._random(CHALLENGE_BYTES)
        options = registration_options(
            resolved,
            entity_sid=created.entity_sid,
            user_name=name,
            challenge=challenge,
            exclude=exclude,
        )
        self._open(
            challenge,
            Ceremony(
                kind=CeremonyKind.REGISTRATION,
                sid=created.sid,
                service_sid=service.sid,
                identity=identity,
                challenge=b64url(challenge),
                created_ms=now,
                expires_ms=now + CEREMONY_TIMEOUT_MS,
                rp_id=resolved.relying_party_id,
                user_verification=resolved.user_verification.value,
            ),
        )
        log.info("passkey factor %s created (unverified)", created.sid)
        return Started(options, factor=created)

    def verify_factor(self, service_sid: str, credential: dict[str, Any]) -> Factor:
        service = self._catalog.fetch(service_sid)
        require_credential_shape(credential, ("attestationObject", "clientDataJSON"))
        challenge, ceremony = self._claim(service.sid, credential, CeremonyKind.REGISTRATION)
        factor = self._mfa.get_factor(service.sid, ceremony.identity, ceremony.sid)
        if factor is None or factor.factor_type is not FactorType.PASSKEYS:
            raise PasskeyCeremonyNotFound
        registered = check_registration(
            credential, challenge=challenge, config=factor_config(factor)
        )
        if self._credential_factor(service.sid, registered.credential_id) is not None:
            raise PasskeyRefused("this passkey is already registered")
        outcome, verified = self._store.verify_factor(
            service.sid,
            factor.identity,
            factor.sid,
            {
                CREDENTIAL_ID: registered.credential_id,
                PUBLIC_KEY: registered.public_key,
                SIGN_COUNT: str(registered.sign_count),
                TRANSPORTS: json.dumps(list(registered.transports)),
                AAGUID: registered.aaguid,
            },
            json.dumps({"aaguid": registered.aaguid}),
            self._clock.now_ms(),
        )
        if outcome is StepOutcome.NOT_PENDING:
            raise PasskeyRefused("the factor is already verified")
        if outcome is not StepOutcome.ACCEPTED or verified is None:
            raise PasskeyCeremonyNotFound
        self._store.index_credential(
            service.sid, registered.credential_id, verified.identity, verified.sid
        )
        log.info("passkey factor %s verified", verified.sid)
        return verified

    # -- sign-in ---------------------------------------------------------------------------

    def create_challenge(self, service_sid: str, identity: Any, factor_sid: Any) -> Started:
        service = self._catalog.fetch(service_sid)
        if identity in (None, ""):
            if factor_sid not in (None, ""):
                raise InvalidMfaRequest("identity", "required with factor_sid")
            return self._discoverable_challenge(service.sid, resolve_passkey_config(None, service))
        identity = require_identity(identity if isinstance(identity, str) else "")
        if factor_sid not in (None, "") and not (
            isinstance(factor_sid, str) and sids.is_sid(factor_sid, "YF")
        ):
            raise InvalidMfaRequest("factor_sid", "a factor sid (YF…)")
        factors = [
            f
            for f in self._mfa.list_factors(service.sid, identity)
            if _is_verified_passkey(f) and factor_sid in (None, "", f.sid)
        ]
        if not factors:
            if factor_sid:
                raise InvalidMfaRequest("factor_sid", "not a verified passkey of this identity")
            raise InvalidMfaRequest("identity", "the identity has no verified passkey")
        first = factor_config(factors[0])
        allowed = [
            f for f in factors if factor_config(f).relying_party_id == first.relying_party_id
        ]
        required = any(factor_config(f).user_verification is Requirement.REQUIRED for f in allowed)
        now = self._clock.now_ms()
        challenge_bytes = self._random(CHALLENGE_BYTES)
        record = Challenge(
            sid=sids.new_sid("YC"),
            service_sid=service.sid,
            entity_sid=factors[0].entity_sid,
            identity=identity,
            factor_sid=factor_sid or "",
            factor_type=FactorType.PASSKEYS,
            created_ms=now,
            updated_ms=now,
            expires_ms=now + CEREMONY_TIMEOUT_MS,
        )
        stored = self._store.create_challenge(
            record,
            CEREMONY_TIMEOUT_MS + CHALLENGE_RETENTION_MS,
            now - MAX_CHALLENGE_TTL_MS - CHALLENGE_RETENTION_MS,
        )
        if stored is None:
            raise InvalidMfaRequest("identity", "the identity has no verified passkey")
        user_verification = Requirement.REQUIRED if required else first.user_verification
        options = authentication_options(
            rp_id=first.relying_party_id,
            challenge=challenge_bytes,
            allow=[stored_credential(f) for f in allowed],
            user_verification=user_verification,
        )
        self._open(
            challenge_bytes,
            Ceremony(
                kind=CeremonyKind.AUTHENTICATION,
                sid=stored.sid,
                service_sid=service.sid,
                identity=identity,
                challenge=b64url(challenge_bytes),
                created_ms=now,
                expires_ms=stored.expires_ms,
                rp_id=first.relying_party_id,
                user_verification=user_verification.value,
                factor_sid=stored.factor_sid,
            ),
        )
        return Started(options, challenge=stored)

    def _discoverable_challenge(self, service_sid: str, config: PasskeyConfig) -> Started:
        """A sign-in that names no identity: the browser offers the RP's discoverable
        passkeys; the credential id finds the factor when the answer comes."""
        now = self._clock.now_ms()
        challenge_bytes = self._random(CHALLENGE_BYTES)
        record = Challenge(
            sid=sids.new_sid("YC"),
            service_sid=service_sid,
            entity_sid="",
            identity="",
            factor_sid="",
            factor_type=FactorType.PASSKEYS,
            created_ms=now,
            updated_ms=now,
            expires_ms=now + CEREMONY_TIMEOUT_MS,
        )
        options = authentication_options(
            rp_id=config.relying_party_id,
            challenge=challenge_bytes,
            allow=[],
            user_verification=config.user_verification,
        )
        self._open(
            challenge_bytes,
            Ceremony(
                kind=CeremonyKind.AUTHENTICATION,
                sid=record.sid,
                service_sid=service_sid,
                identity="",
                challenge=b64url(challenge_bytes),
                created_ms=now,
                expires_ms=record.expires_ms,
                rp_id=config.relying_party_id,
                user_verification=config.user_verification.value,
            ),
        )
        return Started(options, challenge=record)

    def approve_challenge(self, service_sid: str, credential: dict[str, Any]) -> Challenge:
        service = self._catalog.fetch(service_sid)
        require_credential_shape(credential, ("authenticatorData", "clientDataJSON", "signature"))
        challenge, ceremony = self._claim(service.sid, credential, CeremonyKind.AUTHENTICATION)
        try:
            return self._approve(service.sid, credential, challenge, ceremony)
        except (PasskeyRefused, FactorNotVerified):
            if ceremony.identity:
                self._store.deny_challenge(
                    service.sid, ceremony.identity, ceremony.sid, self._clock.now_ms()
                )
            raise

    def _approve(
        self, service_sid: str, credential: dict[str, Any], challenge: bytes, ceremony: Ceremony
    ) -> Challenge:
        credential_id = str(credential["id"])
        factor = self._signing_factor(service_sid, ceremony, credential_id)
        user_handle = credential["response"].get("userHandle")
        if not ceremony.identity and user_handle in (None, ""):
            raise PasskeyRefused("a discoverable sign-in needs the user handle")
        if user_handle not in (None, "") and not _same_entity(user_handle, factor.entity_sid):
            raise PasskeyRefused("the user handle is not this passkey's entity")
        config = factor_config(factor)
        if config.relying_party_id != ceremony.rp_id:
            raise PasskeyRefused("the passkey belongs to another relying party")
        sign_count = check_assertion(
            credential,
            challenge=challenge,
            rp_id=config.relying_party_id,
            origins=config.origins,
            stored=stored_credential(factor),
            require_user_verification=config.user_verification is Requirement.REQUIRED
            or ceremony.user_verification == Requirement.REQUIRED.value,
        )
        now = self._clock.now_ms()
        new_challenge = None
        if not ceremony.identity:
            new_challenge = Challenge(
                sid=ceremony.sid,
                service_sid=service_sid,
                entity_sid=factor.entity_sid,
                identity=factor.identity,
                factor_sid=factor.sid,
                factor_type=FactorType.PASSKEYS,
                created_ms=ceremony.created_ms,
                updated_ms=now,
                expires_ms=ceremony.expires_ms,
                status=ChallengeStatus.PENDING,
            )
        metadata = {"aaguid": factor.passkey.get(AAGUID), "date_last_approved": _iso(now)}
        outcome, approved, _ = self._store.approve_challenge(
            service_sid,
            factor.identity,
            factor.sid,
            ceremony.sid,
            Approval(
                credential_id=credential_id,
                sign_count=sign_count,
                metadata_json=json.dumps(metadata),
                challenge_ttl_ms=max(ceremony.expires_ms - now, 0) + CHALLENGE_RETENTION_MS,
                new_challenge=new_challenge,
            ),
            now,
        )
        if outcome is StepOutcome.REGRESSED:
            raise PasskeyRefused("the sign counter did not increase (a cloned authenticator?)")
        if outcome is StepOutcome.NOT_PENDING:
            raise ChallengeNotPending
        if outcome is StepOutcome.NOT_VERIFIED:
            raise FactorNotVerified
        if outcome is not StepOutcome.ACCEPTED or approved is None:
            raise PasskeyRefused("the passkey's factor is gone")
        log.info("passkey challenge %s approved", approved.sid)
        return approved

    def _signing_factor(self, service_sid: str, ceremony: Ceremony, credential_id: str) -> Factor:
        """The verified passkey factor the assertion's credential belongs to: one of the
        ceremony's identity (and factor, when it named one), or for a discoverable sign-in
        the one the credential index names."""
        if ceremony.identity:
            for factor in self._mfa.list_factors(service_sid, ceremony.identity):
                if (
                    _is_verified_passkey(factor)
                    and factor.passkey[CREDENTIAL_ID] == credential_id
                    and ceremony.factor_sid in ("", factor.sid)
                ):
                    return factor
            raise PasskeyRefused("the passkey is not one of this identity's verified passkeys")
        found = self._credential_factor(service_sid, credential_id)
        if found is None:
            raise PasskeyRefused("the passkey is not registered with this service")
        return found

    def _credential_factor(self, service_sid: str, credential_id: str) -> Factor | None:
        found = self._store.find_credential(service_sid, credential_id)
        if found is None:
            return None
        identity, factor_sid = found
        factor = self._mfa.get_factor(service_sid, identity, factor_sid)
        if factor is None or not _is_verified_passkey(factor):
            return None
        return factor if factor.passkey[CREDENTIAL_ID] == credential_id else None

    # -- ceremonies ------------------------------------------------------------------------

    def _open(self, challenge: bytes, ceremony: Ceremony) -> None:
        if not self._store.open_ceremony(ceremony_tag(challenge), ceremony, CEREMONY_TIMEOUT_MS):
            raise PasskeyRefused("a challenge collided; try again")  # 2^-256: never

    def _claim(
        self, service_sid: str, credential: dict[str, Any], kind: CeremonyKind
    ) -> tuple[bytes, Ceremony]:
        """The ceremony of the response's challenge, taken for this answer only."""
        challenge = challenge_of(credential)
        outcome, ceremony = self._store.claim_ceremony(
            service_sid, ceremony_tag(challenge), kind, self._clock.now_ms()
        )
        if outcome is ClaimOutcome.EXPIRED:
            raise PasskeyCeremonyExpired
        if ceremony is None:
            raise PasskeyCeremonyNotFound
        return challenge, ceremony


def _friendly_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidMfaRequest("friendly_name", "required")
    name = value.strip()
    if len(name) > MAX_FACTOR_FRIENDLY_NAME_LENGTH:
        raise InvalidMfaRequest(
            "friendly_name", f"at most {MAX_FACTOR_FRIENDLY_NAME_LENGTH} characters"
        )
    return name


def _same_entity(user_handle: Any, entity_sid: str) -> bool:
    """A `userHandle` is the base64url entity sid this service put in `user.id`."""
    if not isinstance(user_handle, str):
        return False
    try:
        return hmac.compare_digest(from_b64url(user_handle), entity_sid.encode("ascii"))
    except ValueError:
        return False

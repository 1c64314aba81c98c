"""Signing in with a passkey (Twilio's `/Passkeys/Challenges` and
`/Passkeys/ApproveChallenge`): `create_challenge` stores a pending challenge of the identity
(or, without one, prepares a discoverable sign-in) and opens its ceremony;
`approve_challenge` claims it, finds the credential's factor, checks the assertion against
the stored credential and records the new sign count only if it increased (compare-and-set
in the approving script). A refused answer leaves the challenge `denied`."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from verify_service.application.mfa.passkey_factors import (
    AAGUID,
    CREDENTIAL_ID,
    Ceremonies,
    Started,
    factor_config,
    is_verified_passkey,
    iso,
    stored_credential,
)
from verify_service.application.mfa.passkey_ports import (
    Approval,
    Ceremony,
    CeremonyKind,
    StepOutcome,
)
from verify_service.application.services.service_catalog import ServiceCatalog
from verify_service.domain import sids
from verify_service.domain.errors import ChallengeNotPending, FactorNotVerified, InvalidMfaRequest
from verify_service.domain.mfa.identity import require_identity
from verify_service.domain.mfa.limits import CHALLENGE_RETENTION_MS, MAX_CHALLENGE_TTL_MS
from verify_service.domain.mfa.models import Challenge, ChallengeStatus, Factor, FactorType
from verify_service.domain.mfa.passkey_ceremonies import (
    CEREMONY_TIMEOUT_MS,
    MAX_PENDING_PASSKEY_CHALLENGES,
    authentication_options,
    check_assertion,
    from_b64url,
    require_attachment,
    require_credential_shape,
)
from verify_service.domain.mfa.passkey_config import (
    PasskeyConfig,
    Requirement,
    resolve_passkey_config,
    sign_in_origins,
    sign_in_requires_user_verification,
)
from verify_service.domain.mfa.passkey_errors import PasskeyRefused
from verify_service.domain.service import Service

log = logging.getLogger(__name__)


class PasskeySignIn:
    def __init__(self, ceremonies: Ceremonies, catalog: ServiceCatalog) -> None:
        self._ceremonies = ceremonies
        self._catalog = catalog

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
            for f in self._ceremonies.mfa.list_factors(service.sid, identity)
            if is_verified_passkey(f) and factor_sid in (None, "", f.sid)
        ]
        if not factors:
            if factor_sid:
                raise InvalidMfaRequest("factor_sid", "not a verified passkey of this identity")
            raise InvalidMfaRequest("identity", "the identity has no verified passkey")
        first = factor_config(factors[0])
        allowed = [
            f for f in factors if factor_config(f).relying_party_id == first.relying_party_id
        ]
        required = any(
            sign_in_requires_user_verification(factor_config(f), service) for f in allowed
        )
        now = self._ceremonies.clock.now_ms()
        challenge_bytes = self._ceremonies.new_challenge()
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
        stored = self._ceremonies.store.create_challenge(
            record,
            CEREMONY_TIMEOUT_MS + CHALLENGE_RETENTION_MS,
            now - MAX_CHALLENGE_TTL_MS - CHALLENGE_RETENTION_MS,
            MAX_PENDING_PASSKEY_CHALLENGES,
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
        self._ceremonies.open(
            challenge_bytes,
            Ceremony(
                kind=CeremonyKind.AUTHENTICATION,
                sid=stored.sid,
                service_sid=service.sid,
                identity=identity,
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
        now = self._ceremonies.clock.now_ms()
        challenge_bytes = self._ceremonies.new_challenge()
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
        self._ceremonies.open(
            challenge_bytes,
            Ceremony(
                kind=CeremonyKind.AUTHENTICATION,
                sid=record.sid,
                service_sid=service_sid,
                identity="",
                created_ms=now,
                expires_ms=record.expires_ms,
                rp_id=config.relying_party_id,
                user_verification=config.user_verification.value,
            ),
        )
        return Started(options, challenge=record)

    def approve_challenge(
        self,
        service_sid: str,
        credential: dict[str, Any],
        denied: Callable[[Challenge], None] | None = None,
    ) -> Challenge:
        """The claimed challenge approved; a refused answer denies it, and `denied` is told
        which challenge that was (its audit entry names it: the request names no sid)."""
        service = self._catalog.fetch(service_sid)
        require_credential_shape(credential, ("authenticatorData", "clientDataJSON", "signature"))
        challenge, ceremony = self._ceremonies.claim(
            service.sid, credential, CeremonyKind.AUTHENTICATION
        )
        try:
            return self._approve(service, credential, challenge, ceremony)
        except (PasskeyRefused, FactorNotVerified):
            if ceremony.identity:
                self._ceremonies.store.deny_challenge(
                    service.sid, ceremony.identity, ceremony.sid, self._ceremonies.clock.now_ms()
                )
                if denied is not None:
                    found = self._ceremonies.mfa.get_challenge(
                        service.sid, ceremony.identity, ceremony.sid
                    )
                    if found is not None:
                        denied(found)
            raise

    def _approve(
        self, service: Service, credential: dict[str, Any], challenge: bytes, ceremony: Ceremony
    ) -> Challenge:
        service_sid = service.sid
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
        origins = sign_in_origins(config, service)  # the service's current settings apply
        if not origins:
            raise PasskeyRefused("the origin is not one of the relying party's origins")
        require_attachment(credential, config.authenticator_attachment)
        sign_count = check_assertion(
            credential,
            challenge=challenge,
            rp_id=config.relying_party_id,
            origins=origins,
            stored=stored_credential(factor),
            require_user_verification=sign_in_requires_user_verification(config, service)
            or ceremony.user_verification == Requirement.REQUIRED.value,
        )
        now = self._ceremonies.clock.now_ms()
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
        metadata = {"aaguid": factor.passkey.get(AAGUID), "date_last_approved": iso(now)}
        outcome, approved, _ = self._ceremonies.store.approve_challenge(
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
            for factor in self._ceremonies.mfa.list_factors(service_sid, ceremony.identity):
                if (
                    is_verified_passkey(factor)
                    and factor.passkey[CREDENTIAL_ID] == credential_id
                    and ceremony.factor_sid in ("", factor.sid)
                ):
                    return factor
            raise PasskeyRefused("the passkey is not one of this identity's verified passkeys")
        found = self._ceremonies.credential_factor(service_sid, credential_id)
        if found is None:
            raise PasskeyRefused("the passkey is not registered with this service")
        return found


def _same_entity(user_handle: Any, entity_sid: str) -> bool:
    """A `userHandle` is the base64url entity sid this service put in `user.id`."""
    if not isinstance(user_handle, str):
        return False
    try:
        return hmac.compare_digest(from_b64url(user_handle), entity_sid.encode("ascii"))
    except ValueError:
        return False

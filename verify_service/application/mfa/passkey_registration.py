"""Registering a passkey (Twilio's `/Passkeys/Factors` and `/Passkeys/VerifyFactor`):
`create_factor` stores an unverified `passkeys` factor of the entity (created with it when
missing) and opens a ceremony whose challenge goes into the creation options;
`verify_factor` finds that ceremony by the challenge inside the browser's `clientDataJSON`,
claims it (single use, expiring), checks the attestation with py_webauthn and records the
credential (the factor becomes verified, and its credential id is indexed)."""

from __future__ import annotations

import json
import logging
from typing import Any

from verify_service.application.mfa.passkey_factors import (
    AAGUID,
    CONFIG,
    CREDENTIAL_ID,
    PUBLIC_KEY,
    SIGN_COUNT,
    TRANSPORTS,
    Ceremonies,
    Started,
    factor_config,
    is_verified_passkey,
    stored_credential,
)
from verify_service.application.mfa.passkey_ports import Ceremony, CeremonyKind, StepOutcome
from verify_service.application.services.service_catalog import ServiceCatalog
from verify_service.domain import sids
from verify_service.domain.errors import InvalidMfaRequest, TooManyFactors
from verify_service.domain.mfa.identity import require_identity
from verify_service.domain.mfa.limits import (
    MAX_FACTORS_PER_ENTITY,
)
from verify_service.domain.mfa.models import Entity, Factor, FactorStatus, FactorType
from verify_service.domain.mfa.passkey_ceremonies import (
    CEREMONY_TIMEOUT_MS,
    check_registration,
    registration_options,
    require_credential_shape,
)
from verify_service.domain.mfa.passkey_config import (
    require_display_name,
    resolve_passkey_config,
)
from verify_service.domain.mfa.passkey_errors import PasskeyCeremonyNotFound, PasskeyRefused

log = logging.getLogger(__name__)


class PasskeyRegistration:
    def __init__(self, ceremonies: Ceremonies, catalog: ServiceCatalog) -> None:
        self._ceremonies = ceremonies
        self._catalog = catalog

    def create_factor(
        self, service_sid: str, friendly_name: Any, identity: Any, config: Any
    ) -> Started:
        service = self._catalog.fetch(service_sid)
        name = _friendly_name(friendly_name)
        identity = require_identity(identity if isinstance(identity, str) else "")
        if config is not None and not isinstance(config, dict):
            raise InvalidMfaRequest("config", "an object")
        resolved = resolve_passkey_config(config, service)
        now = self._ceremonies.clock.now_ms()
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
        created = self._ceremonies.mfa.create_factor(
            factor.with_changes(entity_sid=entity.sid), entity, MAX_FACTORS_PER_ENTITY
        )
        if created is None:
            raise TooManyFactors(MAX_FACTORS_PER_ENTITY)
        exclude = [
            stored_credential(f)
            for f in self._ceremonies.mfa.list_factors(service.sid, identity)
            if is_verified_passkey(f)
        ]
        challenge = self._ceremonies.new_challenge()
        options = registration_options(
            resolved,
            entity_sid=created.entity_sid,
            user_name=name,
            challenge=challenge,
            exclude=exclude,
        )
        self._ceremonies.open(
            challenge,
            Ceremony(
                kind=CeremonyKind.REGISTRATION,
                sid=created.sid,
                service_sid=service.sid,
                identity=identity,
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
        challenge, ceremony = self._ceremonies.claim(
            service.sid, credential, CeremonyKind.REGISTRATION
        )
        factor = self._ceremonies.mfa.get_factor(service.sid, ceremony.identity, ceremony.sid)
        if factor is None or factor.factor_type is not FactorType.PASSKEYS:
            raise PasskeyCeremonyNotFound
        registered = check_registration(
            credential, challenge=challenge, config=factor_config(factor)
        )
        self._ceremonies.claim_credential(factor, registered.credential_id)
        outcome, verified = self._ceremonies.store.verify_factor(
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
            self._ceremonies.clock.now_ms(),
        )
        if outcome is not StepOutcome.ACCEPTED or verified is None:
            self._ceremonies.store.release_credential(
                service.sid, registered.credential_id, (factor.identity, factor.sid)
            )
            if outcome is StepOutcome.NOT_PENDING:
                raise PasskeyRefused("the factor is already verified")
            raise PasskeyCeremonyNotFound
        log.info("passkey factor %s verified", verified.sid)
        return verified


def _friendly_name(value: Any) -> str:
    """The factor's name, also the passkey's `user.name`/`displayName` in the creation
    options (what the browser's passkey picker shows): 1-64 characters, no control or
    invisible character."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidMfaRequest("friendly_name", "required")
    return require_display_name(value, "friendly_name")

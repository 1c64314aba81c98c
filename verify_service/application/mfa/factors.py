"""Use cases of the Factor resource for TOTP: create (the secret and its key URI shown
once), fetch, list, update (friendly name, config) and verify (`AuthPayload`), delete.
Passkey factors are created by the passkeys capability; they are listed, fetched and
deleted here like any factor."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from verify_service.application.access.access import Principal
from verify_service.application.mfa.entities import Entities, require_service
from verify_service.application.mfa.mfa_audit import MfaAudit
from verify_service.application.mfa.mfa_events import MfaEvents
from verify_service.application.mfa.ports import (
    AnswerResult,
    MfaStore,
    SecretSealer,
    secret_context,
)
from verify_service.application.mfa.totp_answers import (
    MAX_EVALUATIONS,
    TotpAnswers,
    require_auth_payload,
    retry_after_seconds,
)
from verify_service.application.ports import Clock
from verify_service.application.services.ports import ServiceStore
from verify_service.domain import sids
from verify_service.domain.errors import (
    FactorVerificationAttemptsReached,
    InvalidMfaRequest,
    MfaConcurrentRequests,
    NotFound,
    TooManyFactors,
)
from verify_service.domain.events.event_types import EventType
from verify_service.domain.mfa import totp
from verify_service.domain.mfa.identity import require_identity
from verify_service.domain.mfa.limits import (
    DEFAULT_SKEW,
    DEFAULT_TIME_STEP_SECONDS,
    DEFAULT_TOTP_CODE_LENGTH,
    MAX_FACTOR_FRIENDLY_NAME_LENGTH,
    MAX_FACTORS_PER_ENTITY,
    MAX_SKEW,
    MAX_TIME_STEP_SECONDS,
    MAX_TOTP_CODE_LENGTH,
    MIN_SKEW,
    MIN_TIME_STEP_SECONDS,
    MIN_TOTP_CODE_LENGTH,
)
from verify_service.domain.mfa.models import (
    CodeOutcome,
    Factor,
    FactorStatus,
    FactorType,
    TotpAlgorithm,
    TotpConfig,
)
from verify_service.domain.service import Service

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TotpSettings:
    """`Config.*` of a request: None where the request gives none."""

    time_step: int | None = None
    skew: int | None = None
    code_length: int | None = None
    alg: str | None = None

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.time_step, self.skew, self.code_length, self.alg))


@dataclass(frozen=True, slots=True)
class NewFactorRequest:
    friendly_name: str | None
    factor_type: str | None
    secret: str | None = None
    config: TotpSettings = TotpSettings()
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class FactorUpdate:
    auth_payload: str | None = None
    friendly_name: str | None = None
    config: TotpSettings = TotpSettings()
    # The first `Config.*` parameter of the request that is not a TOTP one (its wire name,
    # or "Config" when that name is not parameter-shaped): refused on every factor (a push
    # setting such as `Config.NotificationToken` on a totp one, anything on a passkeys one).
    other_config: str | None = None


@dataclass(frozen=True, slots=True)
class NewTotpFactor:
    """A created factor with its binding: the only time the secret is shown."""

    factor: Factor
    secret: str
    uri: str


def _require_range(value: int, wire: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidMfaRequest(wire, f"{low}-{high}")
    return value


def totp_config(settings: TotpSettings, base: TotpConfig) -> TotpConfig:
    """`base` with the request's `Config.*` applied, each checked against Twilio's range."""
    alg = base.alg
    if settings.alg is not None:
        try:
            alg = TotpAlgorithm(settings.alg.lower())  # the SDK's docs: sha1|sha256|sha512
        except ValueError:
            raise InvalidMfaRequest("Config.Alg", "sha1, sha256 or sha512") from None
    return TotpConfig(
        time_step=_require_range(
            base.time_step if settings.time_step is None else settings.time_step,
            "Config.TimeStep",
            MIN_TIME_STEP_SECONDS,
            MAX_TIME_STEP_SECONDS,
        ),
        skew=_require_range(
            base.skew if settings.skew is None else settings.skew,
            "Config.Skew",
            MIN_SKEW,
            MAX_SKEW,
        ),
        code_length=_require_range(
            base.code_length if settings.code_length is None else settings.code_length,
            "Config.CodeLength",
            MIN_TOTP_CODE_LENGTH,
            MAX_TOTP_CODE_LENGTH,
        ),
        alg=alg,
    )


def service_totp_defaults(service: Service) -> TotpConfig:
    """The service's `Totp.*` settings, else Twilio's defaults (30 s, skew 1, 6 digits)."""
    return TotpConfig(
        time_step=service.totp_time_step or DEFAULT_TIME_STEP_SECONDS,
        skew=DEFAULT_SKEW if service.totp_skew is None else service.totp_skew,
        code_length=service.totp_code_length or DEFAULT_TOTP_CODE_LENGTH,
        alg=TotpAlgorithm.SHA1,
    )


def require_friendly_name(value: str | None) -> str:
    name = (value or "").strip()
    if not name or len(name) > MAX_FACTOR_FRIENDLY_NAME_LENGTH:
        raise InvalidMfaRequest("FriendlyName", f"1-{MAX_FACTOR_FRIENDLY_NAME_LENGTH} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InvalidMfaRequest("FriendlyName", "control characters")
    return name


def require_factor_type(value: str | None) -> None:
    if value == FactorType.TOTP:
        return
    if value == FactorType.PUSH:
        raise InvalidMfaRequest(
            "FactorType", "push factors are not offered by this service; use totp or passkeys"
        )
    if value == FactorType.PASSKEYS:
        raise InvalidMfaRequest(
            "FactorType", "passkey factors are created with POST /v2/Services/{VA}/Passkeys/Factors"
        )
    raise InvalidMfaRequest("FactorType", "must be totp or passkeys; push is not offered")


class Factors:
    def __init__(
        self,
        store: MfaStore,
        services: ServiceStore,
        entities: Entities,
        sealer: SecretSealer,
        clock: Clock,
        audit: MfaAudit,
        max_factors: int = MAX_FACTORS_PER_ENTITY,
        events: MfaEvents | None = None,
    ) -> None:
        self._events = events or MfaEvents(None)
        self._store = store
        self._services = services
        self._entities = entities
        self._sealer = sealer
        self._answers = TotpAnswers(sealer)
        self._clock = clock
        self._audit = audit
        self._max_factors = max_factors

    def create(
        self, service_sid: str, identity: str, request: NewFactorRequest, principal: Principal
    ) -> NewTotpFactor:
        """A TOTP factor, `unverified` until a right code is posted to it. The entity is
        created with its first factor (as Twilio does)."""
        service = require_service(self._services, service_sid)
        identity = require_identity(identity)
        friendly_name = require_friendly_name(request.friendly_name)
        require_factor_type(request.factor_type)
        config = totp_config(request.config, service_totp_defaults(service))
        secret = (
            totp.new_secret() if request.secret is None else totp.require_secret(request.secret)
        )
        entity = self._entities.new_entity(service_sid, identity)
        factor_sid = sids.new_sid("YF")
        factor = Factor(
            sid=factor_sid,
            service_sid=service_sid,
            entity_sid=entity.sid,
            identity=identity,
            factor_type=FactorType.TOTP,
            friendly_name=friendly_name,
            status=FactorStatus.UNVERIFIED,
            created_ms=entity.created_ms,
            updated_ms=entity.created_ms,
            totp=config,
            sealed_secret=self._sealer.seal(secret, secret_context(service_sid, factor_sid)),
            metadata=request.metadata,
        )
        stored = self._store.create_factor(factor, entity, self._max_factors)
        if stored is None:
            raise TooManyFactors(self._max_factors)
        issuer = service.totp_issuer or service.friendly_name
        self._audit.record(
            principal, "mfa.factor.create", (service_sid, stored.entity_sid, stored.sid), "ok"
        )
        log.info("factor %s created (totp)", stored.sid)
        self._events.factor(EventType.FACTOR_CREATED, stored, stored.created_ms)
        return NewTotpFactor(stored, secret, totp.key_uri(secret, issuer, friendly_name, config))

    def fetch(self, service_sid: str, identity: str, factor_sid: str) -> Factor:
        require_service(self._services, service_sid)
        identity = require_identity(identity)
        factor = (
            self._store.get_factor(service_sid, identity, factor_sid)
            if sids.is_sid(factor_sid, "YF")
            else None
        )
        if factor is None:
            raise NotFound
        return factor

    def list(
        self, service_sid: str, identity: str, page: int, page_size: int
    ) -> tuple[list[Factor], bool]:
        require_service(self._services, service_sid)
        identity = require_identity(identity)
        factors = self._store.list_factors(service_sid, identity)
        start = page * page_size
        return factors[start : start + page_size], len(factors) > start + page_size

    def update(
        self,
        service_sid: str,
        identity: str,
        factor_sid: str,
        update: FactorUpdate,
        principal: Principal,
    ) -> Factor:
        """Change the friendly name / config, then verify with `AuthPayload` if given."""
        factor = self.fetch(service_sid, identity, factor_sid)
        if factor.factor_type is not FactorType.TOTP and update.auth_payload is not None:
            raise InvalidMfaRequest(
                "AuthPayload",
                "a passkey factor is verified with POST /v2/Services/{VA}/Passkeys/VerifyFactor",
            )
        if factor.factor_type is not FactorType.TOTP and (
            update.config.given or update.other_config is not None
        ):
            raise InvalidMfaRequest(
                update.other_config or "Config",
                "a passkey factor's config is fixed at its creation; the service's current"
                " Passkeys.* settings narrow it at every sign-in (docs/mfa.md)",
            )
        if factor.factor_type is FactorType.TOTP and update.other_config is not None:
            raise InvalidMfaRequest(
                update.other_config,
                "not a TOTP setting (Config.TimeStep, Config.Skew, Config.CodeLength,"
                " Config.Alg); push factors are not offered",
            )
        if update.auth_payload is not None:
            require_auth_payload(update.auth_payload)
        if update.friendly_name is not None or update.config.given:
            factor = self._change(factor, update, principal)
        if update.auth_payload is not None:
            factor = self._verify(factor, update.auth_payload, principal)
        return factor

    def _change(self, factor: Factor, update: FactorUpdate, principal: Principal) -> Factor:
        for _ in range(MAX_EVALUATIONS):
            changes: dict[str, Any] = {}
            if update.friendly_name is not None:
                changes["friendly_name"] = require_friendly_name(update.friendly_name)
            if update.config.given:
                if factor.totp is None:
                    raise InvalidMfaRequest("Config", "only a TOTP factor has a TOTP config")
                config = totp_config(update.config, factor.totp)
                changes.update(
                    totp_time_step=config.time_step,
                    totp_skew=config.skew,
                    totp_code_length=config.code_length,
                    totp_alg=config.alg.value,
                )
                if factor.last_step is not None and config.time_step != factor.totp.time_step:
                    # Steps are counted in the new time step from now on: the last accepted
                    # one, converted so that no code of its time can be used again.
                    seconds = (factor.last_step + 1) * factor.totp.time_step
                    changes["totp_last_step"] = math.ceil(seconds / config.time_step) - 1
            result = self._store.update_factor(
                factor.service_sid,
                factor.identity,
                factor.sid,
                changes,
                factor.version,
                self._clock.now_ms(),
            )
            if result.outcome is CodeOutcome.ACCEPTED and result.factor is not None:
                self._audit.record(principal, "mfa.factor.update", _target(factor), "ok")
                return result.factor
            if result.outcome is CodeOutcome.GONE:
                raise NotFound
            factor = self.fetch(factor.service_sid, factor.identity, factor.sid)
        raise MfaConcurrentRequests

    def _verify(self, factor: Factor, code: str, principal: Principal) -> Factor:
        for _ in range(MAX_EVALUATIONS):
            now_ms = self._clock.now_ms()
            evaluation = self._answers.evaluate(factor, code, now_ms)
            result: AnswerResult = self._store.verify_factor(
                factor.service_sid, factor.identity, factor.sid, evaluation
            )
            if result.outcome is CodeOutcome.CHANGED:
                factor = self.fetch(factor.service_sid, factor.identity, factor.sid)
                continue
            if result.outcome is CodeOutcome.GONE or result.factor is None:
                if result.outcome is CodeOutcome.LOCKED:
                    # Refused while locked: nothing changed, no entry (the lock has one).
                    raise FactorVerificationAttemptsReached(
                        retry_after_seconds(result.retry_after_ms), result.entity_locked
                    )
                raise NotFound
            outcome = {
                CodeOutcome.ACCEPTED: "verified",
                CodeOutcome.WRONG: "wrong",
                CodeOutcome.REPLAYED: "replayed",
            }.get(result.outcome, result.outcome.value)
            self._audit.record(principal, "mfa.factor.verify", _target(factor), outcome)
            self._audit.lock_if_filled(principal, result, _target(factor))
            if (
                factor.status is FactorStatus.UNVERIFIED
                and result.factor.status is FactorStatus.VERIFIED
            ):
                self._events.factor(EventType.FACTOR_VERIFIED, result.factor, now_ms)
            return result.factor
        raise MfaConcurrentRequests

    def delete(
        self,
        service_sid: str,
        identity: str,
        factor_sid: str,
        principal: Principal,
        reason: str | None = None,
    ) -> None:
        """Delete the factor and its challenges; `reason`: a support deletion's."""
        factor = self.fetch(service_sid, identity, factor_sid)
        if not self._store.delete_factor(service_sid, factor.identity, factor.sid):
            raise NotFound
        self._audit.record(principal, "mfa.factor.delete", _target(factor), "ok", reason)
        log.info("factor %s deleted", factor.sid)
        self._events.factor(EventType.FACTOR_DELETED, factor, self._clock.now_ms())


def _target(factor: Factor) -> tuple[str, ...]:
    return (factor.service_sid, factor.entity_sid, factor.sid)

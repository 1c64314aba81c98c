"""Use cases of the Challenge resource for TOTP factors: create (answered at once when it
carries `AuthPayload`), fetch, list, answer (`POST …/Challenges/{YC}`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from verify_service.application.access.access import Principal
from verify_service.application.mfa.entities import require_service
from verify_service.application.mfa.mfa_audit import MfaAudit
from verify_service.application.mfa.mfa_events import MfaEvents
from verify_service.application.mfa.ports import (
    AnswerResult,
    ChallengeQuery,
    Evaluation,
    MfaStore,
    SecretSealer,
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
    ChallengeExpired,
    ChallengeNotPending,
    ChallengeVerificationAttemptsReached,
    FactorNotFound,
    FactorNotVerified,
    InvalidMfaRequest,
    MfaConcurrentRequests,
    NotFound,
    TooManyPendingChallenges,
    VerifyError,
)
from verify_service.domain.mfa.identity import require_identity
from verify_service.domain.mfa.limits import (
    CHALLENGE_RETENTION_MS,
    DEFAULT_CHALLENGE_TTL_MS,
    MAX_CHALLENGE_TTL_MS,
    MAX_PENDING_CHALLENGES,
)
from verify_service.domain.mfa.models import (
    Challenge,
    ChallengeDetails,
    CodeOutcome,
    Factor,
    FactorStatus,
    FactorType,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NewChallengeRequest:
    factor_sid: str | None
    expiration_ms: int | None = None  # `ExpirationDate`, epoch ms
    details: ChallengeDetails | None = None
    hidden_details: dict[str, Any] | None = None
    auth_payload: str | None = None


def _factor_sid(factor_sid: str | None) -> str:
    if factor_sid is None:
        raise InvalidMfaRequest("FactorSid", "required")
    if not sids.is_sid(factor_sid, "YF"):
        raise InvalidMfaRequest("FactorSid", "a YF sid")
    return factor_sid


_AUDITED = {
    CodeOutcome.UNANSWERED: "pending",  # created without a code: a change too (support)
    CodeOutcome.ACCEPTED: "approved",
    CodeOutcome.REPLAYED: "denied",
    CodeOutcome.WRONG: "wrong",
}


class Challenges:
    def __init__(
        self,
        store: MfaStore,
        services: ServiceStore,
        sealer: SecretSealer,
        clock: Clock,
        audit: MfaAudit,
        events: MfaEvents | None = None,
    ) -> None:
        self._events = events or MfaEvents(None)
        self._store = store
        self._services = services
        self._answers = TotpAnswers(sealer)
        self._clock = clock
        self._audit = audit

    def _factor(self, service_sid: str, identity: str, factor_sid: str | None) -> Factor:
        sid = _factor_sid(factor_sid)
        factor = self._store.get_factor(service_sid, identity, sid)
        if factor is None:
            raise FactorNotFound(sid)
        return factor

    def create(
        self, service_sid: str, identity: str, request: NewChallengeRequest, principal: Principal
    ) -> Challenge:
        if not sids.is_sid(service_sid, "VA"):
            raise NotFound
        now_ms = self._clock.now_ms()
        try:
            identity = require_identity(identity)
            expires_ms = self._expiration(request.expiration_ms, now_ms)
            code = (
                None if request.auth_payload is None else require_auth_payload(request.auth_payload)
            )
            factor_sid = _factor_sid(request.factor_sid)
        except VerifyError:
            require_service(self._services, service_sid)  # an unknown service: 404 first
            raise
        # The service's existence and the factor in one round trip: a challenge needs none
        # of the service's settings.
        service_exists, found = self._store.get_service_factor(service_sid, identity, factor_sid)
        if not service_exists:
            raise NotFound
        if found is None:
            raise FactorNotFound(factor_sid)
        factor = found
        if factor.factor_type is not FactorType.TOTP:
            raise InvalidMfaRequest(
                "FactorSid", "a passkey factor is challenged with /Passkeys/Challenges"
            )
        if factor.status is not FactorStatus.VERIFIED:
            raise FactorNotVerified
        for _ in range(MAX_EVALUATIONS):
            challenge = Challenge(
                sid=sids.new_sid("YC"),
                service_sid=service_sid,
                entity_sid=factor.entity_sid,
                identity=identity,
                factor_sid=factor.sid,
                factor_type=factor.factor_type,
                created_ms=now_ms,
                updated_ms=now_ms,
                expires_ms=expires_ms,
                details=request.details,
                hidden_details=request.hidden_details,
            )
            evaluation = None if code is None else self._answers.evaluate(factor, code, now_ms)
            result = self._store.create_challenge(challenge, evaluation, CHALLENGE_RETENTION_MS)
            if result.outcome is CodeOutcome.CHANGED:
                factor = self._factor(service_sid, identity, factor.sid)
                now_ms = self._clock.now_ms()
                continue
            return self._recorded(result, factor, principal, "mfa.challenge.create")
        raise MfaConcurrentRequests

    def _expiration(self, requested_ms: int | None, now_ms: int) -> int:
        """Twilio: five minutes after creation by default, at most sixty."""
        if requested_ms is None:
            return now_ms + DEFAULT_CHALLENGE_TTL_MS
        if requested_ms <= now_ms:
            raise InvalidMfaRequest("ExpirationDate", "must be in the future")
        if requested_ms > now_ms + MAX_CHALLENGE_TTL_MS:
            raise InvalidMfaRequest("ExpirationDate", "at most 60 minutes after creation")
        return requested_ms

    def _recorded(
        self, result: AnswerResult, factor: Factor, principal: Principal, action: str
    ) -> Challenge:
        """The challenge the store recorded, or the refusal as an error. The change goes
        to the MFA activity log; a refusal while the factor is locked changes nothing and
        is not recorded (the lock is, once, in the audit log)."""
        target = (factor.service_sid, factor.entity_sid, factor.sid)
        match result.outcome:
            case CodeOutcome.GONE:
                raise NotFound
            case CodeOutcome.NOT_VERIFIED:
                raise FactorNotVerified
            case CodeOutcome.NOT_PENDING:
                raise ChallengeNotPending
            case CodeOutcome.EXPIRED:
                self._audit.activity(principal, action, target, "60323")
                raise ChallengeExpired
            case CodeOutcome.LOCKED:
                raise ChallengeVerificationAttemptsReached(
                    retry_after_seconds(result.retry_after_ms), result.entity_locked
                )
            case CodeOutcome.FULL:
                raise TooManyPendingChallenges(
                    MAX_PENDING_CHALLENGES, retry_after_seconds(result.retry_after_ms)
                )
        challenge = result.challenge
        if challenge is None:
            raise NotFound
        if result.outcome in _AUDITED:
            self._audit.activity(
                principal, action, (*target, challenge.sid), _AUDITED[result.outcome]
            )
        self._audit.lock_if_filled(principal, result, target)
        if result.outcome in (CodeOutcome.ACCEPTED, CodeOutcome.REPLAYED):
            self._events.challenge_answered(challenge, factor, challenge.updated_ms)
        return challenge

    def fetch(self, service_sid: str, identity: str, challenge_sid: str) -> Challenge:
        require_service(self._services, service_sid)
        identity = require_identity(identity)
        challenge = (
            self._store.get_challenge(service_sid, identity, challenge_sid)
            if sids.is_sid(challenge_sid, "YC")
            else None
        )
        if challenge is None:
            raise NotFound
        return challenge

    def list(
        self, service_sid: str, identity: str, query: ChallengeQuery, page: int, page_size: int
    ) -> tuple[list[Challenge], bool]:
        require_service(self._services, service_sid)
        identity = require_identity(identity)
        return self._store.list_challenges(
            service_sid, identity, query, self._clock.now_ms(), page * page_size, page_size
        )

    def answer(
        self,
        service_sid: str,
        identity: str,
        challenge_sid: str,
        auth_payload: str | None,
        metadata: dict[str, Any] | None,
        principal: Principal,
    ) -> Challenge:
        """A right code approves the pending challenge; a wrong one is counted and leaves
        it pending (Twilio: an incorrect AuthPayload is no error); a code of a time step
        already used denies it; past the wrong-code limit every answer is refused."""
        challenge = self.fetch(service_sid, identity, challenge_sid)
        if challenge.factor_type is not FactorType.TOTP:
            raise InvalidMfaRequest(
                "AuthPayload",
                "a passkey challenge is answered with /Passkeys/ApproveChallenge",
            )
        code = require_auth_payload(auth_payload)
        factor = self._factor(service_sid, challenge.identity, challenge.factor_sid)
        for _ in range(MAX_EVALUATIONS):
            now_ms = self._clock.now_ms()
            evaluation: Evaluation = self._answers.evaluate(factor, code, now_ms)
            result = self._store.answer_challenge(
                service_sid, challenge.identity, challenge.sid, factor.sid, evaluation, metadata
            )
            if result.outcome is CodeOutcome.CHANGED:
                factor = self._factor(service_sid, challenge.identity, factor.sid)
                continue
            return self._recorded(result, factor, principal, "mfa.challenge.answer")
        raise MfaConcurrentRequests

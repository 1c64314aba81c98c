"""Evaluating a TOTP answer: open the factor's sealed secret, find the time step the code
matches in the skew window (domain/mfa/totp.py). What happens then (replay, counting) is
decided atomically by the store with the result."""

from __future__ import annotations

import logging

from verify_service.application.mfa.ports import Evaluation, SecretSealer, secret_context
from verify_service.domain.errors import InvalidMfaRequest
from verify_service.domain.mfa import totp
from verify_service.domain.mfa.limits import (
    ENTITY_WRONG_CODE_WINDOW_MS,
    MAX_ENTITY_WRONG_CODES,
    MAX_TOTP_CODE_LENGTH,
    MAX_WRONG_CODES,
    MIN_TOTP_CODE_LENGTH,
    WRONG_CODE_WINDOW_MS,
)
from verify_service.domain.mfa.models import Factor

log = logging.getLogger(__name__)

# How often a use case evaluates again when the factor changed under it (a config update).
MAX_EVALUATIONS = 3


def require_auth_payload(value: str | None) -> str:
    """A TOTP `AuthPayload`: 3 to 8 characters (Twilio); digits or not, a code that is no
    code is a wrong code (counted), not a malformed request."""
    if value is None or not MIN_TOTP_CODE_LENGTH <= len(value) <= MAX_TOTP_CODE_LENGTH:
        raise InvalidMfaRequest(
            "AuthPayload",
            f"a TOTP code of {MIN_TOTP_CODE_LENGTH}-{MAX_TOTP_CODE_LENGTH} characters",
        )
    return value


class TotpAnswers:
    def __init__(self, sealer: SecretSealer) -> None:
        self._sealer = sealer

    def evaluate(self, factor: Factor, code: str, now_ms: int) -> Evaluation:
        matched: int | None = None
        secret = None
        if factor.sealed_secret is not None:
            secret = self._sealer.open(
                factor.sealed_secret, secret_context(factor.service_sid, factor.sid)
            )
        if secret is None:
            # Sealed under a key no longer on the ring (docs/key-rotation.md): no code can
            # match; an operator must put the key back (or the user enrols again).
            log.error("factor %s: its TOTP secret cannot be opened with the key ring", factor.sid)
        elif factor.totp is not None:
            matched = totp.matched_step(secret, factor.totp, code, now_ms)
        return Evaluation(
            matched_step=matched,
            factor_version=factor.version,
            now_ms=now_ms,
            max_wrong=MAX_WRONG_CODES,
            wrong_window_ms=WRONG_CODE_WINDOW_MS,
            entity_max_wrong=MAX_ENTITY_WRONG_CODES,
            entity_wrong_window_ms=ENTITY_WRONG_CODE_WINDOW_MS,
        )


def retry_after_seconds(retry_after_ms: int | None) -> int | None:
    if retry_after_ms is None:
        return None
    return max(1, -(-retry_after_ms // 1000))

"""What a passkey ceremony can refuse with (mapped to Twilio's shapes in http/error_codes.py)."""

from __future__ import annotations

import enum

from verify_service.domain.errors import VerifyError


class PasskeyRefused(VerifyError):
    """A browser's response failed a WebAuthn check (origin, RP id, signature, user
    verification, sign counter…); `reason` names the check, never a key or a challenge."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Invalid request: passkey refused: {reason}")


class PasskeyCeremonyNotFound(VerifyError):
    """No pending registration or challenge has the response's challenge: unknown, already
    used (a replay) or expired. Every case reads the same, so a replay learns nothing."""

    def __init__(self) -> None:
        super().__init__(
            "No pending passkey registration or challenge matches this response"
            " (unknown, already used or expired): start a new one"
        )


class PasskeyCeremonyExpired(VerifyError):
    """The response's ceremony was past its timeout (the options' `timeout`) when it came:
    it is gone now; the caller starts a new registration or challenge."""

    def __init__(self) -> None:
        super().__init__(
            "The passkey registration or challenge expired (options.publicKey.timeout):"
            " start a new one"
        )


class PendingScope(enum.StrEnum):
    IDENTITY = "identity"  # pending passkeys challenges of one entity
    SERVICE = "service"  # open discoverable sign-ins of one service


class PasskeyTooManyPending(VerifyError):
    """Too many passkey sign-ins are open (docs/mfa.md, "Passkeys"): an identity's pending
    challenges, or a service's discoverable sign-ins, until one is answered or expires."""

    def __init__(self, scope: PendingScope, limit: int, wait_ms: int) -> None:
        self.scope = scope
        self.limit = limit
        self.retry_after_seconds = max(-(-wait_ms // 1000), 1)  # the earliest one's expiry
        what = (
            "pending passkey challenges for this identity"
            if scope is PendingScope.IDENTITY
            else "open discoverable passkey sign-ins for this service"
        )
        super().__init__(
            f"Invalid request: too many {what} (at most {limit}): answer one or let it expire"
        )

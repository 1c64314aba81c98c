"""Values the use cases exchange: channels, statuses, verifications, messages."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Channel(enum.StrEnum):
    """Delivery channels a verification can use."""

    SMS = "sms"
    CALL = "call"
    EMAIL = "email"
    WHATSAPP = "whatsapp"

    @property
    def is_phone(self) -> bool:
        return self is not Channel.EMAIL


class VerificationStatus(enum.StrEnum):
    """Twilio's verification statuses that this service produces."""

    PENDING = "pending"
    APPROVED = "approved"
    CANCELED = "canceled"
    MAX_ATTEMPTS_REACHED = "max_attempts_reached"
    EXPIRED = "expired"


# Twilio's documented limits (reference notes §7): 5 sends and 5 checks per verification.
MAX_SENDS_PER_VERIFICATION = 5
MAX_CHECKS_PER_VERIFICATION = 5
DEFAULT_TTL_SECONDS = 600
MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class SendAttempt:
    """One delivery of a code: its `VL` sid, channel and time (epoch milliseconds)."""

    sid: str
    channel: Channel
    time_ms: int


@dataclass(frozen=True, slots=True)
class Verification:
    """A verification as stored, without any code material."""

    sid: str
    service_sid: str
    to: str
    channel: Channel
    created_ms: int
    updated_ms: int
    expires_ms: int
    send_attempts: tuple[SendAttempt, ...]
    check_count: int
    amount: str | None = None
    payee: str | None = None
    locale: str | None = None
    status: VerificationStatus = VerificationStatus.PENDING
    # The service has LookupEnabled: representations show the number's offline lookup.
    lookup_enabled: bool = False
    # Of `check_count`, those a canceled verification of the destination used (a cancel
    # never refunds guesses): counted from the start.
    carried_checks: int = 0
    # The start's `Tags` as the JSON object text it was stored as (None: no tags); sent as
    # `tags` in the verification's webhook events (docs/webhooks.md).
    tags: str | None = None

    def with_status(self, status: VerificationStatus, updated_ms: int) -> Verification:
        return Verification(
            lookup_enabled=self.lookup_enabled,
            sid=self.sid,
            service_sid=self.service_sid,
            to=self.to,
            channel=self.channel,
            created_ms=self.created_ms,
            updated_ms=updated_ms,
            expires_ms=self.expires_ms,
            send_attempts=self.send_attempts,
            check_count=self.check_count,
            carried_checks=self.carried_checks,
            amount=self.amount,
            payee=self.payee,
            locale=self.locale,
            status=status,
            tags=self.tags,
        )

    @property
    def valid(self) -> bool:
        return self.status is VerificationStatus.APPROVED


@dataclass(frozen=True, slots=True)
class EndedBy:
    """Who ended a verification by hand and why: a console user (its role and stated
    reason), or an API credential's sid and role (an API call states no reason)."""

    actor: str
    role: str
    reason: str | None = None


def live_status(check_count: int) -> VerificationStatus:
    """Status of a verification that has not ended: locked once every check is used."""
    if check_count >= MAX_CHECKS_PER_VERIFICATION:
        return VerificationStatus.MAX_ATTEMPTS_REACHED
    return VerificationStatus.PENDING

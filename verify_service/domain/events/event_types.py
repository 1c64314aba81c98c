"""The event types a webhook may subscribe to (`EventTypes`).

Twilio's own (Verify Push/TOTP: factors and challenges) come first; the rest are this
service's extensions for message verifications, marked `x-extension` in openapi.yaml.
`*` subscribes to every type, present and future."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    # Twilio's (docs/webhooks.md, "Event types").
    FACTOR_CREATED = "factor.created"
    FACTOR_VERIFIED = "factor.verified"
    FACTOR_DELETED = "factor.deleted"
    CHALLENGE_APPROVED = "challenge.approved"
    CHALLENGE_DENIED = "challenge.denied"
    # Extensions: message verifications and their deliveries.
    VERIFICATION_STARTED = "verification.started"
    VERIFICATION_APPROVED = "verification.approved"
    VERIFICATION_CANCELED = "verification.canceled"
    VERIFICATION_EXPIRED = "verification.expired"
    VERIFICATION_MAX_ATTEMPTS_REACHED = "verification.max_attempts_reached"
    DELIVERY_SENT = "delivery.sent"
    DELIVERY_DELIVERED = "delivery.delivered"
    DELIVERY_FAILED = "delivery.failed"
    FRAUD_GUARD_TRIPPED = "fraud_guard.tripped"


ALL_EVENTS = "*"
TWILIO_EVENT_TYPES = frozenset(
    {
        EventType.FACTOR_CREATED,
        EventType.FACTOR_VERIFIED,
        EventType.FACTOR_DELETED,
        EventType.CHALLENGE_APPROVED,
        EventType.CHALLENGE_DENIED,
    }
)
EXTENSION_EVENT_TYPES = frozenset(EventType) - TWILIO_EVENT_TYPES


def subscribes(event_types: frozenset[str] | tuple[str, ...], event: EventType) -> bool:
    """Whether a webhook with these `EventTypes` receives `event`."""
    return ALL_EVENTS in event_types or event.value in event_types

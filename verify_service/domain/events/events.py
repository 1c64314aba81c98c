"""An event and the form parameters a webhook receives for it (docs/webhooks.md, "Event
catalogue").

Twilio's factor and challenge events carry Twilio's parameter names; the extension events
carry documented snake_case ones. Never a code, a secret or a TOTP binding; a destination
only masked (`to`) and by country, unless the webhook has `IncludeDestination` (then `to` is
the full destination, `Event.destination`, kept apart so no other subscriber sees it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from verify_service.domain.destinations import mask_destination
from verify_service.domain.events.event_types import EventType
from verify_service.domain.mfa.models import Challenge, ChallengeDetails, Factor
from verify_service.domain.models import Verification


@dataclass(frozen=True, slots=True)
class Event:
    """One event, written once; its deliveries (one per subscribed webhook) share `uuid`."""

    event_id: str  # `uuid`, stable across retries (and `I-Twilio-Idempotency-Token`)
    type: EventType
    service_sid: str
    occurred_ms: int
    params: tuple[tuple[str, str], ...]  # every subscriber's, besides `uuid` and `type`
    destination: str | None = None  # the full `to`, for IncludeDestination webhooks only

    def form(self, include_destination: bool) -> dict[str, str]:
        """The POST body's parameters for one webhook. `event_date` (an extension, signed
        like the rest) is when the state change happened: what a receiver orders events
        by, and refuses a replayed old event by (docs/webhooks.md, "Ordering")."""
        body = {"uuid": self.event_id, "type": self.type.value}
        body.update(self.params)
        body["event_date"] = iso(self.occurred_ms)
        if include_destination and self.destination is not None:
            body["to"] = self.destination
        return body

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.event_id,
                "type": self.type.value,
                "va": self.service_sid,
                "ms": self.occurred_ms,
                "p": list(self.params),
                "to": self.destination,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        data: dict[str, Any] = json.loads(text)
        return cls(
            event_id=data["id"],
            type=EventType(data["type"]),
            service_sid=data["va"],
            occurred_ms=int(data["ms"]),
            params=tuple((str(k), str(v)) for k, v in data["p"]),
            destination=data["to"],
        )


def new_event_id() -> str:
    return str(uuid.uuid4())


# A verification expires once: its event id is derived from its sid, so an expiry emitted
# twice (a worker that died after writing it) de-duplicates at the receiver.
_EXPIRY_NAMESPACE = uuid.UUID("5f0c6f0e-2a53-4b2c-9b0e-7d0f4c1f6a11")


def expiry_event_id(verification_sid: str) -> str:
    return str(uuid.uuid5(_EXPIRY_NAMESPACE, verification_sid))


def iso(epoch_ms: int) -> str:
    """Twilio's date format in webhook parameters (ISO 8601, UTC, seconds)."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pairs(values: Mapping[str, str | None]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in values.items() if value is not None)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


# -- extension events: verifications, deliveries, Fraud Guard ------------------------------


def verification_event(
    event_type: EventType,
    account_sid: str,
    verification: Verification,
    now_ms: int,
    country: str | None,
    event_id: str | None = None,
) -> Event:
    """verification.started / approved / canceled / expired / max_attempts_reached."""
    status = {
        EventType.VERIFICATION_STARTED: "pending",
        EventType.VERIFICATION_APPROVED: "approved",
        EventType.VERIFICATION_CANCELED: "canceled",
        EventType.VERIFICATION_EXPIRED: "expired",
        EventType.VERIFICATION_MAX_ATTEMPTS_REACHED: "max_attempts_reached",
    }[event_type]
    params = {
        "account_sid": account_sid,
        "service_sid": verification.service_sid,
        "verification_sid": verification.sid,
        "channel": verification.channel.value,
        "status": status,
        "to": mask_destination(verification.to),
        "country": country,
        "send_attempts": str(len(verification.send_attempts)),
        "check_attempts": str(verification.check_count),
        "date_created": iso(verification.created_ms),
        "date_updated": iso(now_ms),
        "expiration_date": iso(verification.expires_ms),
    }
    if verification.tags is not None:  # the start's `Tags`, as Twilio's events carry them
        params["tags"] = verification.tags
    return Event(
        event_id or new_event_id(),
        event_type,
        verification.service_sid,
        now_ms,
        _pairs(params),
        destination=verification.to,
    )


def expired_event(
    account_sid: str,
    service_sid: str,
    verification_sid: str,
    channel: str,
    masked_to: str,
    country: str | None,
    created_ms: int,
    expires_ms: int,
    now_ms: int,
    tags: str | None = None,
) -> Event:
    """verification.expired, from the expiry schedule (which holds the masked destination
    only: an expiry never carries the full one, and the start's `Tags` when it had some)."""
    params = {
        "account_sid": account_sid,
        "service_sid": service_sid,
        "verification_sid": verification_sid,
        "channel": channel,
        "status": "expired",
        "to": masked_to,
        "country": country,
        "date_created": iso(created_ms),
        "date_updated": iso(now_ms),
        "expiration_date": iso(expires_ms),
        "tags": tags,  # as the verification's other events carry them (None: left out)
    }
    return Event(
        expiry_event_id(verification_sid),
        EventType.VERIFICATION_EXPIRED,
        service_sid,
        now_ms,
        _pairs(params),
    )


def delivery_event(
    event_type: EventType,
    account_sid: str,
    service_sid: str,
    verification_sid: str,
    attempt_sid: str,
    channel: str,
    to: str,
    country: str | None,
    now_ms: int,
    provider: str | None = None,
    error_code: str | None = None,
) -> Event:
    """delivery.sent / delivered / failed: one send attempt (`VL`) of a verification."""
    status = {
        EventType.DELIVERY_SENT: "sent",
        EventType.DELIVERY_DELIVERED: "delivered",
        EventType.DELIVERY_FAILED: "failed",
    }[event_type]
    params = {
        "account_sid": account_sid,
        "service_sid": service_sid,
        "verification_sid": verification_sid,
        "attempt_sid": attempt_sid,
        "channel": channel,
        "status": status,
        "to": mask_destination(to) if to else None,
        "country": country,
        "provider": provider or None,
        "error_code": error_code or None,
        "date_created": iso(now_ms),
    }
    return Event(
        new_event_id(),
        event_type,
        service_sid,
        now_ms,
        _pairs(params),
        destination=to or None,
    )


def fraud_guard_event(
    account_sid: str,
    service_sid: str,
    destination_prefix: str,
    mode: str,
    until_ms: int,
    now_ms: int,
) -> Event:
    """fraud_guard.tripped: sends to a number prefix are refused (or would be, in monitor
    mode) until `until_ms`. The prefix is a country code and a few digits, no number."""
    params = {
        "account_sid": account_sid,
        "service_sid": service_sid,
        "destination_prefix": destination_prefix,
        "mode": mode,
        "blocked_until": iso(until_ms),
        "date_created": iso(now_ms),
    }
    return Event(new_event_id(), EventType.FRAUD_GUARD_TRIPPED, service_sid, now_ms, _pairs(params))


# -- Twilio's events: factors and challenges ------------------------------------------------


def factor_event(event_type: EventType, account_sid: str, factor: Factor, now_ms: int) -> Event:
    """factor.created / verified / deleted, with Twilio's parameter names. Never the
    factor's binding (its TOTP secret)."""
    params = {
        "account_sid": account_sid,
        "service_sid": factor.service_sid,
        "entity_identity": factor.identity,
        "factor_sid": factor.sid,
        "factor_type": factor.factor_type.value,
        "factor_friendly_name": factor.friendly_name,
        "factor_metadata": _json(factor.metadata),
    }
    return Event(new_event_id(), event_type, factor.service_sid, now_ms, _pairs(params))


def _details(details: ChallengeDetails | None) -> str | None:
    if details is None:
        return None
    return _json(
        {
            "message": details.message,
            "fields": [{"label": f.label, "value": f.value} for f in details.fields],
        }
    )


def challenge_event(
    event_type: EventType,
    account_sid: str,
    challenge: Challenge,
    factor_friendly_name: str | None,
    factor_metadata: dict[str, Any] | None,
    now_ms: int,
) -> Event:
    """challenge.approved / denied, with Twilio's parameter names."""
    status = "approved" if event_type is EventType.CHALLENGE_APPROVED else "denied"
    params = {
        "account_sid": account_sid,
        "service_sid": challenge.service_sid,
        "entity_identity": challenge.identity,
        "factor_sid": challenge.factor_sid,
        "factor_type": challenge.factor_type.value,
        "factor_friendly_name": factor_friendly_name,
        "factor_metadata": _json(factor_metadata),
        "challenge_sid": challenge.sid,
        "challenge_details": _details(challenge.details),
        "challenge_hidden_details": _json(challenge.hidden_details),
        "challenge_metadata": _json(challenge.metadata),
        "challenge_status": status,
    }
    return Event(new_event_id(), event_type, challenge.service_sid, now_ms, _pairs(params))

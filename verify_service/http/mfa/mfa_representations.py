"""Entities, factors and challenges on the wire (Twilio's shapes, snake_case). A TOTP
secret appears only in a created factor's `binding`; nothing else ever shows it."""

from __future__ import annotations

from typing import Any

from verify_service.application.mfa.factors import NewTotpFactor
from verify_service.domain.mfa.models import Challenge, Entity, Factor
from verify_service.http.representations import twilio_time


def entity_url(base_url: str, service_sid: str, identity: str) -> str:
    return f"{base_url}/v2/Services/{service_sid}/Entities/{identity}"


def entity_json(entity: Entity, account_sid: str, base_url: str) -> dict[str, Any]:
    url = entity_url(base_url, entity.service_sid, entity.identity)
    return {
        "sid": entity.sid,
        "identity": entity.identity,
        "account_sid": account_sid,
        "service_sid": entity.service_sid,
        "date_created": twilio_time(entity.created_ms),
        "date_updated": twilio_time(entity.updated_ms),
        "url": url,
        "links": {
            "factors": f"{url}/Factors",
            "new_factors": f"{url}/Factors",
            "challenges": f"{url}/Challenges",
        },
    }


def factor_json(factor: Factor, account_sid: str, base_url: str) -> dict[str, Any]:
    url = entity_url(base_url, factor.service_sid, factor.identity)
    return {
        "sid": factor.sid,
        "account_sid": account_sid,
        "service_sid": factor.service_sid,
        "entity_sid": factor.entity_sid,
        "identity": factor.identity,
        "date_created": twilio_time(factor.created_ms),
        "date_updated": twilio_time(factor.updated_ms),
        "friendly_name": factor.friendly_name,
        "status": factor.status.value,
        "factor_type": factor.factor_type.value,
        "config": factor.totp.as_wire() if factor.totp is not None else None,
        "metadata": factor.metadata,
        "url": f"{url}/Factors/{factor.sid}",
    }


def new_factor_json(created: NewTotpFactor, account_sid: str, base_url: str) -> dict[str, Any]:
    """A created TOTP factor: the one answer that carries `binding` (secret and key URI)."""
    body = factor_json(created.factor, account_sid, base_url)
    order = ("sid", "account_sid", "service_sid", "entity_sid", "identity")
    return {
        **{name: body[name] for name in order},
        "binding": {"secret": created.secret, "uri": created.uri},
        "options": None,
        **{name: value for name, value in body.items() if name not in order},
    }


def challenge_json(
    challenge: Challenge, account_sid: str, base_url: str, now_ms: int
) -> dict[str, Any]:
    entity = entity_url(base_url, challenge.service_sid, challenge.identity)
    url = f"{entity}/Challenges/{challenge.sid}"
    details = None
    if challenge.details is not None:
        details = {
            "message": challenge.details.message,
            "date": twilio_time(challenge.created_ms),
            "fields": [{"label": f.label, "value": f.value} for f in challenge.details.fields],
        }
    return {
        "sid": challenge.sid,
        "account_sid": account_sid,
        "service_sid": challenge.service_sid,
        "entity_sid": challenge.entity_sid,
        "identity": challenge.identity,
        "factor_sid": challenge.factor_sid,
        "date_created": twilio_time(challenge.created_ms),
        "date_updated": twilio_time(challenge.updated_ms),
        "date_responded": (
            twilio_time(challenge.responded_ms) if challenge.responded_ms is not None else None
        ),
        "expiration_date": twilio_time(challenge.expires_ms),
        "status": challenge.status_at(now_ms).value,
        "responded_reason": challenge.responded_reason.value,
        "details": details,
        "hidden_details": challenge.hidden_details,
        "metadata": challenge.metadata,
        "factor_type": challenge.factor_type.value,
        "url": url,
        "links": {"notifications": f"{url}/Notifications"},
    }

"""Twilio's JSON shapes of the `/Passkeys/*` answers (twilio_verify_v2.yaml): a factor with
its `config` (and, on create, `options.publicKey` creation options), a challenge with
`options.publicKey` request options. Never a credential's public key or a challenge's
record beyond what the browser needs."""

from __future__ import annotations

from typing import Any

from verify_service.domain.mfa.models import Challenge, Factor
from verify_service.domain.mfa.passkey_config import PasskeyConfig
from verify_service.http.representations import twilio_time


def passkey_factor_json(
    factor: Factor, account_sid: str, base_url: str, config: PasskeyConfig
) -> dict[str, Any]:
    url = (
        f"{base_url}/v2/Services/{factor.service_sid}/Entities/{factor.identity}"
        f"/Factors/{factor.sid}"
    )
    return {
        "sid": factor.sid,
        "account_sid": account_sid,
        "service_sid": factor.service_sid,
        "entity_sid": factor.entity_sid,
        "identity": factor.identity,
        "binding": None,
        "options": None,
        "date_created": twilio_time(factor.created_ms),
        "date_updated": twilio_time(factor.updated_ms),
        "friendly_name": factor.friendly_name,
        "status": factor.status.value,
        "factor_type": factor.factor_type.value,
        "config": config.as_wire(),
        "metadata": factor.metadata,
        "url": url,
    }


def passkey_challenge_json(
    challenge: Challenge,
    account_sid: str,
    base_url: str,
    now_ms: int,
    options: dict[str, Any] | None,
) -> dict[str, Any]:
    """A discoverable sign-in's challenge names no entity until it is approved: its
    `entity_sid`, `identity` and `factor_sid` read `""`, as in Twilio's examples."""
    if challenge.identity:
        url = (
            f"{base_url}/v2/Services/{challenge.service_sid}/Entities/{challenge.identity}"
            f"/Challenges/{challenge.sid}"
        )
    else:
        url = f"{base_url}/v2/Services/{challenge.service_sid}/Passkeys/Challenges"
    return {
        "sid": challenge.sid,
        "account_sid": account_sid,
        "service_sid": challenge.service_sid,
        "entity_sid": challenge.entity_sid,
        "identity": challenge.identity,
        "factor_sid": challenge.factor_sid,
        "date_created": twilio_time(challenge.created_ms),
        "date_updated": twilio_time(challenge.updated_ms),
        "date_responded": twilio_time(challenge.responded_ms)
        if challenge.responded_ms is not None
        else None,
        "expiration_date": twilio_time(challenge.expires_ms),
        "status": challenge.status_at(now_ms).value,
        "responded_reason": challenge.responded_reason.value,
        "details": None,
        "hidden_details": None,
        "metadata": challenge.metadata,
        "factor_type": challenge.factor_type.value,
        "url": url,
        "links": None,
        "options": options,
    }

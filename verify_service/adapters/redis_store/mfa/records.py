"""The hash fields of MFA records, and their codec. Field names are shared with the Lua
scripts (`scripts/*.lua`) and with the passkeys capability, which owns every `pk_*` field
of a factor or challenge hash (docs/mfa.md, "Storage"). Numbers are decimal strings; JSON
objects are JSON text; a field that is absent means None."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from verify_service.domain.mfa.models import (
    Challenge,
    ChallengeDetails,
    ChallengeStatus,
    DetailField,
    Entity,
    Factor,
    FactorStatus,
    FactorType,
    RespondedReason,
    TotpAlgorithm,
    TotpConfig,
)

PASSKEY_FIELD_PREFIX = "pk_"
# Factor fields the evaluating scripts read and write (named once, here and in the Lua).
WRONG_CODES = "wrong_codes"
WRONG_START_MS = "wrong_start_ms"
TOTP_LAST_STEP = "totp_last_step"
TOTP_SECRET = "totp_secret"  # noqa: S105 (a field name, not a secret)


def pairs(raw: Any) -> dict[str, bytes]:
    """HGETALL (a dict) or a script's flat field/value list → field name → raw bytes."""
    if isinstance(raw, list):
        raw = dict(zip(raw[::2], raw[1::2], strict=True))
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): (
            v if isinstance(v, bytes) else str(v).encode()
        )
        for k, v in raw.items()
    }


def _opt_int(fields: Mapping[str, bytes], name: str) -> int | None:
    value = fields.get(name)
    return int(value) if value not in (None, b"") else None


def _opt_json(fields: Mapping[str, bytes], name: str) -> Any:
    value = fields.get(name)
    return json.loads(value) if value not in (None, b"") else None


def _str(fields: Mapping[str, bytes], name: str) -> str:
    return fields[name].decode("utf-8")


def _passkey(fields: Mapping[str, bytes]) -> dict[str, str]:
    return {
        name.removeprefix(PASSKEY_FIELD_PREFIX): value.decode("utf-8", "replace")
        for name, value in fields.items()
        if name.startswith(PASSKEY_FIELD_PREFIX)
    }


# -- entity -----------------------------------------------------------------------------


def entity_fields(entity: Entity) -> list[str]:
    return [
        "sid", entity.sid,
        "service_sid", entity.service_sid,
        "identity", entity.identity,
        "created_ms", str(entity.created_ms),
        "updated_ms", str(entity.updated_ms),
    ]  # fmt: skip


def decode_entity(raw: Any) -> Entity | None:
    fields = pairs(raw)
    if not fields:
        return None
    return Entity(
        sid=_str(fields, "sid"),
        service_sid=_str(fields, "service_sid"),
        identity=_str(fields, "identity"),
        created_ms=int(fields["created_ms"]),
        updated_ms=int(fields["updated_ms"]),
    )


# -- factor -----------------------------------------------------------------------------


def factor_fields(factor: Factor) -> list[str | bytes]:
    """A new factor's fields (the sealed secret as bytes); the entity fields come from the
    entity that exists, so the script fills `entity_sid` when it creates the entity."""
    flat: list[str | bytes] = [
        "sid", factor.sid,
        "service_sid", factor.service_sid,
        "entity_sid", factor.entity_sid,
        "identity", factor.identity,
        "type", factor.factor_type.value,
        "friendly_name", factor.friendly_name,
        "status", factor.status.value,
        "created_ms", str(factor.created_ms),
        "updated_ms", str(factor.updated_ms),
        "version", str(factor.version),
        WRONG_CODES, "0",
    ]  # fmt: skip
    if factor.metadata is not None:
        flat += ["metadata", json.dumps(factor.metadata, separators=(",", ":"))]
    if factor.totp is not None:
        flat += totp_config_fields(factor.totp)
    if factor.sealed_secret is not None:
        flat += [TOTP_SECRET, factor.sealed_secret]
    for name, value in factor.passkey.items():
        flat += [PASSKEY_FIELD_PREFIX + name, value]
    return flat


def totp_config_fields(config: TotpConfig) -> list[str | bytes]:
    return [
        "totp_time_step", str(config.time_step),
        "totp_skew", str(config.skew),
        "totp_code_length", str(config.code_length),
        "totp_alg", config.alg.value,
    ]  # fmt: skip


def decode_factor(raw: Any) -> Factor | None:
    fields = pairs(raw)
    if "sid" not in fields:
        return None
    totp = None
    if "totp_time_step" in fields:
        totp = TotpConfig(
            time_step=int(fields["totp_time_step"]),
            skew=int(fields["totp_skew"]),
            code_length=int(fields["totp_code_length"]),
            alg=TotpAlgorithm(_str(fields, "totp_alg")),
        )
    return Factor(
        sid=_str(fields, "sid"),
        service_sid=_str(fields, "service_sid"),
        entity_sid=_str(fields, "entity_sid"),
        identity=_str(fields, "identity"),
        factor_type=FactorType(_str(fields, "type")),
        friendly_name=_str(fields, "friendly_name"),
        status=FactorStatus(_str(fields, "status")),
        created_ms=int(fields["created_ms"]),
        updated_ms=int(fields["updated_ms"]),
        version=int(fields.get("version", b"1")),
        totp=totp,
        sealed_secret=fields.get(TOTP_SECRET),
        last_step=_opt_int(fields, TOTP_LAST_STEP),
        metadata=_opt_json(fields, "metadata"),
        last_used_ms=_opt_int(fields, "last_used_ms"),
        wrong_codes=_opt_int(fields, WRONG_CODES) or 0,
        wrong_window_start_ms=_opt_int(fields, WRONG_START_MS),
        passkey=_passkey(fields),
    )


# -- challenge --------------------------------------------------------------------------


def challenge_fields(challenge: Challenge) -> list[str]:
    flat = [
        "sid", challenge.sid,
        "service_sid", challenge.service_sid,
        "entity_sid", challenge.entity_sid,
        "identity", challenge.identity,
        "factor_sid", challenge.factor_sid,
        "factor_type", challenge.factor_type.value,
        "created_ms", str(challenge.created_ms),
        "updated_ms", str(challenge.updated_ms),
        "expires_ms", str(challenge.expires_ms),
        "status", challenge.status.value,
        "responded_reason", challenge.responded_reason.value,
    ]  # fmt: skip
    if challenge.details is not None:
        details = {
            "message": challenge.details.message,
            "fields": [{"label": f.label, "value": f.value} for f in challenge.details.fields],
        }
        flat += ["details", json.dumps(details, separators=(",", ":"))]
    if challenge.hidden_details is not None:
        flat += ["hidden_details", json.dumps(challenge.hidden_details, separators=(",", ":"))]
    if challenge.metadata is not None:
        flat += ["metadata", json.dumps(challenge.metadata, separators=(",", ":"))]
    for name, value in challenge.passkey.items():
        flat += [PASSKEY_FIELD_PREFIX + name, value]
    return flat


def decode_challenge(raw: Any) -> Challenge | None:
    fields = pairs(raw)
    if "sid" not in fields:
        return None
    details = _opt_json(fields, "details")
    return Challenge(
        sid=_str(fields, "sid"),
        service_sid=_str(fields, "service_sid"),
        entity_sid=_str(fields, "entity_sid"),
        identity=_str(fields, "identity"),
        factor_sid=_str(fields, "factor_sid"),
        factor_type=FactorType(_str(fields, "factor_type")),
        created_ms=int(fields["created_ms"]),
        updated_ms=int(fields["updated_ms"]),
        expires_ms=int(fields["expires_ms"]),
        status=ChallengeStatus(_str(fields, "status")),
        responded_ms=_opt_int(fields, "responded_ms"),
        responded_reason=RespondedReason(_str(fields, "responded_reason")),
        details=None
        if details is None
        else ChallengeDetails(
            message=details.get("message"),
            fields=tuple(DetailField(f["label"], f["value"]) for f in details.get("fields", [])),
        ),
        hidden_details=_opt_json(fields, "hidden_details"),
        metadata=_opt_json(fields, "metadata"),
        passkey=_passkey(fields),
    )

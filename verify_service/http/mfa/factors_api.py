"""`/v2/Services/{VA}/Entities/{Identity}/Factors`: create (TOTP), list, fetch, update
(friendly name, config, verification with `AuthPayload`), delete."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify

from verify_service.application.access.access import Permission
from verify_service.application.mfa.factors import FactorUpdate, NewFactorRequest, TotpSettings
from verify_service.domain.errors import InvalidMfaRequest
from verify_service.http.access.auth import current_principal, requires
from verify_service.http.mfa.deletion_reason import deletion_reason
from verify_service.http.mfa.mfa_representations import entity_url, factor_json, new_factor_json
from verify_service.http.mfa.mfa_schemas import NewFactorParams, UpdateFactorParams, load_mfa
from verify_service.http.mfa.mfa_wiring import mfa
from verify_service.http.params import load, query_params, request_params
from verify_service.http.representations import page_json
from verify_service.http.schemas import PageParams
from verify_service.http.wiring import account_sid, base_url

blueprint = Blueprint(
    "mfa_factors", __name__, url_prefix="/v2/Services/<service_sid>/Entities/<identity>/Factors"
)
_new_params = NewFactorParams()
_update_params = UpdateFactorParams()
_page_params = PageParams()


def _settings(params: dict[str, Any]) -> TotpSettings:
    return TotpSettings(
        time_step=params.get("config_time_step"),
        skew=params.get("config_skew"),
        code_length=params.get("config_code_length"),
        alg=params.get("config_alg"),
    )


# A push factor's parameters (Twilio's CreateNewFactor): push is not offered, so on a totp
# factor each is 60306 naming it rather than accepted and ignored (docs/parameters.md).
PUSH_ONLY_PARAMETERS = (
    "Binding.Alg",
    "Binding.PublicKey",
    "Config.AppId",
    "Config.NotificationPlatform",
    "Config.NotificationToken",
    "Config.SdkVersion",
)


def _refuse_push_parameters(raw: dict[str, Any]) -> None:
    for name in PUSH_ONLY_PARAMETERS:
        if name in raw:
            raise InvalidMfaRequest(name, "a push factor's setting; push factors are not offered")


@blueprint.post("")
@requires(Permission.MFA_ENROL)
def create_factor(service_sid: str, identity: str) -> Response:
    raw = request_params()
    params = load_mfa(_new_params, raw)
    _refuse_push_parameters(raw)
    created = mfa().factors.create(
        service_sid,
        identity,
        NewFactorRequest(
            friendly_name=params.get("friendly_name"),
            factor_type=params.get("factor_type"),
            secret=params.get("binding_secret"),
            config=_settings(params),
            metadata=params.get("metadata"),
        ),
        current_principal(),
    )
    response = jsonify(new_factor_json(created, account_sid(), base_url()))
    response.status_code = 201
    return response


@blueprint.get("")
@requires(Permission.MFA_READ)
def list_factors(service_sid: str, identity: str) -> Response:
    paging = load(_page_params, query_params())
    factors, more = mfa().factors.list(service_sid, identity, paging["page"], paging["page_size"])
    return jsonify(
        page_json(
            "factors",
            [factor_json(f, account_sid(), base_url()) for f in factors],
            f"{entity_url(base_url(), service_sid, identity)}/Factors",
            paging["page"],
            paging["page_size"],
            more,
        )
    )


@blueprint.get("/<sid>")
@requires(Permission.MFA_READ)
def fetch_factor(service_sid: str, identity: str, sid: str) -> Response:
    factor = mfa().factors.fetch(service_sid, identity, sid)
    return jsonify(factor_json(factor, account_sid(), base_url()))


@blueprint.post("/<sid>")
@requires(Permission.MFA_ENROL)
def update_factor(service_sid: str, identity: str, sid: str) -> Response:
    params = load_mfa(_update_params, request_params())
    factor = mfa().factors.update(
        service_sid,
        identity,
        sid,
        FactorUpdate(
            auth_payload=params.get("auth_payload"),
            friendly_name=params.get("friendly_name"),
            config=_settings(params),
            other_config=_other_config(request_params()),
        ),
        current_principal(),
    )
    return jsonify(factor_json(factor, account_sid(), base_url()))


_TOTP_CONFIG = frozenset({"Config.TimeStep", "Config.Skew", "Config.CodeLength", "Config.Alg"})
_PARAMETER_NAME = re.compile(r"Config(?:\.[A-Z][A-Za-z]{0,40}){1,3}")


def _other_config(raw: dict[str, Any]) -> str | None:
    """The first `Config.*` parameter that is not a TOTP one (e.g. a passkey factor's
    `Config.RelyingParty.Origins`), named when it is parameter-shaped, else "Config": the
    use case refuses it on a passkeys factor rather than ignoring it."""
    for name in raw:
        if isinstance(name, str) and name.startswith("Config") and name not in _TOTP_CONFIG:
            return name if _PARAMETER_NAME.fullmatch(name) else "Config"
    return None


@blueprint.delete("/<sid>")
@requires(Permission.MFA_FACTORS_DELETE)
def delete_factor(service_sid: str, identity: str, sid: str) -> Response:
    reason = deletion_reason()  # `?Reason=`: required for support (deletion_reason.py)
    mfa().factors.delete(service_sid, identity, sid, current_principal(), reason)
    return Response(status=204)

"""`/v2/Services/{VA}/Verifications` and `/VerificationCheck`."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, Response, jsonify

from verify_service.application.access.access import Permission
from verify_service.application.protection.abuse_protection import parse_rate_limit_values
from verify_service.application.templates.choice import TEMPLATE_SID, parse_template_entries
from verify_service.application.verifications.verifications import CheckRequest, StartRequest
from verify_service.domain.destinations import display_masked_destination
from verify_service.domain.errors import (
    FeatureNotEnabled,
    InvalidParameter,
    ParameterNotPermitted,
    keyed_parameter,
)
from verify_service.domain.messages.email_sender import parse_channel_configuration
from verify_service.domain.messages.locales import require_supported_locale
from verify_service.domain.models import Channel, EndedBy, Verification, VerificationStatus
from verify_service.domain.tags import parse_tags
from verify_service.domain.templates.variables import SUBSTITUTIONS
from verify_service.http.access.auth import current_principal, permission_denied, requires
from verify_service.http.access.destination_lookups import admit_lookup
from verify_service.http.params import load, request_params
from verify_service.http.representations import verification_check_json, verification_json
from verify_service.http.schemas import CheckParams, StartParams, UpdateVerificationParams
from verify_service.http.wiring import account_sid, base_url, components

blueprint = Blueprint("verifications", __name__, url_prefix="/v2/Services/<service_sid>")
_start_params = StartParams()
_check_params = CheckParams()
_update_params = UpdateVerificationParams()

# Channels Twilio offers that this service does not: a clear 60204 rather than 60200.
_TWILIO_ONLY_CHANNELS = frozenset({"sna", "auto", "rcs"})


def _channel(value: str) -> Channel:
    try:
        return Channel(value.strip().lower())
    except ValueError:
        if value.strip().lower() in _TWILIO_ONLY_CHANNELS:
            raise FeatureNotEnabled(f"Channel {value.strip().lower()}") from None
        raise InvalidParameter("Channel", "sms, call, email or whatsapp") from None


def _refuse_not_offered(params: dict[str, Any]) -> None:
    """Start parameters of features this service does not offer: 60204 naming them rather
    than accepted and ignored (docs/parameters.md). `EnableSnaClientToken=false` is the
    default and stays accepted."""
    if params.get("custom_message") is not None:
        raise FeatureNotEnabled(
            "CustomMessage (deprecated by Twilio; write the text as a template and pass its"
            " TemplateSid)"
        )
    if params.get("enable_sna_client_token"):
        raise FeatureNotEnabled("EnableSnaClientToken (Silent Network Auth is not offered)")


def _start_request(params: dict[str, Any]) -> StartRequest:
    _refuse_not_offered(params)
    locale = params.get("locale")
    return StartRequest(
        to=params["to"],
        channel=_channel(params["channel"]),
        custom_friendly_name=params.get("custom_friendly_name"),
        custom_code=params.get("custom_code"),
        locale=require_supported_locale(locale) if locale else None,
        amount=params.get("amount") or None,
        payee=params.get("payee") or None,
        app_hash=params.get("app_hash"),
        tags=parse_tags(params["tags"]) if "tags" in params else {},
        device_ip=str(params["device_ip"]) if params.get("device_ip") is not None else None,
        rate_limit_values=parse_rate_limit_values(params["rate_limits"])
        if "rate_limits" in params
        else {},
        risk_check=params.get("risk_check") != "disable",
        **_template_fields(params),
    )


def _template_fields(params: dict[str, Any]) -> dict[str, Any]:
    """`Templates`, or `TemplateSid` with `TemplateCustomSubstitutions`, as given; the use
    case chooses (application/templates/choice.py; docs/messages.md, "Templates")."""
    if "templates" in params:
        for name, wire in (("template_sid", TEMPLATE_SID), (_SUBSTITUTIONS, SUBSTITUTIONS)):
            if name in params:
                raise InvalidParameter(wire, _NOT_WITH_TEMPLATES)
        return {"template_entries": parse_template_entries(params["templates"])}
    values = params.get(_SUBSTITUTIONS, {})
    for name, value in values.items():
        if not isinstance(value, str):
            raise InvalidParameter(keyed_parameter(SUBSTITUTIONS, name), "a string")
    return {
        "template_sid": params.get("template_sid"),
        "template_substitutions": tuple(values.items()),
    }


_SUBSTITUTIONS = "template_custom_substitutions"
_NOT_WITH_TEMPLATES = "not with Templates, which names the template"
_TEMPLATE_ID = "ChannelConfiguration.template_id"
_CONFIG_SUBSTITUTIONS = "ChannelConfiguration.substitutions"


# An allow-list: all a `support` principal may set on a start (a resend). Any other start
# parameter could choose the code, skip a risk check or steer the message (AppHash picks the
# Android app that reads it, Locale its language, a template its text): 403/20003.
RESEND_PARAMETERS = ("To", "Channel")


def _require_resend_parameters(params: dict[str, Any]) -> None:
    given = tuple(_start_params.fields[name].data_key or name for name in params)
    refused = tuple(sorted(name for name in given if name not in RESEND_PARAMETERS))
    if refused:
        raise ParameterNotPermitted(refused, RESEND_PARAMETERS)


def _is_resender() -> bool:
    """A principal that may start but not check (`support`): it resends, and sees no
    destination in full."""
    return not current_principal().may(Permission.VERIFICATIONS_CHECK)


def _shown(verification: Verification) -> dict[str, Any]:
    body = verification_json(verification, account_sid(), base_url())
    if _is_resender():
        body["to"] = display_masked_destination(verification.to)
        body["lookup"] = {}
    return body


def _with_channel_options(request: StartRequest, params: dict[str, Any]) -> StartRequest:
    """`ChannelConfiguration` (e-mail only) and `SendDigits` (calls only), checked: the
    e-mail's sender and template, the call's digits (docs/messages.md, "Branded e-mail")."""
    send_digits = params.get("send_digits")
    if send_digits is not None and request.channel is not Channel.CALL:
        raise InvalidParameter("SendDigits", "calls only (Channel=call)")
    raw = params.get("channel_configuration")
    if raw is None:
        return dataclasses.replace(request, send_digits=send_digits)
    config = parse_channel_configuration(raw, request.channel, components().email_senders)
    if request.template_entries:  # as TemplateSid and TemplateCustomSubstitutions are
        for given, wire in (
            (config.template_sid, _TEMPLATE_ID),
            (config.substitutions, _CONFIG_SUBSTITUTIONS),
        ):
            if given:
                raise InvalidParameter(wire, _NOT_WITH_TEMPLATES)
    if config.template_sid and request.template_sid not in (None, config.template_sid):
        raise InvalidParameter(_TEMPLATE_ID, "the TemplateSid, if both")
    if config.substitutions and request.template_substitutions:
        raise InvalidParameter(_CONFIG_SUBSTITUTIONS, "not with TemplateCustomSubstitutions")
    sid_parameter, substitutions_parameter = request.template_parameters
    return dataclasses.replace(
        request,
        email_sender=config.sender,
        email_sender_name=config.sender_name,
        template_sid=request.template_sid or config.template_sid,
        template_substitutions=request.template_substitutions or config.substitutions,
        template_parameters=(
            sid_parameter if request.template_sid or not config.template_sid else _TEMPLATE_ID,
            _CONFIG_SUBSTITUTIONS if config.substitutions else substitutions_parameter,
        ),
    )


@blueprint.post("/Verifications")
@requires(Permission.VERIFICATIONS_START)
def start_verification(service_sid: str) -> Response:
    params = load(_start_params, request_params())
    resend_only = _is_resender()
    if resend_only:
        _require_resend_parameters(params)
        # A resend finds the pending verification by `To` (404 if none): a look-up.
        admit_lookup("verifications.resend", params["to"])
    request = dataclasses.replace(
        _with_channel_options(_start_request(params), params), resend_only=resend_only
    )
    verification = components().verifications.start(service_sid, request)
    response = jsonify(_shown(verification))
    response.status_code = 201
    return response


@blueprint.get("/Verifications/<sid>")
@requires(Permission.VERIFICATIONS_READ)
def fetch_verification(service_sid: str, sid: str) -> Response:
    verification = components().verifications.fetch(service_sid, sid)
    return jsonify(_shown(verification))


@blueprint.post("/Verifications/<sid>")
@requires(Permission.VERIFICATIONS_END)
def update_verification(service_sid: str, sid: str) -> Response:
    status = VerificationStatus(load(_update_params, request_params())["status"])
    if status is VerificationStatus.APPROVED and not current_principal().may(
        Permission.VERIFICATIONS_CHECK
    ):
        return permission_denied()  # approving is a check's power: `support` only cancels
    principal = current_principal()
    ended_by = EndedBy(principal.credential_sid, principal.role)  # shown in the console
    verification = components().verifications.update_status(service_sid, sid, status, ended_by)
    return jsonify(_shown(verification))


@blueprint.post("/VerificationCheck")
@requires(Permission.VERIFICATIONS_CHECK)
def check_verification(service_sid: str) -> Response:
    params = load(_check_params, request_params())
    if params.get("sna_client_token") is not None:
        raise FeatureNotEnabled("SnaClientToken (Silent Network Auth is not offered)")
    request = CheckRequest(
        code=params["code"],
        to=params.get("to") or None,
        verification_sid=params.get("verification_sid") or None,
        amount=params.get("amount") or None,
        payee=params.get("payee") or None,
    )
    verification = components().verifications.check(service_sid, request)
    return jsonify(verification_check_json(verification, account_sid()))

"""`/v2/Services/{VA}/MessagingConfigurations`: Twilio's five operations. Writes need
`services:write` (admin only, so the audit hook records them like other service changes);
reads `services:read`, like the service itself."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from marshmallow import EXCLUDE, Schema, fields, validate

from verify_service.application.access.access import Permission
from verify_service.application.routing.messaging_configurations import (
    WIRE_ROUTE,
    MessagingConfigurations,
)
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.routing.routing import MessagingConfiguration
from verify_service.http.access.auth import requires
from verify_service.http.params import load, query_params, request_params
from verify_service.http.representations import page_json, twilio_time
from verify_service.http.schemas import PageParams
from verify_service.http.wiring import account_sid, base_url

MESSAGING_CONFIGURATIONS_KEY = "verify_service.messaging_configurations"
blueprint = Blueprint(
    "messaging_configurations",
    __name__,
    url_prefix="/v2/Services/<service_sid>/MessagingConfigurations",
)
_page_params = PageParams()


class MessagingConfigurationParams(Schema):
    """Types only; the rules (a known country, a configured route) are the use case's."""

    class Meta:
        unknown = EXCLUDE  # as Twilio: unknown parameters are ignored

    country = fields.String(data_key="Country", validate=validate.Length(max=8))
    messaging_service_sid = fields.String(
        data_key="MessagingServiceSid", validate=validate.Length(max=64)
    )


_params = MessagingConfigurationParams()


def _configurations() -> MessagingConfigurations:
    found: MessagingConfigurations = current_app.extensions[MESSAGING_CONFIGURATIONS_KEY]
    return found


def _required(values: dict[str, Any], name: str, wire: str) -> str:
    value = values.get(name)
    if not value:
        raise InvalidParameter(wire, "required")
    return str(value)


def configuration_json(
    configuration: MessagingConfiguration, service_sid: str, account: str, base: str
) -> dict[str, Any]:
    return {
        "account_sid": account,
        "service_sid": service_sid,
        "country": configuration.country,
        "messaging_service_sid": configuration.messaging_service_sid,
        "date_created": twilio_time(configuration.date_created_ms),
        "date_updated": twilio_time(configuration.date_updated_ms),
        "url": f"{base}/v2/Services/{service_sid}/MessagingConfigurations/{configuration.country}",
    }


@blueprint.post("")
@requires(Permission.SERVICES_WRITE)
def create_messaging_configuration(service_sid: str) -> Response:
    values = load(_params, request_params())
    configuration = _configurations().create(
        service_sid,
        _required(values, "country", "Country"),
        _required(values, "messaging_service_sid", WIRE_ROUTE),
    )
    response = jsonify(configuration_json(configuration, service_sid, account_sid(), base_url()))
    response.status_code = 201
    return response


@blueprint.get("")
@requires(Permission.SERVICES_READ)
def list_messaging_configurations(service_sid: str) -> Response:
    paging = load(_page_params, query_params())
    found, more = _configurations().list(service_sid, paging["page"], paging["page_size"])
    return jsonify(
        page_json(
            "messaging_configurations",
            [configuration_json(c, service_sid, account_sid(), base_url()) for c in found],
            f"{base_url()}/v2/Services/{service_sid}/MessagingConfigurations",
            paging["page"],
            paging["page_size"],
            more,
        )
    )


@blueprint.get("/<country>")
@requires(Permission.SERVICES_READ)
def fetch_messaging_configuration(service_sid: str, country: str) -> Response:
    configuration = _configurations().fetch(service_sid, country)
    return jsonify(configuration_json(configuration, service_sid, account_sid(), base_url()))


@blueprint.post("/<country>")
@requires(Permission.SERVICES_WRITE)
def update_messaging_configuration(service_sid: str, country: str) -> Response:
    values = load(_params, request_params())
    configuration = _configurations().update(
        service_sid, country, _required(values, "messaging_service_sid", WIRE_ROUTE)
    )
    return jsonify(configuration_json(configuration, service_sid, account_sid(), base_url()))


@blueprint.delete("/<country>")
@requires(Permission.SERVICES_WRITE)
def delete_messaging_configuration(service_sid: str, country: str) -> Response:
    _configurations().delete(service_sid, country)
    return Response(status=204)

"""`/v2/Services/{VA}/Webhooks`: create, list, fetch, update, delete (admin only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import EXCLUDE, Schema, fields, validate

from verify_service.application.access.access import Permission
from verify_service.application.webhooks.ports import Webhook
from verify_service.application.webhooks.webhooks import Webhooks
from verify_service.domain.errors import InvalidParameter
from verify_service.http.access.auth import requires
from verify_service.http.params import load, query_params, request_params
from verify_service.http.representations import page_json, twilio_time
from verify_service.http.schemas import PageParams
from verify_service.http.wiring import account_sid, base_url

WEBHOOKS_KEY = "verify_service.webhooks"
blueprint = Blueprint("webhooks", __name__, url_prefix="/v2/Services/<service_sid>/Webhooks")
_TRUE = {"true", "True", True}
_FALSE = {"false", "False", False}
_MAX_TEXT = 2048  # the longest URL the target rules take; other fields are shorter


class WebhookParams(Schema):
    """Types only; the rules (required, lengths, event types, the URL) are the domain's."""

    class Meta:
        unknown = EXCLUDE  # as Twilio: unknown parameters are ignored

    friendly_name = fields.String(data_key="FriendlyName", validate=validate.Length(max=_MAX_TEXT))
    event_types = fields.List(
        fields.String(validate=validate.Length(max=_MAX_TEXT)), data_key="EventTypes"
    )
    webhook_url = fields.String(data_key="WebhookUrl", validate=validate.Length(max=_MAX_TEXT))
    status = fields.String(data_key="Status", validate=validate.Length(max=_MAX_TEXT))
    version = fields.String(data_key="Version", validate=validate.Length(max=_MAX_TEXT))
    # Extension: events carry the full destination (`to`), not a masked one.
    include_destination = fields.Boolean(data_key="IncludeDestination", truthy=_TRUE, falsy=_FALSE)


_webhook_params = WebhookParams()
_page_params = PageParams()


def _webhooks() -> Webhooks:
    found: Webhooks = current_app.extensions[WEBHOOKS_KEY]
    return found


def _params() -> dict[str, Any]:
    """The request's parameters, `EventTypes` repeated as Twilio's SDK sends it (a form key
    given once per type; a JSON body: an array)."""
    params = request_params()
    if "IncludeDestination" in params:
        try:
            boolean = params["IncludeDestination"] in _TRUE | _FALSE
        except TypeError:  # a JSON array or object
            boolean = False
        if not boolean:
            raise InvalidParameter("IncludeDestination", "true or false")
    if not request.is_json and "EventTypes" in request.form:
        params["EventTypes"] = request.form.getlist("EventTypes")
    loaded = load(_webhook_params, params)
    if "event_types" in loaded:
        loaded["event_types"] = tuple(loaded["event_types"])
    return loaded


def webhook_json(webhook: Webhook, account: str, base: str) -> dict[str, Any]:
    return {
        "sid": webhook.sid,
        "account_sid": account,
        "service_sid": webhook.service_sid,
        "friendly_name": webhook.friendly_name,
        "event_types": list(webhook.event_types),
        "status": webhook.status,
        "version": webhook.version,
        "webhook_url": webhook.webhook_url,
        "webhook_method": "POST",
        "include_destination": webhook.include_destination,  # extension
        "date_created": twilio_time(webhook.date_created_ms),
        "date_updated": twilio_time(webhook.date_updated_ms),
        "url": f"{base}/v2/Services/{webhook.service_sid}/Webhooks/{webhook.sid}",
    }


@blueprint.post("")
@requires(Permission.WEBHOOKS_WRITE)
def create_webhook(service_sid: str) -> Response:
    webhook = _webhooks().create(service_sid, _params())
    response = jsonify(webhook_json(webhook, account_sid(), base_url()))
    response.status_code = 201
    return response


@blueprint.get("")
@requires(Permission.WEBHOOKS_READ)
def list_webhooks(service_sid: str) -> Response:
    paging = load(_page_params, query_params())
    webhooks, more = _webhooks().list(service_sid, paging["page"], paging["page_size"])
    return jsonify(
        page_json(
            "webhooks",
            [webhook_json(w, account_sid(), base_url()) for w in webhooks],
            f"{base_url()}/v2/Services/{service_sid}/Webhooks",
            paging["page"],
            paging["page_size"],
            more,
        )
    )


@blueprint.get("/<sid>")
@requires(Permission.WEBHOOKS_READ)
def fetch_webhook(service_sid: str, sid: str) -> Response:
    return jsonify(webhook_json(_webhooks().fetch(service_sid, sid), account_sid(), base_url()))


@blueprint.post("/<sid>")
@requires(Permission.WEBHOOKS_WRITE)
def update_webhook(service_sid: str, sid: str) -> Response:
    webhook = _webhooks().update(service_sid, sid, _params())
    return jsonify(webhook_json(webhook, account_sid(), base_url()))


@blueprint.delete("/<sid>")
@requires(Permission.WEBHOOKS_WRITE)
def delete_webhook(service_sid: str, sid: str) -> Response:
    _webhooks().delete(service_sid, sid)
    return Response(status=204)

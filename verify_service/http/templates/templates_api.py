"""`/v2/Templates`: Twilio's list, and the extension's create, fetch, update and delete.

Reads need `services:read` (whoever may read services sees the wording their messages
use); writes `templates:write`, an admin-only permission, so each is audited
(http/audit/audit_hooks.py)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from marshmallow import EXCLUDE, Schema, fields, validate

from verify_service.application.access.access import Permission
from verify_service.application.templates.templates import Templates
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.json_input import parse_json
from verify_service.domain.templates.template import MessageTemplate, Part
from verify_service.http.access.auth import requires
from verify_service.http.params import load, query_params, request_params
from verify_service.http.representations import page_json, twilio_time
from verify_service.http.schemas import PageParams
from verify_service.http.wiring import account_sid, base_url

TEMPLATES_KEY = "verify_service.templates"
blueprint = Blueprint("templates", __name__, url_prefix="/v2/Templates")
_TRUE = {"true", "True", True}
_FALSE = {"false", "False", False}
_CHANNEL_NAMES = {"call": "voice"}
_MAX_JSON = 70_000  # Translations: at most 64 KiB of wording, and its JSON


class TemplateParams(Schema):
    """Types only; the rules are the domain's (domain/templates/checks.py)."""

    class Meta:
        unknown = EXCLUDE

    friendly_name = fields.String(data_key="FriendlyName", validate=validate.Length(max=256))
    translations = fields.String(data_key="Translations", validate=validate.Length(max=_MAX_JSON))
    default_locale = fields.String(data_key="DefaultLocale", validate=validate.Length(max=16))
    variables = fields.String(data_key="Variables", validate=validate.Length(max=4096))
    allow_links = fields.String(data_key="AllowLinks")


class ListParams(PageParams):
    friendly_name = fields.String(data_key="FriendlyName", validate=validate.Length(max=256))


_template_params = TemplateParams()
_list_params = ListParams()


def _templates() -> Templates:
    found: Templates = current_app.extensions[TEMPLATES_KEY]
    return found


def _params() -> dict[str, Any]:
    params = request_params()
    for name in ("Translations", "Variables"):  # a JSON body may give objects
        if isinstance(params.get(name), dict):
            params[name] = json.dumps(params[name])
    if isinstance(params.get("AllowLinks"), bool):
        params["AllowLinks"] = str(params["AllowLinks"]).lower()
    loaded = load(_template_params, params)
    if "translations" in loaded:
        loaded["translations"] = parse_json(loaded["translations"], "Translations")
    if "variables" in loaded:
        loaded["variables"] = parse_json(loaded["variables"], "Variables")
    if "allow_links" in loaded:
        if loaded["allow_links"] not in _TRUE | _FALSE:
            raise InvalidParameter("AllowLinks", "true or false")
        loaded["allow_links"] = loaded["allow_links"] in _TRUE
    return loaded


def template_json(template: MessageTemplate, account: str, base: str) -> dict[str, Any]:
    """Twilio's shape (`text`: the SMS wording, else the call's), plus the extension fields
    `source`, `default_locale`, `variables`, `allow_links`, `parts` and `url`."""
    created, updated = twilio_time(template.date_created_ms), twilio_time(template.date_updated_ms)
    translations = {}
    for locale, parts in template.translations.items():
        translations[locale] = {
            "is_default_translation": locale == template.default_locale,
            "status": "approved",
            "locale": locale,
            "text": parts.get(Part.SMS) or parts.get(Part.CALL) or parts.get(Part.WHATSAPP),
            "date_created": created,
            "date_updated": updated,
            "parts": {part.value: text for part, text in parts.items()},  # extension
        }
    return {
        "sid": template.sid,
        "account_sid": account,
        "friendly_name": template.friendly_name,
        # Twilio names the call channel `voice` here (`Channel=call` on a start).
        "channels": [_CHANNEL_NAMES.get(c.value, c.value) for c in template.channels],
        "translations": translations,
        "source": template.source.value,
        "default_locale": template.default_locale,
        "variables": dict(template.variables),
        "allow_links": template.allow_links,
        "url": f"{base}/v2/Templates/{template.sid}",
    }


@blueprint.get("")
@requires(Permission.SERVICES_READ)
def list_templates() -> Response:
    paging = load(_list_params, query_params())
    name = paging.get("friendly_name") or None
    templates, more = _templates().list(name, paging["page"], paging["page_size"])
    return jsonify(
        page_json(
            "templates",
            [template_json(t, account_sid(), base_url()) for t in templates],
            f"{base_url()}/v2/Templates",
            paging["page"],
            paging["page_size"],
            more,
            {"FriendlyName": name} if name else None,
        )
    )


@blueprint.post("")
@requires(Permission.TEMPLATES_WRITE)
def create_template() -> Response:
    template = _templates().create(_params())
    response = jsonify(template_json(template, account_sid(), base_url()))
    response.status_code = 201
    return response


@blueprint.get("/<sid>")
@requires(Permission.SERVICES_READ)
def fetch_template(sid: str) -> Response:
    return jsonify(template_json(_templates().fetch(sid), account_sid(), base_url()))


@blueprint.post("/<sid>")
@requires(Permission.TEMPLATES_WRITE)
def update_template(sid: str) -> Response:
    template = _templates().update(sid, _params())
    return jsonify(template_json(template, account_sid(), base_url()))


@blueprint.delete("/<sid>")
@requires(Permission.TEMPLATES_WRITE)
def delete_template(sid: str) -> Response:
    _templates().delete(sid)
    return Response(status=204)

"""`/v2/Keys` (extension): create, list, fetch, revoke API keys. Twilio keeps its Keys under
`/2010-04-01/Accounts/{AC}/Keys`; this is the same resource shape on our own path, plus
`Role`. The secret is in the create answer only."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from verify_service.application.access.access import Permission
from verify_service.application.access.api_keys import ApiKeys
from verify_service.http.access.auth import current_principal, requires
from verify_service.http.params import load, query_params, request_params
from verify_service.http.representations import api_key_json, page_json
from verify_service.http.schemas import ApiKeyParams, PageParams
from verify_service.http.wiring import base_url

API_KEYS_KEY = "verify_service.api_keys"
blueprint = Blueprint("keys", __name__, url_prefix="/v2/Keys")
_params = ApiKeyParams()
_page_params = PageParams()


def api_keys() -> ApiKeys:
    found: ApiKeys = current_app.extensions[API_KEYS_KEY]
    return found


@blueprint.post("")
@requires(Permission.KEYS_WRITE)
def create_key() -> Response:
    params = load(_params, request_params())
    created = api_keys().create(params["friendly_name"], params["role"], current_principal())
    response = jsonify(api_key_json(created.key, base_url(), secret=created.secret))
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"  # the secret must not sit in a cache
    return response


@blueprint.get("")
@requires(Permission.KEYS_READ)
def list_keys() -> Response:
    paging = load(_page_params, query_params())
    keys, more = api_keys().list(paging["page"], paging["page_size"])
    return jsonify(
        page_json(
            "keys",
            [api_key_json(key, base_url()) for key in keys],
            f"{base_url()}/v2/Keys",
            paging["page"],
            paging["page_size"],
            more,
        )
    )


@blueprint.get("/<sid>")
@requires(Permission.KEYS_READ)
def fetch_key(sid: str) -> Response:
    return jsonify(api_key_json(api_keys().fetch(sid), base_url()))


@blueprint.delete("/<sid>")
@requires(Permission.KEYS_WRITE)
def revoke_key(sid: str) -> Response:
    api_keys().revoke(sid, current_principal())
    return Response(status=204)

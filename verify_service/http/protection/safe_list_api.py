"""`/v2/SafeList/Numbers`: add, fetch, remove a safe-listed number (account-wide).

The twilio SDK puts the number into the path (`/Numbers/+1415…`, or `%2B1415…` once
URL-encoded); Flask hands the view the decoded segment and the use case normalises it.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from verify_service.application.access.access import Permission
from verify_service.application.protection.safe_list import SafeList
from verify_service.http.access.auth import requires
from verify_service.http.params import load, request_params
from verify_service.http.representations import safe_list_json
from verify_service.http.schemas import SafeListParams
from verify_service.http.wiring import base_url, components

blueprint = Blueprint("safe_list", __name__, url_prefix="/v2/SafeList/Numbers")
_params = SafeListParams()


def _safe_list() -> SafeList:
    safe_list = components().safe_list
    if safe_list is None:  # pragma: no cover - create_app always wires it
        raise RuntimeError("the safe list is not wired")
    return safe_list


@blueprint.post("")
@requires(Permission.SAFE_LIST_WRITE)
def add_number() -> Response:
    entry = _safe_list().add(load(_params, request_params())["phone_number"])
    response = jsonify(safe_list_json(entry, base_url()))
    response.status_code = 201
    return response


@blueprint.get("/<phone_number>")
@requires(Permission.SAFE_LIST_READ)
def fetch_number(phone_number: str) -> Response:
    return jsonify(safe_list_json(_safe_list().fetch(phone_number), base_url()))


@blueprint.delete("/<phone_number>")
@requires(Permission.SAFE_LIST_WRITE)
def remove_number(phone_number: str) -> Response:
    _safe_list().remove(phone_number)
    return Response(status=204)

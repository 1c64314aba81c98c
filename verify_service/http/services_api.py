"""`/v2/Services`: create, list, fetch, update, delete."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from verify_service.application.access.access import Permission
from verify_service.http.access.auth import requires
from verify_service.http.params import load, query_params, request_params
from verify_service.http.representations import page_json, service_json
from verify_service.http.schemas import PageParams, ServiceParams
from verify_service.http.wiring import account_sid, base_url, components

blueprint = Blueprint("services", __name__, url_prefix="/v2/Services")
_service_params = ServiceParams()
_page_params = PageParams()


def _created(body: object) -> Response:
    response = jsonify(body)
    response.status_code = 201
    return response


@blueprint.post("")
@requires(Permission.SERVICES_WRITE)
def create_service() -> Response:
    service = components().catalog.create(load(_service_params, request_params()))
    return _created(service_json(service, account_sid(), base_url()))


@blueprint.get("")
@requires(Permission.SERVICES_READ)
def list_services() -> Response:
    paging = load(_page_params, query_params())
    services, more = components().catalog.list(paging["page"], paging["page_size"])
    records = [service_json(s, account_sid(), base_url()) for s in services]
    return jsonify(
        page_json(
            "services",
            records,
            f"{base_url()}/v2/Services",
            paging["page"],
            paging["page_size"],
            more,
        )
    )


@blueprint.get("/<sid>")
@requires(Permission.SERVICES_READ)
def fetch_service(sid: str) -> Response:
    return jsonify(service_json(components().catalog.fetch(sid), account_sid(), base_url()))


@blueprint.post("/<sid>")
@requires(Permission.SERVICES_WRITE)
def update_service(sid: str) -> Response:
    changes = load(_service_params, request_params())
    service = components().catalog.update(sid, changes)
    return jsonify(service_json(service, account_sid(), base_url()))


@blueprint.delete("/<sid>")
@requires(Permission.SERVICES_WRITE)
def delete_service(sid: str) -> Response:
    components().catalog.delete(sid)
    return Response(status=204)

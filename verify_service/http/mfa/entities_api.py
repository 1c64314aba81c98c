"""`/v2/Services/{VA}/Entities`: create, list, fetch, delete (with factors and challenges)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from verify_service.application.access.access import Permission
from verify_service.http.access.auth import current_principal, requires
from verify_service.http.mfa.mfa_representations import entity_json
from verify_service.http.mfa.mfa_schemas import EntityParams, load_mfa
from verify_service.http.mfa.mfa_wiring import mfa
from verify_service.http.params import load, query_params, request_params
from verify_service.http.representations import page_json
from verify_service.http.schemas import PageParams
from verify_service.http.wiring import account_sid, base_url

blueprint = Blueprint("mfa_entities", __name__, url_prefix="/v2/Services/<service_sid>/Entities")
_entity_params = EntityParams()
_page_params = PageParams()


@blueprint.post("")
@requires(Permission.MFA_ENROL)
def create_entity(service_sid: str) -> Response:
    params = load_mfa(_entity_params, request_params())
    entity = mfa().entities.create(service_sid, params.get("identity"), current_principal())
    response = jsonify(entity_json(entity, account_sid(), base_url()))
    response.status_code = 201
    return response


@blueprint.get("")
@requires(Permission.MFA_READ)
def list_entities(service_sid: str) -> Response:
    paging = load(_page_params, query_params())
    entities, more = mfa().entities.list(service_sid, paging["page"], paging["page_size"])
    return jsonify(
        page_json(
            "entities",
            [entity_json(e, account_sid(), base_url()) for e in entities],
            f"{base_url()}/v2/Services/{service_sid}/Entities",
            paging["page"],
            paging["page_size"],
            more,
        )
    )


@blueprint.get("/<identity>")
@requires(Permission.MFA_READ)
def fetch_entity(service_sid: str, identity: str) -> Response:
    entity = mfa().entities.fetch(service_sid, identity)
    return jsonify(entity_json(entity, account_sid(), base_url()))


@blueprint.delete("/<identity>")
@requires(Permission.MFA_ENROL)
def delete_entity(service_sid: str, identity: str) -> Response:
    mfa().entities.delete(service_sid, identity, current_principal())
    return Response(status=204)

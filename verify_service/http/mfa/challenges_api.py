"""`/v2/Services/{VA}/Entities/{Identity}/Challenges`: create (answered at once with
`AuthPayload`), list (FactorSid, Status, Order), fetch, answer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from verify_service.application.access.access import Permission
from verify_service.application.mfa.challenges import NewChallengeRequest
from verify_service.application.mfa.ports import ChallengeQuery
from verify_service.domain.mfa.models import ChallengeDetails, ChallengeStatus, ListOrder
from verify_service.http.access.auth import current_principal, requires
from verify_service.http.mfa.mfa_representations import challenge_json, entity_url
from verify_service.http.mfa.mfa_schemas import (
    ChallengeListParams,
    NewChallengeParams,
    UpdateChallengeParams,
    detail_fields,
    load_mfa,
)
from verify_service.http.mfa.mfa_wiring import mfa
from verify_service.http.params import load, query_params, request_params
from verify_service.http.representations import page_json
from verify_service.http.schemas import PageParams
from verify_service.http.wiring import account_sid, base_url

blueprint = Blueprint(
    "mfa_challenges",
    __name__,
    url_prefix="/v2/Services/<service_sid>/Entities/<identity>/Challenges",
)
_new_params = NewChallengeParams()
_update_params = UpdateChallengeParams()
_list_params = ChallengeListParams()
_page_params = PageParams()


def _details_fields() -> list[Any]:
    """Every `Details.Fields` value: repeated form keys, or a JSON body's value."""
    if request.is_json:
        body = request_params()
        value = body.get("Details.Fields")
        return [] if value is None else [value]
    return request.form.getlist("Details.Fields")


def _json(challenge: Any) -> dict[str, Any]:
    return challenge_json(challenge, account_sid(), base_url(), mfa().clock.now_ms())


@blueprint.post("")
@requires(Permission.MFA_CHALLENGE)
def create_challenge(service_sid: str, identity: str) -> Response:
    params = load_mfa(_new_params, request_params())
    fields = detail_fields(_details_fields())
    message = params.get("details_message")
    details = ChallengeDetails(message, fields) if message is not None or fields else None
    challenge = mfa().challenges.create(
        service_sid,
        identity,
        NewChallengeRequest(
            factor_sid=params.get("factor_sid"),
            expiration_ms=params.get("expiration_date"),
            details=details,
            hidden_details=params.get("hidden_details"),
            auth_payload=params.get("auth_payload"),
        ),
        current_principal(),
    )
    response = jsonify(_json(challenge))
    response.status_code = 201
    return response


@blueprint.get("")
@requires(Permission.MFA_READ)
def list_challenges(service_sid: str, identity: str) -> Response:
    paging = load(_page_params, query_params())
    filters = load_mfa(_list_params, query_params())
    query = ChallengeQuery(
        factor_sid=filters.get("factor_sid"),
        status=ChallengeStatus(filters["status"]) if "status" in filters else None,
        order=ListOrder(filters.get("order", ListOrder.ASC.value)),
    )
    challenges, more = mfa().challenges.list(
        service_sid, identity, query, paging["page"], paging["page_size"]
    )
    wire_filters = {
        wire: filters[name]
        for name, wire in (("factor_sid", "FactorSid"), ("status", "Status"), ("order", "Order"))
        if name in filters
    }
    return jsonify(
        page_json(
            "challenges",
            [_json(c) for c in challenges],
            f"{entity_url(base_url(), service_sid, identity)}/Challenges",
            paging["page"],
            paging["page_size"],
            more,
            wire_filters,
        )
    )


@blueprint.get("/<sid>")
@requires(Permission.MFA_READ)
def fetch_challenge(service_sid: str, identity: str, sid: str) -> Response:
    return jsonify(_json(mfa().challenges.fetch(service_sid, identity, sid)))


@blueprint.post("/<sid>")
@requires(Permission.MFA_CHALLENGE)
def update_challenge(service_sid: str, identity: str, sid: str) -> Response:
    params = load_mfa(_update_params, request_params())
    challenge = mfa().challenges.answer(
        service_sid,
        identity,
        sid,
        params.get("auth_payload"),
        params.get("metadata"),
        current_principal(),
    )
    return jsonify(_json(challenge))

"""`/v2/Attempts`: the attempt history as Twilio's Verification Attempts (list with filters
and paging, fetch) and Attempts Summary (conversion, by channel and country as extensions)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify

from verify_service.application.access.access import Permission
from verify_service.application.attempts.attempts import AttemptQuery, Attempts
from verify_service.http.access.auth import current_principal, permission_denied, requires
from verify_service.http.access.destination_lookups import admit_lookup
from verify_service.http.params import load, query_params
from verify_service.http.representations import (
    attempt_json,
    attempts_page_json,
    attempts_summary_json,
)
from verify_service.http.schemas import AttemptListParams, AttemptSummaryParams
from verify_service.http.wiring import account_sid, base_url

ATTEMPTS_KEY = "verify_service.attempts"
blueprint = Blueprint("attempts", __name__, url_prefix="/v2/Attempts")
_list_params = AttemptListParams()
_summary_params = AttemptSummaryParams()
# Filters carried into the page URLs, by wire name.
_FILTERS = (
    "DateCreatedAfter",
    "DateCreatedBefore",
    "ChannelData.To",
    "Country",
    "Channel",
    "VerifyServiceSid",
    "VerificationSid",
    "Status",
)


def attempts() -> Attempts:
    found: Attempts = current_app.extensions[ATTEMPTS_KEY]
    return found


def _query(params: dict[str, Any]) -> AttemptQuery:
    prefix = params.get("destination_prefix")
    if prefix is not None and not current_principal().may(Permission.VERIFICATIONS_CHECK):
        # Prefix after prefix, a summary would spell out a number digit by digit: only
        # principals that see destinations in full (admin, backend) may filter by one.
        abort(permission_denied())
    status = params.get("status")
    channel = params.get("channel")
    country = params.get("country")
    return AttemptQuery(
        service_sid=params.get("verify_service_sid"),
        verification_sid=params.get("verification_sid"),
        to=params.get("to"),
        country=country.upper() if country else None,
        channel=channel.lower() if channel else None,
        converted=None if status is None else status.lower() == "converted",
        created_after_ms=params.get("date_created_after"),
        created_before_ms=params.get("date_created_before"),
        destination_prefix=params.get("destination_prefix"),
    )


@blueprint.get("")
@requires(Permission.ATTEMPTS_READ)
def list_attempts() -> Response:
    args = query_params()
    params = load(_list_params, args)
    query = _query(params)
    if query.to is not None:  # an exact-match search by number: audited and limited
        admit_lookup("attempts.list", query.to, "ChannelData.To")
    page = attempts().list_page(
        query, params["page_size"], params["page"], params.get("page_token")
    )
    records = [attempt_json(a, account_sid(), base_url()) for a in page.attempts]
    filters = {name: args[name] for name in _FILTERS if name in args}
    return jsonify(
        attempts_page_json(
            records,
            f"{base_url()}/v2/Attempts",
            filters,
            params["page"],
            params["page_size"],
            page.next_token,
        )
    )


@blueprint.get("/Summary")
@requires(Permission.ATTEMPTS_READ)
def attempts_summary() -> Response:
    params = load(_summary_params, query_params())
    return jsonify(attempts_summary_json(attempts().summary(_query(params)), base_url()))


@blueprint.get("/<sid>")
@requires(Permission.ATTEMPTS_READ)
def fetch_attempt(sid: str) -> Response:
    return jsonify(attempt_json(attempts().fetch(sid), account_sid(), base_url()))

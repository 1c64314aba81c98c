"""Extension endpoints: each send attempt's delivery status, for the support console.

`GET /v2/Services/{VA}/Verifications/{VE}/DeliveryAttempts` while the verification is live,
`GET /v2/DeliveryAttempts/{VL}` while the attempt's record lives (the attempt history's retention,
VERIFY_ATTEMPT_RETENTION_DAYS from its creation, until its day's history bucket expires).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from verify_service.application.access.access import Permission
from verify_service.application.delivery.delivery_receipts import DeliveryAttempts
from verify_service.http.access.auth import requires
from verify_service.http.representations import delivery_attempt_json, delivery_attempts_json
from verify_service.http.wiring import base_url

DELIVERY_ATTEMPTS_KEY = "verify_service.delivery_attempts"
blueprint = Blueprint("delivery_attempts", __name__, url_prefix="/v2")


def delivery_attempts() -> DeliveryAttempts:
    found: DeliveryAttempts = current_app.extensions[DELIVERY_ATTEMPTS_KEY]
    return found


@blueprint.get("/Services/<service_sid>/Verifications/<sid>/DeliveryAttempts")
@requires(Permission.VERIFICATIONS_READ)
def list_delivery_attempts(service_sid: str, sid: str) -> Response:
    records = delivery_attempts().of_verification(service_sid, sid)
    list_url = f"{base_url()}/v2/Services/{service_sid}/Verifications/{sid}/DeliveryAttempts"
    return jsonify(delivery_attempts_json(records, list_url, base_url()))


@blueprint.get("/DeliveryAttempts/<attempt_sid>")
@requires(Permission.VERIFICATIONS_READ)
def fetch_delivery_attempt(attempt_sid: str) -> Response:
    record = delivery_attempts().get(attempt_sid)
    return jsonify(delivery_attempt_json(record, base_url()))

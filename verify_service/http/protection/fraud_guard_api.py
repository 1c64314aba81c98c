"""`/v2/Services/{VA}/FraudGuard/Blocks` (extension): what Fraud Guard blocked, and lifting."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify

from verify_service.application.access.access import Permission
from verify_service.application.protection.fraud_guard_blocks import FraudGuardBlocks
from verify_service.application.protection.ports import BreakerTrip
from verify_service.http.access.auth import requires
from verify_service.http.representations import twilio_time
from verify_service.http.wiring import account_sid, base_url

blueprint = Blueprint(
    "fraud_guard", __name__, url_prefix="/v2/Services/<service_sid>/FraudGuard/Blocks"
)
FRAUD_GUARD_KEY = "verify_service.fraud_guard"


def _blocks() -> FraudGuardBlocks:
    found: FraudGuardBlocks = current_app.extensions[FRAUD_GUARD_KEY]
    return found


def trip_json(trip: BreakerTrip, url: str) -> dict[str, Any]:
    return {
        "service_sid": trip.service_sid,
        "account_sid": account_sid(),
        "prefix": trip.prefix,
        "mode": trip.mode,
        "sends": trip.sends,
        "approvals": trip.approvals,
        "window_seconds": trip.window_seconds,
        "destinations": list(trip.destinations),
        "date_tripped": twilio_time(trip.tripped_ms),
        "date_until": twilio_time(trip.until_ms),
        "url": f"{url}/{quote(trip.prefix, safe='')}",
    }


@blueprint.get("")
@requires(Permission.FRAUD_GUARD_READ)
def list_blocks(service_sid: str) -> Response:
    url = f"{base_url()}/v2/Services/{service_sid}/FraudGuard/Blocks"
    trips = _blocks().list(service_sid)
    return jsonify(
        {
            "blocks": [trip_json(trip, url) for trip in trips],
            "meta": {
                "page": 0,
                "page_size": len(trips),
                "first_page_url": url,
                "previous_page_url": None,
                "url": url,
                "next_page_url": None,
                "key": "blocks",
            },
        }
    )


@blueprint.delete("/<prefix>")
@requires(Permission.FRAUD_GUARD_WRITE)
def lift_block(service_sid: str, prefix: str) -> Response:
    _blocks().lift(service_sid, prefix.strip().replace(" ", "+"))
    return Response(status=204)

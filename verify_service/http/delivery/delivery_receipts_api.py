"""Providers' delivery receipts: `/v2/DeliveryReceipts/{Twilio|Vonage|Webhook}/{VL}`.

These routes take no HTTP Basic credentials (a provider has none): each receipt is
authenticated by its provider's signature instead, and an unsigned or badly signed one is
refused with 403/20003 and changes nothing. See docs/providers.md ("Delivery receipts").
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from flask import Blueprint, Response, request

from verify_service.adapters.delivery.receipts import TWILIO, VONAGE, WEBHOOK
from verify_service.application.delivery.delivery_receipts import InboundReceipt
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.json_input import BODY, parse_json
from verify_service.http.delivery.delivery_attempts_api import delivery_attempts
from verify_service.http.wiring import components

blueprint = Blueprint("delivery_receipts", __name__, url_prefix="/v2/DeliveryReceipts")
# Exempt from HTTP Basic (app.py): authenticated by the provider's signature.
RECEIPT_ENDPOINTS = frozenset(
    {
        "delivery_receipts.twilio_receipt",
        "delivery_receipts.vonage_receipt",
        "delivery_receipts.webhook_receipt",
    }
)


def _accept(kind: str, attempt_sid: str, params: Mapping[str, str]) -> Response:
    public_url = components().public_url or request.host_url.rstrip("/")
    query = request.query_string.decode("latin-1")
    receipt = InboundReceipt(
        url=f"{public_url}{request.path}" + (f"?{query}" if query else ""),
        params=params,
        headers={name.lower(): value for name, value in request.headers.items()},
        body=request.get_data(cache=True),
    )
    delivery_attempts().accept_receipt(kind, attempt_sid, receipt)
    return Response(status=204)


@blueprint.post(f"/{TWILIO}/<attempt_sid>")
def twilio_receipt(attempt_sid: str) -> Response:
    return _accept(TWILIO, attempt_sid, request.form)


@blueprint.route(f"/{VONAGE}/<attempt_sid>", methods=["GET", "POST"])
def vonage_receipt(attempt_sid: str) -> Response:
    """Vonage sends DLRs as GET query, POST form or POST JSON (the account's setting)."""
    params: Mapping[str, str] = request.args
    if request.method == "POST":
        params = _flat_json(request.get_data(cache=True)) if request.is_json else request.form
    return _accept(VONAGE, attempt_sid, params)


@blueprint.post(f"/{WEBHOOK}/<attempt_sid>")
def webhook_receipt(attempt_sid: str) -> Response:
    return _accept(WEBHOOK, attempt_sid, {})


def _flat_json(body: bytes) -> dict[str, str]:
    """A JSON DLR's scalar fields as strings (anything else cannot be signed, so it is left
    out and the signature check refuses the receipt). Read by `parse_json` as every caller's
    JSON is: one that is not JSON, or gives a key twice, is no fields, refused the same way."""
    try:
        document = parse_json(body, BODY)
    except InvalidParameter:
        return {}
    if not isinstance(document, dict):
        return {}
    return {
        str(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in document.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }

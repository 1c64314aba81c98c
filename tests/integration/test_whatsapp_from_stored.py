"""`Whatsapp.From` is stored as the sender it names (review of issue 13): the check read the
number with outer spaces and a `whatsapp:` prefix removed, but the service kept the value as
sent, line breaks included (`"+14155550100\\n"` came back in `whatsapp.from`, and went to
the console and the worker so)."""

from __future__ import annotations

import dataclasses

import pytest
from twilio.rest import Client

from tests.support.fakes import FixedClock, RecordingSender
from tests.support.flask_sdk import sdk_client
from verify_service.adapters.delivery.providers.routes import parse_routes
from verify_service.app import create_app
from verify_service.settings import Settings

SENDER = "+14155550100"


@pytest.fixture
def twilio(settings: Settings, clock: FixedClock, sender: RecordingSender) -> Client:
    routed = dataclasses.replace(settings, routes=parse_routes({"whatsapp_senders": [SENDER]}))
    app = create_app(routed, clock=clock, providers=sender.as_providers())
    return sdk_client(app.test_client())


@pytest.mark.parametrize(
    "given", [f"{SENDER}\n", f"\n{SENDER}", f" {SENDER} ", f"whatsapp:{SENDER}", SENDER]
)
def test_whatsapp_from_is_stored_as_the_e164_number_it_names(twilio: Client, given: str) -> None:
    created = twilio.verify.v2.services.create(friendly_name="Acme", whatsapp_from=given)
    assert created.whatsapp["from"] == SENDER
    service = twilio.verify.v2.services(created.sid)
    assert service.fetch().whatsapp["from"] == SENDER
    service.update(whatsapp_from="")
    assert service.update(whatsapp_from=given).whatsapp["from"] == SENDER

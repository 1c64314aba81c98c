"""Names that cannot be sent are refused at the API, through the official SDK and the real
server (docs/messages.md, "Text put into a message")."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.support.outbox import Outbox

TO = "+14155552671"


@pytest.mark.parametrize("name", ["Acme\r\nBank", "Acme\u202eknaB", "evil。com", "bit .ly/x"])
def test_a_custom_friendly_name_that_cannot_be_sent_is_60200(
    twilio: Client, outbox: Outbox, name: str
) -> None:
    """The SDK gets 400/60200 naming CustomFriendlyName; nothing reaches the outbox."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    written = len(outbox.messages())
    with pytest.raises(TwilioRestException) as refused:
        twilio.verify.v2.services(service.sid).verifications.create(
            to=TO, channel="sms", custom_friendly_name=name
        )
    assert (refused.value.status, refused.value.code) == (400, 60200)
    assert "CustomFriendlyName" in refused.value.msg
    outbox.wait_until_drained()
    assert len(outbox.messages()) == written


@pytest.mark.parametrize("name", ["Acme\x00", "\u2066Acme\u2069", "evil.com", "hxxp evil"])
def test_a_service_friendly_name_that_cannot_be_sent_is_60200(twilio: Client, name: str) -> None:
    """Creating a service with such a name: 400/60200 naming FriendlyName."""
    with pytest.raises(TwilioRestException) as refused:
        twilio.verify.v2.services.create(friendly_name=name)
    assert (refused.value.status, refused.value.code) == (400, 60200)
    assert "FriendlyName" in refused.value.msg


def test_a_name_in_another_script_reaches_an_idna_mailbox(twilio: Client, outbox: Outbox) -> None:
    """Accents and an internationalized domain: accepted and delivered as written."""
    service = twilio.verify.v2.services.create(friendly_name="Dr. Müller")
    verification = twilio.verify.v2.services(service.sid).verifications.create(
        to="jane@bücher.example", channel="email", custom_friendly_name="Café Zoë"
    )
    (message,) = outbox.messages_for(verification.sid, at_least=1)
    assert "Your Café Zoë verification code" in message["body"]

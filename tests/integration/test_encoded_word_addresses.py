"""An e-mail address holding an RFC 2047 encoded word (`=?utf-8?q?x?=@example.org`) is a
valid address (`=` and `?` are atext), but Python's mail library decodes the word when it
reads the address as a header: the code of a verification for `=?utf-8?q?x?=@example.org`
went to `x@example.org` (the envelope recipient was the parsed `To` header), and a
`ChannelConfiguration.from` holding one was accepted, then dead-lettered (the header could
not be built). The start refuses both, naming the parameter; the SMTP provider sends only
to the address written, whatever a stored message names (`a=?utf-8?q?b?=@…` reads back as
written: the start refuses it all the same, as any `=?`).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator

import pytest
import redis
from twilio.base.exceptions import TwilioRestException

from tests.integration.test_accepted_content_is_deliverable import redis_state
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.flask_sdk import sdk_client
from tests.support.smtp_server import SmtpServer
from verify_service.adapters.delivery.providers.registry import build_providers, parse_provider_list
from verify_service.app import create_app
from verify_service.domain.delivery.delivery import (
    DeliveryRequest,
    PermanentDeliveryError,
    RenderedMessage,
)
from verify_service.domain.messages.email_sender import EmailSenderPolicy
from verify_service.domain.models import Channel
from verify_service.settings import Settings


def _b_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


ENCODED_ADDRESSES = [
    "=?utf-8?q?x?=@example.org",  # read back as x@example.org
    "=?utf-8?q?j=C3=BCrgen?=@example.org",  # a non-ASCII mailbox no relay need accept
    _b_word("attacker@evil.example,") + "@example.org",
    "a=?utf-8?q?b?=@example.org",
]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


@pytest.mark.parametrize("address", ENCODED_ADDRESSES)
def test_a_start_to_an_address_with_an_encoded_word_is_60200_naming_to(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    smtp: SmtpServer,
    address: str,
) -> None:
    """Through the SDK and a real SMTP server: refused, nothing stored, nothing mailed."""
    dsn = f"smtp://127.0.0.1:{smtp.port}?from=otp@operator.example&timeout=2"
    providers = build_providers(Channel.EMAIL, parse_provider_list(Channel.EMAIL, dsn))
    app = create_app(settings, clock=clock, providers={Channel.EMAIL: list(providers)})
    twilio = sdk_client(app.test_client())
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    before = redis_state(redis_client)
    with pytest.raises(TwilioRestException) as caught:
        twilio.verify.v2.services(service).verifications.create(to=address, channel="email")
    assert (caught.value.status, caught.value.code) == (400, 60200)
    assert "Invalid parameter: To" in caught.value.msg
    assert address not in caught.value.msg
    assert redis_state(redis_client) == before
    assert smtp.received == []


@pytest.mark.parametrize(
    "address", ["=?utf-8?q?evil?=@brand.example", "a=?utf-8?q?b?=@brand.example"]
)
def test_a_chosen_sender_with_an_encoded_word_is_60200_naming_it(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    address: str,
) -> None:
    """In an allowed @domain, yet no From header can carry it: refused at the start rather
    than accepted and dead-lettered."""
    allowed = dataclasses.replace(settings, email_senders=EmailSenderPolicy.parse("@brand.example"))
    app = create_app(allowed, clock=clock, providers=sender.as_providers())
    twilio = sdk_client(app.test_client())
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    before = redis_state(redis_client)
    with pytest.raises(TwilioRestException) as caught:
        twilio.verify.v2.services(service).verifications.create(
            to="jane@example.org", channel="email", channel_configuration={"from": address}
        )
    assert (caught.value.status, caught.value.code) == (400, 60200)
    assert "Invalid parameter: ChannelConfiguration.from" in caught.value.msg
    assert redis_state(redis_client) == before
    assert sender.sent == []


@pytest.mark.parametrize("address", ENCODED_ADDRESSES[:3])
def test_the_smtp_provider_never_mails_another_address_than_the_one_written(
    smtp: SmtpServer, address: str
) -> None:
    """A message queued before the start refused such addresses: a permanent failure, and
    the server sees no recipient (it used to receive the decoded one)."""
    dsn = f"smtp://127.0.0.1:{smtp.port}?from=otp@operator.example&timeout=2"
    (provider,) = build_providers(Channel.EMAIL, parse_provider_list(Channel.EMAIL, dsn))
    message = RenderedMessage(Channel.EMAIL, "en", "Your code is 640218.", subject="Your code")
    with pytest.raises(PermanentDeliveryError, match="headers"):
        provider.deliver(DeliveryRequest(address, message, "VA", "VE", "VL"))
    assert smtp.received == []

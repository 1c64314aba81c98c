"""The channel settings of a start and a service take effect, or are refused naming them
(issue 13: nothing accepted and ignored), through the official twilio SDK:

- `ChannelConfiguration` (e-mail only): `from` (a sender the operator allows in
  `VERIFY_EMAIL_SENDERS`), `from_name`, `template_id`, `substitutions`; any other key,
  another channel, a sender not allowed: 60200 naming it, Redis unchanged.
- `SendDigits` (calls only): reaches the call provider; on another channel 60200.
- `TtsName` (a service's): the name a call says; `DtmfInputRequired=true`: 60204.

The chosen sender goes all the way: the start seals it with the message in the outbox, the
worker opens it and the SMTP provider writes it into `From` (a real SMTP server on loopback).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import deliver_queued
from tests.integration.test_accepted_content_is_deliverable import redis_state
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.flask_sdk import sdk_client
from tests.support.smtp_server import SmtpServer
from verify_service.adapters.delivery.providers.registry import build_providers, parse_provider_list
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.domain.delivery.delivery import RenderedMessage
from verify_service.domain.messages.email_sender import EmailSenderPolicy
from verify_service.domain.models import Channel
from verify_service.settings import Settings

MAILBOX = "jane@example.org"
PHONE = "+14155552671"
DSN_SENDER = "otp@operator.example"
TEMPLATE = "HJ" + "a" * 32


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        email_senders=EmailSenderPolicy.parse("security@acme.example, @brand.example"),
    )


@pytest.fixture
def twilio(app: Flask) -> Client:
    return sdk_client(app.test_client())


def start(twilio: Client, service: str, channel: str = "email", **params: Any) -> Any:
    to = MAILBOX if channel == "email" else PHONE
    return twilio.verify.v2.services(service).verifications.create(to=to, channel=channel, **params)


def sent(app: Flask, sender: RecordingSender) -> RenderedMessage:
    """The one message the worker handed to the provider (after the sealed outbox)."""
    deliver_queued(app)
    (delivered,) = sender.sent
    return delivered.message


def refused(twilio: Client, service: str, channel: str = "email", **params: Any) -> Any:
    with pytest.raises(TwilioRestException) as caught:
        start(twilio, service, channel, **params)
    return caught.value


# -- ChannelConfiguration -------------------------------------------------------------------


def test_channel_configuration_from_and_from_name_reach_the_provider(
    twilio: Client, app: Flask, sender: RecordingSender
) -> None:
    """An allowed address (exact, or in an allowed @domain) and a name: sealed with the
    message, opened by the worker, given to the provider."""
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    start(
        twilio,
        service,
        channel_configuration={"from": "Alerts@Brand.Example", "from_name": "Acme Security"},
    )
    message = sent(app, sender)
    assert (message.sender, message.sender_name) == ("Alerts@brand.example", "Acme Security")


def test_channel_configuration_as_a_json_string_is_read_too(
    twilio: Client, app: Flask, sender: RecordingSender
) -> None:
    """The SDK sends the object as JSON text (a form field); an exact allowed address."""
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    start(twilio, service, channel_configuration=json.dumps({"from": "security@acme.example"}))
    message = sent(app, sender)
    assert (message.sender, message.sender_name) == ("security@acme.example", None)


@pytest.mark.parametrize(
    ("configuration", "named"),
    [
        ({"from": "ceo@acme.example"}, "ChannelConfiguration.from"),  # not the allowed one
        ({"from": "x@sub.brand.example"}, "ChannelConfiguration.from"),  # a subdomain
        ({"from": "not an address"}, "ChannelConfiguration.from"),
        ({"from": ["security@acme.example"]}, "ChannelConfiguration.from"),
        ({"from_name": "evil.com"}, "ChannelConfiguration.from_name"),
        ({"from_name": "=?utf-8?q?x?="}, "ChannelConfiguration.from_name"),
        ({"from_name": "A" * 31}, "ChannelConfiguration.from_name"),
        ({"from_name": "Acme\r\nBcc: x@y"}, "ChannelConfiguration.from_name"),
        ({"template_id": "HJ123"}, "ChannelConfiguration.template_id"),
        ({"substitutions": ["a"]}, "ChannelConfiguration.substitutions"),
        ({"substitutions": {"name": 1}}, "ChannelConfiguration.substitutions"),
        ({"reply_to": "x@brand.example"}, "ChannelConfiguration.reply_to"),
        ({"b\u202ead": "x"}, "ChannelConfiguration"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_bad_channel_configuration_is_60200_naming_the_key(
    twilio: Client,
    redis_client: redis.Redis,
    sender: RecordingSender,
    configuration: dict[str, Any],
    named: str,
) -> None:
    """400/60200 naming the key; nothing written, nothing sent."""
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    before = redis_state(redis_client)
    error = refused(twilio, service, channel_configuration=configuration)
    assert (error.status, error.code) == (400, 60200)
    assert f"Invalid parameter: {named}" in error.msg
    assert "\u202e" not in error.msg
    assert redis_state(redis_client) == before
    assert sender.sent == []


@pytest.mark.parametrize("channel", ["sms", "call", "whatsapp"])
def test_channel_configuration_on_another_channel_is_60200(
    twilio: Client, redis_client: redis.Redis, channel: str
) -> None:
    """E-mail only: elsewhere it would be accepted and ignored."""
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    before = redis_state(redis_client)
    error = refused(twilio, service, channel, channel_configuration={"from_name": "Acme"})
    assert (error.status, error.code) == (400, 60200)
    assert "ChannelConfiguration" in error.msg
    assert "e-mail only" in error.msg
    assert redis_state(redis_client) == before


def test_without_allowed_senders_every_from_is_refused(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    """No VERIFY_EMAIL_SENDERS: only the SMTP DSN's own from=; a `from` is 60200, even the
    operator's own address (a name alone is fine)."""
    plain = dataclasses.replace(settings, email_senders=EmailSenderPolicy())
    app = create_app(plain, clock=clock, providers=sender.as_providers())
    twilio = sdk_client(app.test_client())
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    error = refused(twilio, service, channel_configuration={"from": DSN_SENDER})
    assert (error.status, error.code) == (400, 60200)
    assert "ChannelConfiguration.from" in error.msg
    assert "VERIFY_EMAIL_SENDERS" in error.msg
    start(twilio, service, channel_configuration={"from_name": "Acme Security"})
    assert sent(app, sender).sender_name == "Acme Security"


def test_channel_configuration_template_id_and_substitutions_become_the_starts_template(
    app: Flask,
) -> None:
    """`template_id` is the e-mail's TemplateSid and `substitutions` its custom
    substitutions: the start request the use case receives carries them."""
    captured: list[Any] = []
    verifications = app.extensions["verify_service"].verifications
    original = verifications.start

    def recording(service_sid: str, request: Any) -> Any:
        captured.append(request)
        return original(service_sid, request)

    verifications.start = recording
    twilio = sdk_client(app.test_client())
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    # The template may not exist (the templates' own rules): the mapping is what is tested.
    with contextlib.suppress(TwilioRestException):
        start(
            twilio,
            service,
            channel_configuration={
                "template_id": TEMPLATE,
                "substitutions": {"plan": "Gold", "city": "Oslo"},
            },
        )
    (request,) = captured
    assert request.template_sid == TEMPLATE
    assert request.template_substitutions == (("city", "Oslo"), ("plan", "Gold"))


def test_template_id_and_a_different_template_sid_are_60200(
    twilio: Client, redis_client: redis.Redis
) -> None:
    """Two different templates for one e-mail: refused, naming template_id."""
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    before = redis_state(redis_client)
    error = refused(
        twilio,
        service,
        template_sid="HJ" + "b" * 32,
        channel_configuration={"template_id": TEMPLATE},
    )
    assert (error.status, error.code) == (400, 60200)
    assert "ChannelConfiguration.template_id" in error.msg
    assert redis_state(redis_client) == before


def test_substitutions_and_template_custom_substitutions_together_are_60200(
    twilio: Client, redis_client: redis.Redis
) -> None:
    """Two sets of substitutions for one e-mail: refused, naming substitutions."""
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    before = redis_state(redis_client)
    error = refused(
        twilio,
        service,
        template_custom_substitutions=json.dumps({"plan": "Gold"}),
        channel_configuration={"substitutions": {"plan": "Gold"}},
    )
    assert (error.status, error.code) == (400, 60200)
    assert "ChannelConfiguration.substitutions" in error.msg
    assert redis_state(redis_client) == before


# -- the chosen sender on the wire (SMTP) ---------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


def test_the_chosen_sender_is_the_from_header_and_the_envelope_stays_the_operators(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, smtp: SmtpServer
) -> None:
    """From: "Acme Security" <alerts@brand.example>; MAIL FROM: the DSN's from= (bounces
    reach the operator's mailbox, SPF is checked on the relay's own domain)."""
    dsn = f"smtp://127.0.0.1:{smtp.port}?from={DSN_SENDER}&from_name=Operator&timeout=2"
    providers = build_providers(Channel.EMAIL, parse_provider_list(Channel.EMAIL, dsn))
    app = create_app(settings, clock=clock, providers={Channel.EMAIL: list(providers)})
    twilio = sdk_client(app.test_client())
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    start(
        twilio,
        service,
        channel_configuration={"from": "alerts@brand.example", "from_name": "Sécurité Acme"},
    )
    deliver_queued(app)
    (mail,) = smtp.received
    (author,) = mail.message["From"].addresses
    assert (author.display_name, author.addr_spec) == ("Sécurité Acme", "alerts@brand.example")
    assert mail.mail_from == DSN_SENDER
    assert mail.raw.isascii()


# -- SendDigits -----------------------------------------------------------------------------


def test_send_digits_reach_the_call_provider(
    twilio: Client, app: Flask, sender: RecordingSender
) -> None:
    """Dialled after the call connects (Twilio's Calls API `SendDigits`)."""
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    start(twilio, service, "call", send_digits="ww1234#")
    assert sent(app, sender).send_digits == "ww1234#"


@pytest.mark.parametrize("channel", ["sms", "email", "whatsapp"])
def test_send_digits_on_another_channel_is_60200(
    twilio: Client, redis_client: redis.Redis, channel: str
) -> None:
    """Digits dialled into a call only: elsewhere refused, naming SendDigits."""
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    before = redis_state(redis_client)
    error = refused(twilio, service, channel, send_digits="ww1")
    assert (error.status, error.code) == (400, 60200)
    assert "SendDigits" in error.msg
    assert redis_state(redis_client) == before


# -- TtsName, DtmfInputRequired -------------------------------------------------------------


def test_tts_name_is_the_name_a_call_says(
    twilio: Client, app: Flask, sender: RecordingSender
) -> None:
    """A call says the TtsName; an SMS still writes the FriendlyName."""
    service = twilio.verify.v2.services.create(friendly_name="ACME Bank", tts_name="Acme Bank")
    assert service.tts_name == "Acme Bank"
    start(twilio, service.sid, "call")
    call = sent(app, sender)
    assert "Acme Bank" in call.text
    assert "ACME Bank" not in call.text
    sender.sent.clear()
    twilio.verify.v2.services(service.sid).verifications.create(to="+14155550100", channel="sms")
    assert "ACME Bank" in sent(app, sender).text


def test_a_custom_friendly_name_wins_over_the_tts_name(
    twilio: Client, app: Flask, sender: RecordingSender
) -> None:
    """The start's own name is the more specific choice."""
    service = twilio.verify.v2.services.create(friendly_name="Acme", tts_name="Acme Bank").sid
    start(twilio, service, "call", custom_friendly_name="Acme Shop")
    assert "Acme Shop" in sent(app, sender).text


@pytest.mark.parametrize("name", ["evil.com", "Acme\x00", "A" * 31])
def test_a_tts_name_that_cannot_be_said_is_60200(twilio: Client, name: str) -> None:
    """The name rules of FriendlyName, naming TtsName."""
    with pytest.raises(TwilioRestException) as caught:
        twilio.verify.v2.services.create(friendly_name="Acme", tts_name=name)
    assert (caught.value.status, caught.value.code) == (400, 60200)
    assert "TtsName" in caught.value.msg


def test_an_empty_tts_name_clears_it(twilio: Client) -> None:
    service = twilio.verify.v2.services.create(friendly_name="Acme", tts_name="Acme Bank")
    updated = twilio.verify.v2.services(service.sid).update(tts_name="")
    assert updated.tts_name is None


def test_dtmf_input_required_is_not_offered(twilio: Client) -> None:
    """true: 60204 naming it (no provider here waits for a key press); false: accepted."""
    with pytest.raises(TwilioRestException) as caught:
        twilio.verify.v2.services.create(friendly_name="Acme", dtmf_input_required=True)
    assert (caught.value.status, caught.value.code) == (403, 60204)
    assert "DtmfInputRequired" in caught.value.msg
    assert "key press" in caught.value.msg  # says why, as the other refusals do
    service = twilio.verify.v2.services.create(friendly_name="Acme", dtmf_input_required=False)
    assert service.dtmf_input_required is False
    with pytest.raises(TwilioRestException) as again:
        twilio.verify.v2.services(service.sid).update(dtmf_input_required=True)
    assert again.value.code == 60204


# -- the sealed outbox entry ----------------------------------------------------------------


def queued_job(app: Flask, redis_client: redis.Redis) -> tuple[dict[str, Any], Any]:
    """The one queued entry: its opened JSON and the job the worker would make of it."""
    outbox = app.extensions[CONTAINER_KEY].outbox
    streams = [key for key in redis_client.keys("it:*") if redis_client.type(key) == b"stream"]
    ((entry_id, fields),) = [
        (entry_id, fields)
        for key in streams
        for entry_id, fields in redis_client.xrange(key)
        if {b"att", b"job"} <= set(fields)  # the delivery outbox's entries
    ]
    plain = json.loads(outbox._sealer.open(fields[b"job"], fields[b"att"]))
    return plain, outbox._unseal(f"x/{entry_id.decode()}", fields)


def test_an_entry_sealed_before_these_options_existed_still_opens(
    twilio: Client, app: Flask, redis_client: redis.Redis
) -> None:
    """The new keys are written only when set: an entry without them (as an older version
    queued it) opens with no sender and no digits."""
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    start(twilio, service, "call")
    plain, job = queued_job(app, redis_client)
    assert set(plain) == {"ve", "va", "tag", "to", "ch", "lo", "text", "subject", "html", "voice"}
    message = job.message
    assert (message.sender, message.sender_name, message.send_digits) == (None, None, None)


def test_the_options_are_sealed_with_the_message(
    twilio: Client, app: Flask, redis_client: redis.Redis
) -> None:
    """Sealed, not readable in the stream, and opened as given."""
    service = twilio.verify.v2.services.create(friendly_name="Acme").sid
    start(twilio, service, channel_configuration={"from": "a@brand.example", "from_name": "Acme"})
    plain, job = queued_job(app, redis_client)
    assert (plain["from"], plain["from_name"]) == ("a@brand.example", "Acme")
    assert (job.message.sender, job.message.sender_name) == ("a@brand.example", "Acme")
    for key in redis_client.keys("it:*"):
        if redis_client.type(key) == b"stream":
            for _entry, fields in redis_client.xrange(key):
                assert b"brand.example" not in b"".join(fields.values())

"""A template's call and WhatsApp wording fits what Twilio sends (review of issue 13): Twilio
refuses a call whose inline TwiML exceeds 4000 characters (error 32018), and the call says
its text twice; a WhatsApp message body holds at most 1600 characters. A 2000-character
`call` or `whatsapp` part was saved and every start accepted (201), each message then
refused by Twilio and dead-lettered: accepted, never delivered. Now the longest rendering
is checked when the template is saved, and each start's own text before anything is
written (a value HTML/XML escaping lengthens, `&` → `&amp;`, counts as sent)."""

from __future__ import annotations

import json

import pytest
import redis

from tests.conftest import Api
from tests.integration.test_template_starts import refusal, snapshot
from tests.support.fakes import RecordingSender
from verify_service.adapters.delivery.providers.twilio import spoken_twiml
from verify_service.domain.delivery.delivery import RenderedMessage
from verify_service.domain.models import Channel
from verify_service.domain.templates.checks import MAX_CALL_CHARACTERS, MAX_WHATSAPP_CHARACTERS

TWILIO_TWIML_LIMIT = 4000  # characters of the Calls API's Twiml parameter


@pytest.mark.parametrize(
    ("part", "text", "named"),
    [
        ("call", "Your {{friendly_name}} code is {{code}}. " + "Listen carefully. " * 105, "Call"),
        ("whatsapp", "{{code}} " + "Long WhatsApp text. " * 85, "Whatsapp"),
    ],
)
def test_wording_longer_than_twilio_sends_is_refused_at_save(
    api: Api, redis_client: redis.Redis, part: str, text: str, named: str
) -> None:
    before = snapshot(redis_client)
    response = api.post(
        "/v2/Templates", FriendlyName="Long", Translations=json.dumps({"en": {part: text}})
    )
    status, code, message = refusal(response)
    assert (status, code) == (400, 60200)
    assert message.startswith(f"Invalid parameter: Translations.en.{named} (the longest ")
    assert snapshot(redis_client) == before


def test_the_longest_call_a_template_may_say_fits_twilios_twiml() -> None:
    """The bound itself: the text said twice, XML-escaped, in the Twiml the provider sends."""
    longest = RenderedMessage(
        Channel.CALL, "pt-BR", "W" * MAX_CALL_CHARACTERS, voice_language="pt-BR"
    )
    assert len(spoken_twiml(longest)) <= TWILIO_TWIML_LIMIT
    assert MAX_WHATSAPP_CHARACTERS == 1600


def test_a_start_whose_values_lengthen_the_call_past_the_bound_is_refused(
    api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    """Saved with every variable at its longest plain value; `&` is written `&amp;` in the
    TwiML: the start names its substitutions, nothing written or sent."""
    response = api.post(
        "/v2/Templates",
        FriendlyName="Long",
        Translations=json.dumps(
            {"en": {"call": "Code {{code}} for {{shop}}, " + "Listen carefully. " * 95}}
        ),
        Variables=json.dumps({"shop": 100}),
    )
    assert response.status_code == 201, response.json
    sid = response.json["sid"]  # type: ignore[index]
    service = api.create_service()
    before = snapshot(redis_client)
    refused = api.start(
        service,
        channel="call",
        TemplateSid=sid,
        TemplateCustomSubstitutions=json.dumps({"shop": "&" * 100}),
    )
    status, code, message = refusal(refused)
    assert (status, code) == (400, 60200)
    assert message.startswith("Invalid parameter: TemplateCustomSubstitutions (the call would")
    assert snapshot(redis_client) == before
    assert sender.sent == []
    plain = api.start(
        service,
        channel="call",
        TemplateSid=sid,
        TemplateCustomSubstitutions=json.dumps({"shop": "A" * 100}),
    )
    assert plain.status_code == 201, plain.json

"""A template's start refused because of its PSD2 terms names `Payee` or `Amount` (review of
issue 13): the refusal named the service's `FriendlyName`, which the caller did not send and
cannot fix (docs/messages.md: errors name the parameter the values came in). A link, an
encoded word in a subject, or a payee longer than the save check's worst case (30 of its 64
characters) pushing the SMS past its budget."""

from __future__ import annotations

import json

import pytest
import redis

from tests.conftest import Api
from tests.integration.test_template_starts import refusal, snapshot
from tests.support.fakes import RecordingSender


def psd2_template(api: Api) -> str:
    response = api.post(
        "/v2/Templates",
        FriendlyName="Terms",
        Translations=json.dumps(
            {
                "en": {
                    "sms": "{{code}}: pay {{amount}} to {{payee}}",
                    "email_subject": "Pay {{amount}} to {{payee}}",
                    "email_text": "{{code}}",
                }
            }
        ),
    )
    assert response.status_code == 201, response.json
    sid: str = response.json["sid"]  # type: ignore[index]
    return sid


@pytest.mark.parametrize(
    ("channel", "amount", "payee", "named", "reason"),
    [
        ("sms", "EUR 5", "evil.com", "Payee", "the message would show a link (no AllowLinks)"),
        ("sms", "evil.com", "Acme", "Amount", "the message would show a link (no AllowLinks)"),
        ("email", "=?utf-8?q?x", "Acme", "Amount", "the subject would hold a MIME encoded word"),
        ("email", "EUR 5", "=?utf-8?q?x?=", "Payee", "the subject would hold a MIME encoded word"),
    ],
)
def test_a_refusal_caused_by_the_terms_names_them(
    api: Api,
    redis_client: redis.Redis,
    sender: RecordingSender,
    channel: str,
    amount: str,
    payee: str,
    named: str,
    reason: str,
) -> None:
    sid = psd2_template(api)
    service = api.create_service(Psd2Enabled="true")
    before = snapshot(redis_client)
    to = "jane@example.org" if channel == "email" else "+14155552671"
    response = api.start(service, to, channel, TemplateSid=sid, Amount=amount, Payee=payee)
    status, code, message = refusal(response)
    assert (status, code) == (400, 60200)
    assert message.startswith(f"Invalid parameter: {named} ({reason}")
    assert snapshot(redis_client) == before
    assert sender.sent == []


def test_a_payee_that_pushes_the_sms_past_its_budget_is_named(
    api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    response = api.post(
        "/v2/Templates",
        FriendlyName="Long",
        Translations=json.dumps(
            {"en": {"sms": "{{code}} is your code to pay {{amount}} to {{payee}} and " + "x" * 80}}
        ),
    )
    assert response.status_code == 201, response.json
    service = api.create_service(Psd2Enabled="true")
    before = snapshot(redis_client)
    sid = response.json["sid"]  # type: ignore[index]
    refused = api.start(service, TemplateSid=sid, Amount="EUR 5", Payee="\u0142" * 64)
    status, code, message = refusal(refused)
    assert (status, code) == (400, 60200)
    assert message.startswith("Invalid parameter: Payee (the SMS would take 3 UCS-2 parts")
    assert snapshot(redis_client) == before
    assert sender.sent == []
    assert api.start(service, TemplateSid=sid, Amount="EUR 5", Payee="P" * 64).status_code == 201


@pytest.mark.parametrize("channel", ["whatsapp", "call"])
def test_a_payee_that_pushes_a_call_or_whatsapp_past_its_bound_is_named(
    api: Api, redis_client: redis.Redis, sender: RecordingSender, channel: str
) -> None:
    """As for the SMS budget (found by the review of the merged change: these named the
    service's FriendlyName). Saved at its bound with the save check's 30-character payee."""
    filler = "x" * (1534 if channel == "whatsapp" else 1816)
    wording = "{{code}} pay {{amount}} to {{payee}} " + filler
    response = api.post(
        "/v2/Templates", FriendlyName="Long", Translations=json.dumps({"en": {channel: wording}})
    )
    assert response.status_code == 201, response.json
    service = api.create_service(Psd2Enabled="true")
    before = snapshot(redis_client)
    sid = response.json["sid"]  # type: ignore[index]
    refused = api.start(service, channel=channel, TemplateSid=sid, Amount="EUR 5", Payee="P" * 64)
    status, code, message = refusal(refused)
    assert (status, code) == (400, 60200)
    assert message.startswith("Invalid parameter: Payee ("), message
    assert snapshot(redis_client) == before
    assert sender.sent == []
    fits = api.start(service, channel=channel, TemplateSid=sid, Amount="EUR 5", Payee="P" * 30)
    assert fits.status_code == 201, fits.json

"""Message templates through the official twilio SDK against the real server
(docs/messages.md, "Templates"): Twilio's list parses, `TemplateSid`, `Templates`,
`TemplateCustomSubstitutions` and `DefaultTemplateSid` choose and fill the message the
console provider writes, writes are admin only and audited."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.test_api_keys_sdk import error_of, key_client
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer
from verify_service.domain.templates.builtin import BUILTIN_TEMPLATE_SID

TO = "+14155552671"
AUTH = (ACCOUNT_SID, AUTH_TOKEN)
PARTS = {
    "sms": "{{app}} {{code}} is your {{friendly_name}} code",
    "call": "Your {{app}} code is {{code}}",
    "email_subject": "{{friendly_name}}",
    "email_text": "{{code}}",
}


@pytest.fixture
def server_url(api_server: ApiServer, redis_client: object) -> str:
    return api_server.url


def create_template(server_url: str, **params: Any) -> dict[str, Any]:
    params.setdefault("FriendlyName", "Shop wording")
    params.setdefault("Translations", json.dumps({"en": PARTS, "fr": PARTS}))
    params.setdefault("Variables", json.dumps({"app": 12}))
    response = requests.post(f"{server_url}/v2/Templates", data=params, auth=AUTH, timeout=10)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_sdk_lists_the_builtin_file_and_api_templates(twilio: Client, server_url: str) -> None:
    """`client.verify.v2.templates.list()` parses Twilio's shape, the built-in first."""
    created = create_template(server_url)
    listed = twilio.verify.v2.templates.list()
    assert [t.sid for t in listed] == [BUILTIN_TEMPLATE_SID, created["sid"]]
    mine = listed[1]
    assert mine.friendly_name == "Shop wording"
    assert mine.channels == ["sms", "voice", "email"]
    assert mine.translations["en"]["is_default_translation"] is True
    assert mine.translations["fr"]["text"] == PARTS["sms"]
    assert mine.translations["fr"]["status"] == "approved"
    only = twilio.verify.v2.templates.list(friendly_name="shop")
    assert [t.sid for t in only] == [created["sid"]]


def test_template_sid_and_substitutions_write_the_sms(
    twilio: Client, server_url: str, outbox: Outbox
) -> None:
    template = create_template(server_url)
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verification = twilio.verify.v2.services(service.sid).verifications.create(
        to=TO,
        channel="sms",
        template_sid=template["sid"],
        template_custom_substitutions=json.dumps({"app": "[Shop]"}),
    )
    (message,) = outbox.messages_for(verification.sid, at_least=1)
    assert re.fullmatch(r"\[Shop\] [0-9]{6} is your Acme code", message["body"])


def test_templates_picks_the_entry_serving_the_channel(
    twilio: Client, server_url: str, outbox: Outbox
) -> None:
    """SDK 9.13's `Templates`: an SMS-only template first, one with call wording second."""
    sms_only = create_template(server_url, Translations=json.dumps({"en": {"sms": "S {{code}}"}}))
    with_call = create_template(server_url)
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    entries = [{"sid": sms_only["sid"]}, {"sid": with_call["sid"], "substitutions": {"app": "X"}}]
    verification = twilio.verify.v2.services(service.sid).verifications.create(
        to=TO, channel="call", templates=json.dumps(entries)
    )
    (message,) = outbox.messages_for(verification.sid, at_least=1)
    assert message["body"].startswith("Your X code is ")


def test_default_template_sid_writes_the_services_messages(
    twilio: Client, server_url: str, outbox: Outbox
) -> None:
    template = create_template(server_url)
    service = twilio.verify.v2.services.create(
        friendly_name="Acme", default_template_sid=template["sid"]
    )
    assert service.default_template_sid == template["sid"]
    verification = twilio.verify.v2.services(service.sid).verifications.create(
        to=TO, channel="sms", locale="fr"
    )
    (message,) = outbox.messages_for(verification.sid, at_least=1)
    assert re.fullmatch(r" [0-9]{6} is your Acme code", message["body"])
    assert message["locale"] == "fr"


def test_an_empty_default_template_sid_goes_back_to_the_builtin_wording(
    twilio: Client, server_url: str, outbox: Outbox
) -> None:
    """As with `TtsName` and `Whatsapp.From`, an empty value clears the setting."""
    template = create_template(server_url)
    service = twilio.verify.v2.services.create(
        friendly_name="Acme", default_template_sid=template["sid"]
    )
    cleared = twilio.verify.v2.services(service.sid).update(default_template_sid="")
    assert cleared.default_template_sid is None
    verification = twilio.verify.v2.services(service.sid).verifications.create(to=TO, channel="sms")
    (message,) = outbox.messages_for(verification.sid, at_least=1)
    assert message["body"].startswith("Your Acme verification code is: ")


def test_an_unknown_default_template_sid_is_60200(twilio: Client) -> None:
    with pytest.raises(TwilioRestException) as refused:
        twilio.verify.v2.services.create(friendly_name="Acme", default_template_sid="HJ" + "0" * 32)
    assert (refused.value.status, refused.value.code) == (400, 60200)
    assert "DefaultTemplateSid" in refused.value.msg


def test_a_template_without_wording_for_the_channel_is_60227(
    twilio: Client, server_url: str
) -> None:
    template = create_template(server_url, Translations=json.dumps({"en": {"sms": "{{code}}"}}))
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    with pytest.raises(TwilioRestException) as refused:
        twilio.verify.v2.services(service.sid).verifications.create(
            to=TO, channel="call", template_sid=template["sid"]
        )
    assert (refused.value.status, refused.value.code) == (400, 60227)


def test_backend_may_read_templates_but_only_admin_writes_them(server_url: str) -> None:
    backend, key = key_client(server_url, "backend")
    assert backend.verify.v2.templates.list()[0].sid == BUILTIN_TEMPLATE_SID
    response = requests.post(
        f"{server_url}/v2/Templates",
        data={"FriendlyName": "x", "Translations": json.dumps({"en": {"sms": "{{code}}"}})},
        auth=(key["sid"], key["secret"]),
        timeout=10,
    )
    assert (response.status_code, response.json()["code"]) == (403, 20003)
    support, _ = key_client(server_url, "support")
    assert error_of(support.verify.v2.templates.list) == (403, 20003)


def test_every_template_change_is_audited(server_url: str) -> None:
    template = create_template(server_url)
    sid = template["sid"]
    requests.post(
        f"{server_url}/v2/Templates/{sid}", data={"FriendlyName": "B"}, auth=AUTH, timeout=10
    )
    requests.delete(f"{server_url}/v2/Templates/{sid}", auth=AUTH, timeout=10)
    requests.post(f"{server_url}/v2/Templates", data={"FriendlyName": "x"}, auth=AUTH, timeout=10)
    entries = requests.get(
        f"{server_url}/v2/Audit/Entries", params={"PageSize": 100}, auth=AUTH, timeout=10
    ).json()["entries"]
    seen = [(e["action"], e["outcome"]) for e in entries if e["action"].startswith("templates.")]
    assert seen == [
        ("templates.create", "60200"),
        ("templates.delete", "ok"),
        ("templates.update", "ok"),
        ("templates.create", "ok"),
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"template_custom_substitutions": {"app": "X"}},  # a dict, not json.dumps(...)
            "Invalid parameter: TemplateCustomSubstitutions (not JSON)",
        ),
        (
            {"template_sid": "Shop wording"},
            "Invalid parameter: TemplateSid (HJ and 32 hex digits)",
        ),
    ],
)
def test_a_malformed_template_parameter_says_what_is_expected(
    twilio: Client, params: dict[str, Any], message: str
) -> None:
    """A new user's first mistakes: the SDK sends a dict for the string parameter
    `template_custom_substitutions` as its keys; a template's name instead of its sid."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    with pytest.raises(TwilioRestException) as refused:
        twilio.verify.v2.services(service.sid).verifications.create(to=TO, channel="sms", **params)
    assert (refused.value.status, refused.value.code) == (400, 60200)
    assert refused.value.msg.endswith(message)


def test_a_malformed_default_template_sid_says_what_is_expected(twilio: Client) -> None:
    with pytest.raises(TwilioRestException) as refused:
        twilio.verify.v2.services.create(friendly_name="Acme", default_template_sid="Shop")
    assert refused.value.msg.endswith(
        "Invalid parameter: DefaultTemplateSid (HJ and 32 hex digits, or empty to clear it)"
    )

"""Text that goes into a message is checked at the API (docs/messages.md, "Text put into a
message"): control, surrogate and bidi characters and links are a 60200 naming the
parameter, never a 201 followed by a dead letter."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api
from tests.support.fakes import RecordingSender

TO = "+14155552671"

UNSAFE_NAMES = [
    "Acme\r\nBcc: x@evil.example",
    "Acme\nBank",
    "Acme\x00",
    "Acme\x85Bank",
    "Acme\u202eknaB",
    "\u2066Acme\u2069",
    "Acme\u200f",
    "Acme\u200bBank",
    "Acme\ufeff",
    "=?utf-8?q?=0AX-Injected:yes?=",  # decoded in a Subject: a new header
    "\u3164",  # a Hangul filler: shows nothing
]
LINKS = [
    "evil.com",
    "bit .ly/x",
    "bit. ly/x",
    "evil。com",
    "hxxp evil",
    "evil[.]com",
    "ｅｖｉｌ．ｃｏｍ",
    "evil\ufe0f.com",
    "=?utf-8?q?evil=2Ecom?=",
]


def assert_refused(response: Any, parameter: str, value: str) -> None:
    """400, 60200, the parameter named, and nothing of the value echoed."""
    assert response.status_code == 400, response.json
    body = response.json
    assert body["code"] == 60200
    assert parameter in body["message"]
    assert value.strip() not in response.get_data(as_text=True)


def post_json(api: Api, path: str, raw_body: str) -> Any:
    """A JSON body written by hand, so that it can carry `\\ud800` escapes."""
    return api.client.post(
        path, data=raw_body, content_type="application/json", headers=api.headers
    )


@pytest.mark.parametrize("name", UNSAFE_NAMES + LINKS)
def test_a_custom_friendly_name_that_cannot_be_sent_is_60200(
    api: Api, sender: RecordingSender, name: str
) -> None:
    """CustomFriendlyName with a control, bidi or invisible character, or a link: refused,
    nothing sent."""
    service_sid = api.create_service()
    assert_refused(api.start(service_sid, TO, CustomFriendlyName=name), "CustomFriendlyName", name)
    assert sender.sent == []


@pytest.mark.parametrize("name", UNSAFE_NAMES + LINKS)
def test_a_service_friendly_name_that_cannot_be_sent_is_60200(api: Api, name: str) -> None:
    """FriendlyName on create and on update: refused, the service keeps its name."""
    assert_refused(api.post("/v2/Services", FriendlyName=name), "FriendlyName", name)
    service_sid = api.create_service(FriendlyName="Acme")
    assert_refused(api.post(f"/v2/Services/{service_sid}", FriendlyName=name), "FriendlyName", name)
    assert api.get(f"/v2/Services/{service_sid}").json["friendly_name"] == "Acme"  # type: ignore[index]


@pytest.mark.parametrize(
    "parameter", ["CustomFriendlyName", "Amount", "Payee", "CustomMessage", "Locale", "To"]
)
def test_a_lone_surrogate_in_a_json_body_is_60200_naming_the_parameter(
    api: Api, sender: RecordingSender, parameter: str
) -> None:
    """JSON's `\\ud800` escape decodes to a lone surrogate no encoder writes: 60200."""
    service_sid = api.create_service(Psd2Enabled="true")
    body = {"To": TO, "Channel": "sms", "Amount": "€1", "Payee": "Acme"}
    raw = json.dumps(body)[:-1] + f', "{parameter}": "Acme\\ud800"}}'
    response = post_json(api, f"/v2/Services/{service_sid}/Verifications", raw)
    assert_refused(response, parameter, "Acme\ud800")
    assert sender.sent == []


def test_a_lone_surrogate_in_a_json_service_name_is_60200(api: Api) -> None:
    """The same for a service's FriendlyName sent as JSON."""
    response = post_json(api, "/v2/Services", '{"FriendlyName": "Acme\\udfff"}')
    assert_refused(response, "FriendlyName", "Acme")


@pytest.mark.parametrize(("parameter", "value"), [("Amount", "€1\r\n"), ("Payee", "Acme\u202e")])
def test_psd2_terms_with_control_characters_are_60200(
    api: Api, sender: RecordingSender, parameter: str, value: str
) -> None:
    """Amount and Payee are shown in the message: the same wire-safe rule."""
    service_sid = api.create_service(Psd2Enabled="true")
    params = {"Amount": "€1", "Payee": "Acme", parameter: value}
    assert_refused(api.start(service_sid, TO, **params), parameter, value)
    assert sender.sent == []


def test_a_custom_message_with_control_characters_is_60200(api: Api) -> None:
    """CustomMessage (accepted, not used yet) follows the same rule."""
    service_sid = api.create_service()
    response = api.start(service_sid, TO, CustomMessage="Hello\x1b[2J")
    assert_refused(response, "CustomMessage", "Hello")


@pytest.mark.parametrize("name", ["Acme Inc.", "Dr. Smith", "Café Zoë", "ジョン・スミス", "AT&T"])
def test_a_legitimate_name_is_sent_as_written(api: Api, sender: RecordingSender, name: str) -> None:
    """Abbreviations, accents, other scripts: accepted, and the message carries the name."""
    service_sid = api.create_service(FriendlyName=name)
    assert api.start(service_sid, TO).status_code == 201
    assert api.start(service_sid, "+14155552672", CustomFriendlyName=name).status_code == 201
    assert [f"Your {name} verification code" in sent.body for sent in sender.sent] == [True] * 2

"""A `support` resend is an allow-list (issue 9, item 5): `To` and `Channel`, nothing else.

Every other parameter a start reads could steer the message (`AppHash` sends the code to
whichever Android app has that hash, `Locale` picks its language, a template or custom
message its text) or weaken protection; from a support key each one is 403/20003 with a
message naming it, and nothing is sent. The list below is checked against the start's schema,
so a parameter added later is refused to support until someone decides otherwise.
"""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Api, deliver_queued
from tests.integration.test_api_keys import basic, create_key
from tests.support.fakes import RecordingSender
from verify_service.http.schemas import StartParams
from verify_service.http.verifications_api import RESEND_PARAMETERS

TO = "+14155552671"

# A well-formed value for every start parameter but To and Channel.
REFUSED = {
    "AppHash": "AbCdEfGhIj1",
    "Locale": "fr",
    "CustomFriendlyName": "Other Bank",
    "CustomMessage": "Your code is below",
    "TemplateSid": "HJ" + "0" * 32,
    "TemplateCustomSubstitutions": json.dumps({"name": "x"}),
    "Templates": json.dumps([{"sid": "HJ" + "0" * 32}]),
    "ChannelConfiguration": json.dumps({"from": "x"}),
    "SendDigits": "1234",
    "EnableSnaClientToken": "true",
    "CustomCode": "123456",
    "RiskCheck": "disable",
    "RateLimits": json.dumps({"x": "y"}),
    "DeviceIp": "203.0.113.1",
    "Tags": json.dumps({"a": "b"}),
    "Amount": "10.00",
    "Payee": "Acme",
}


def resend_as(
    client: FlaskClient, headers: dict[str, str], service: str, **params: str
) -> TestResponse:
    return client.post(
        f"/v2/Services/{service}/Verifications",
        data={"To": TO, "Channel": "sms", **params},
        headers=headers,
    )


@pytest.fixture
def support(api: Api) -> dict[str, str]:
    key = create_key(api, role="support", name="helpdesk")
    return basic(key["sid"], key["secret"])


def test_the_list_covers_every_start_parameter() -> None:
    """Every parameter a start reads is either allowed to support or refused below."""
    wire_names = {field.data_key for field in StartParams().fields.values()}
    assert RESEND_PARAMETERS == ("To", "Channel")
    assert wire_names == set(RESEND_PARAMETERS) | set(REFUSED)


@pytest.mark.parametrize(("name", "value"), REFUSED.items(), ids=REFUSED.keys())
def test_support_resend_with_any_other_parameter_is_refused(
    api: Api,
    app: Flask,
    support: dict[str, str],
    sender: RecordingSender,
    name: str,
    value: str,
) -> None:
    """403/20003 naming the parameter; nothing sent, the verification unchanged."""
    service = api.create_service(CustomCodeEnabled="true")
    started = api.start(service, TO).json
    assert started is not None
    refused = resend_as(app.test_client(), support, service, **{name: value})
    assert refused.status_code == 403, refused.json
    assert refused.json == {
        "code": 20003,
        "message": f"Permission Denied: {name} is not permitted for this key;"
        " a resend takes only To and Channel",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 403,
    }
    deliver_queued(app)
    assert len(sender.sent) == 1
    fetched = api.fetch(service, started["sid"]).json
    assert fetched is not None
    assert len(fetched["send_code_attempts"]) == 1


def test_the_refusal_names_every_parameter_not_permitted(
    api: Api, app: Flask, support: dict[str, str]
) -> None:
    """Several at once: all named, in a stable order."""
    service = api.create_service()
    api.start(service, TO)
    refused = resend_as(app.test_client(), support, service, Locale="fr", AppHash="AbCdEfGhIj1")
    assert refused.status_code == 403
    assert refused.json["message"].startswith(  # type: ignore[index]
        "Permission Denied: AppHash, Locale are not permitted for this key;"
    )


def test_support_resends_with_to_and_channel(
    api: Api, app: Flask, support: dict[str, str], sender: RecordingSender
) -> None:
    """The allowed resend: same verification, the channel may change, in the first send's
    language (a support key cannot pick another)."""
    service = api.create_service()
    started = api.start(service, TO).json
    assert started is not None
    resent = resend_as(app.test_client(), support, service, Channel="call")
    assert resent.status_code == 201, resent.json
    assert resent.json["sid"] == started["sid"]  # type: ignore[index]
    assert resent.json["channel"] == "call"  # type: ignore[index]
    deliver_queued(app)
    assert [message.channel.value for message in sender.sent] == ["sms", "call"]
    assert sender.sent[-1].locale == "en"


def test_parameters_no_start_reads_are_ignored_for_support_as_for_everyone(
    api: Api, app: Flask, support: dict[str, str]
) -> None:
    """A name that is no start parameter changes nothing, whoever sends it."""
    service = api.create_service()
    api.start(service, TO)
    resent = resend_as(app.test_client(), support, service, Status="canceled")
    assert resent.status_code == 201, resent.json


def test_a_backend_key_may_still_set_them(api: Api, app: Flask, sender: RecordingSender) -> None:
    """The allow-list is support's: a backend resend may name AppHash and Locale."""
    key = create_key(api, role="backend")
    service = api.create_service()
    api.start(service, TO)
    resent = resend_as(
        app.test_client(),
        basic(key["sid"], key["secret"]),
        service,
        AppHash="AbCdEfGhIj1",
        Locale="fr",
    )
    assert resent.status_code == 201, resent.json
    deliver_queued(app)
    assert sender.sent[-1].locale == "fr"
    assert "AbCdEfGhIj1" in sender.sent[-1].body

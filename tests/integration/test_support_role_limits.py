"""What a `support` principal may do through the API, and no more: resend on a pending
verification (never create one, never choose a code or skip a risk check), see destinations
masked only, and never filter history by a number's prefix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api
from tests.integration.test_api_keys import basic, create_key
from tests.support.fakes import RecordingSender

TO = "+14155552671"


@pytest.fixture
def support(api: Api, app: Flask) -> tuple[FlaskClient, dict[str, str]]:
    key = create_key(api, role="support", name="helpdesk")
    return app.test_client(), basic(key["sid"], key["secret"])


def start_as(support: tuple[FlaskClient, dict[str, str]], service: str, **params: Any) -> Any:
    client, headers = support
    return client.post(
        f"/v2/Services/{service}/Verifications",
        data={"To": TO, "Channel": "sms", **params},
        headers=headers,
    )


def test_support_resends_on_a_pending_verification_and_sees_the_number_masked(
    api: Api, support: tuple[FlaskClient, dict[str, str]], sender: RecordingSender
) -> None:
    service = api.create_service()
    started = api.start(service, TO).json
    resent = start_as(support, service)
    assert resent.status_code == 201, resent.json
    assert resent.json["sid"] == started["sid"]
    assert resent.json["to"] == "+1 415 •••• 671"
    assert TO not in json.dumps(resent.json)
    client, headers = support
    fetched = client.get(f"/v2/Services/{service}/Verifications/{started['sid']}", headers=headers)
    assert fetched.json["to"] == "+1 415 •••• 671"
    assert api.fetch(service, started["sid"]).json["to"] == TO  # the account sees it whole


def test_support_never_creates_a_verification(
    api: Api, support: tuple[FlaskClient, dict[str, str]], sender: RecordingSender
) -> None:
    service = api.create_service()
    refused = start_as(support, service)
    assert refused.status_code == 404
    assert refused.json["code"] == 20404
    assert sender.sent == []


@pytest.mark.parametrize(
    "params",
    [
        {"CustomCode": "123456"},
        {"RiskCheck": "disable"},
        {"RateLimits": json.dumps({"x": "y"})},
        {"DeviceIp": "203.0.113.1"},
        {"Tags": json.dumps({"a": "b"})},
        {"CustomFriendlyName": "Other"},
    ],
)
def test_support_may_not_choose_a_code_or_skip_protection(
    api: Api, support: tuple[FlaskClient, dict[str, str]], params: dict[str, str]
) -> None:
    service = api.create_service(CustomCodeEnabled="true")
    api.start(service, TO)
    refused = start_as(support, service, **params)
    assert refused.status_code == 403
    assert refused.json["code"] == 20003


def test_support_may_not_filter_attempts_by_a_number_prefix(
    api: Api, support: tuple[FlaskClient, dict[str, str]]
) -> None:
    client, headers = support
    path = "/v2/Attempts/Summary"  # the one resource Twilio lets filter by DestinationPrefix
    refused = client.get(f"{path}?DestinationPrefix=%2B1415", headers=headers)
    assert refused.status_code == 403
    assert refused.json["code"] == 20003
    assert client.get(path, headers=headers).status_code == 200
    assert api.get("/v2/Attempts/Summary?DestinationPrefix=%2B1415").status_code == 200

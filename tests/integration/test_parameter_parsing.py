"""Known parameters are parsed strictly: anything malformed is 60200 naming it."""

from __future__ import annotations

import pytest

from tests.conftest import Api

TO = "+14155552671"


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"AppHash": "He42w354ol9\n"}, "AppHash"),
        ({"AppHash": "He42w354ol"}, "AppHash"),
        ({"SendDigits": "ww1\n"}, "SendDigits"),
        ({"Locale": "xx"}, "Locale"),
        ({"RateLimits": "not json"}, "RateLimits"),
        ({"RateLimits": "[1, 2]"}, "RateLimits"),
        ({"DeviceIp": "999.1.1.1"}, "DeviceIp"),
        ({"RiskCheck": "maybe"}, "RiskCheck"),
        ({"TemplateSid": "HJ123"}, "TemplateSid"),
    ],
)
def test_a_malformed_start_parameter_is_60200_naming_it(
    api: Api, params: dict[str, str], name: str
) -> None:
    """Start: the error names the parameter, and nothing is created."""
    service_sid = api.create_service()
    response = api.start(service_sid, TO, **params)
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    assert name in response.json["message"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"LookupEnabled": "yes"}, "LookupEnabled"),
        ({"CodeLength": "6.7"}, "CodeLength"),
        ({"CodeLength": "6 "}, None),  # surrounding spaces are tolerated
        ({"Whatsapp.MsgServiceSid": "MG" + "0" * 31}, "Whatsapp.MsgServiceSid"),
    ],
)
def test_service_parameters_are_typed_strictly(
    api: Api, params: dict[str, str], name: str | None
) -> None:
    """Booleans are true/false, integers are whole numbers, sids have their shape."""
    response = api.post("/v2/Services", FriendlyName="Acme", **params)
    if name is None:
        assert response.status_code == 201
        return
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    assert name in response.json["message"]  # type: ignore[index]


def test_a_json_code_length_must_be_an_integer(api: Api) -> None:
    """JSON 6.7 is refused rather than truncated to 6."""
    response = api.client.post(
        "/v2/Services", json={"FriendlyName": "Acme", "CodeLength": 6.7}, headers=api.headers
    )
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]


def test_a_malformed_verification_sid_in_a_check_is_60200(api: Api) -> None:
    """VerificationSid is a known parameter: a malformed one is 60200, not 404."""
    service_sid = api.create_service()
    response = api.check(service_sid, "123456", VerificationSid="VE123")
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    assert "VerificationSid" in response.json["message"]  # type: ignore[index]


def test_a_resend_may_change_the_locale(api: Api, sender: object) -> None:
    """The locale of a resend is stored and used for its message."""
    service_sid = api.create_service()
    first = api.start(service_sid, TO, Locale="fr").json
    assert first is not None
    api.start(service_sid, TO, Locale="de")
    api.start(service_sid, TO)
    locales = [m.locale for m in sender.sent]  # type: ignore[attr-defined]
    assert locales == ["fr", "de", "de"]

"""The Service resource through the official twilio SDK against the real server.

Create, fetch, update and delete; every parameter the SDK offers is echoed back; the
`VerificationTtlSeconds` extension (not in the SDK) is driven with `requests`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.processes import ApiServer
from verify_service.domain.templates.builtin import BUILTIN_TEMPLATE_SID

HJ = BUILTIN_TEMPLATE_SID  # DefaultTemplateSid must name a template (docs/messages.md)
MG = "MG" + "d" * 32

# Every parameter of `services.create` in twilio 9.13 that this service offers, each set away
# from its default (but `dtmf_input_required`: `true` is not offered, 60204, see
# test_channel_options_sdk.py); the push settings and VerifyEventSubscriptionEnabled are given
# their defaults (any other value is refused: tests/e2e/test_refused_parameters_sdk.py).
EVERY_PARAMETER: dict[str, Any] = {
    "friendly_name": "Acme Login",
    "code_length": 7,
    "lookup_enabled": True,
    "skip_sms_to_landlines": True,
    "dtmf_input_required": False,
    "tts_name": "Acme",
    "psd2_enabled": True,
    "do_not_share_warning_enabled": True,
    "custom_code_enabled": True,
    "push_include_date": False,
    "totp_issuer": "Acme Inc",
    "totp_time_step": 45,
    "totp_code_length": 8,
    "totp_skew": 2,
    "default_template_sid": HJ,
    "whatsapp_msg_service_sid": MG,
    "whatsapp_from": "+14155550100",
    "passkeys_relying_party_id": "example.com",
    "passkeys_relying_party_name": "Example App",
    "passkeys_relying_party_origins": "https://login.example.com,https://www.example.com",
    "passkeys_authenticator_attachment": "platform",
    "passkeys_discoverable_credentials": "preferred",
    "passkeys_user_verification": "required",
    "verify_event_subscription_enabled": False,
}

# How each of them reads back (flat fields, then the nested objects of Twilio's shape).
EVERY_FIELD: dict[str, Any] = {
    "friendly_name": "Acme Login",
    "code_length": 7,
    "lookup_enabled": True,
    "skip_sms_to_landlines": True,
    "dtmf_input_required": False,
    "tts_name": "Acme",
    "psd2_enabled": True,
    "do_not_share_warning_enabled": True,
    "custom_code_enabled": True,
    "default_template_sid": HJ,
    "verify_event_subscription_enabled": False,
    "push": {"include_date": False, "apn_credential_sid": None, "fcm_credential_sid": None},
    "totp": {"issuer": "Acme Inc", "time_step": 45, "code_length": 8, "skew": 2},
    "whatsapp": {"msg_service_sid": MG, "from": "+14155550100"},
    "passkeys": {
        "relying_party": {
            "id": "example.com",
            "name": "Example App",
            "origins": ["https://login.example.com", "https://www.example.com"],
        },
        "authenticator_attachment": "platform",
        "discoverable_credentials": "preferred",
        "user_verification": "required",
    },
}

LINKS = {
    "verification_checks": "VerificationCheck",
    "verifications": "Verifications",
    "rate_limits": "RateLimits",
    "messaging_configurations": "MessagingConfigurations",
    "entities": "Entities",
    "webhooks": "Webhooks",
    "access_tokens": "AccessTokens",
}


def error_of(action: Callable[[], object]) -> tuple[int, int]:
    """The (HTTP status, Twilio code) of the TwilioRestException `action` raises."""
    with pytest.raises(TwilioRestException) as caught:
        action()
    return caught.value.status, caught.value.code


def fields_of(service: Any) -> dict[str, Any]:
    return {name: getattr(service, name) for name in EVERY_FIELD}


@pytest.fixture
def server_url(api_server: ApiServer, redis_client: object) -> str:
    """The server's base URL, on a flushed Redis."""
    return api_server.url


def post(url: str, **params: Any) -> requests.Response:
    return requests.post(url, data=params, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)


# -- create and fetch ----------------------------------------------------------------------


def test_create_answers_201_with_the_service(twilio: Client, api_server: ApiServer) -> None:
    """A create answers 201 with a VA sid, the account and both dates."""
    before = datetime.now(UTC).replace(microsecond=0)
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert twilio.http_client._test_only_last_response.status_code == 201
    assert re.fullmatch(r"VA[0-9a-f]{32}", service.sid)
    assert service.account_sid == ACCOUNT_SID
    assert service.friendly_name == "Acme"
    assert isinstance(service.date_created, datetime)
    assert before <= service.date_created <= after
    assert service.date_updated == service.date_created


def test_create_echoes_every_sdk_parameter(twilio: Client) -> None:
    """Every parameter the SDK offers is answered by the create and read back by a fetch."""
    created = twilio.verify.v2.services.create(**EVERY_PARAMETER)
    assert fields_of(created) == EVERY_FIELD
    fetched = twilio.verify.v2.services(created.sid).fetch()
    assert fields_of(fetched) == EVERY_FIELD
    assert (fetched.sid, fetched.date_created) == (created.sid, created.date_created)


def test_create_applies_twilio_defaults(twilio: Client) -> None:
    """A service created with a name only has Twilio's defaults: code length 6, features off."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    assert service.code_length == 6
    assert not any(
        (
            service.lookup_enabled,
            service.skip_sms_to_landlines,
            service.dtmf_input_required,
            service.psd2_enabled,
            service.do_not_share_warning_enabled,
            service.custom_code_enabled,
            service.verify_event_subscription_enabled,
        )
    )
    assert service.totp == {"issuer": None, "time_step": None, "code_length": None, "skew": None}
    assert service.push == {
        "include_date": False,
        "apn_credential_sid": None,
        "fcm_credential_sid": None,
    }
    assert service.whatsapp == {"msg_service_sid": None, "from": None}
    assert (service.tts_name, service.default_template_sid) == (None, None)


def test_url_and_links_are_absolute(twilio: Client, api_server: ApiServer) -> None:
    """url and every link are absolute URLs on this server, under the service's URL."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    url = f"{api_server.url}/v2/Services/{service.sid}"
    assert service.url == url
    assert service.links == {name: f"{url}/{path}" for name, path in LINKS.items()}


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("x" * 31, "31 characters"),
        ("", "empty"),
        ("   ", "blank"),
        ("https://evil.example", "a URL"),
        ("www.evil.example", "a www link"),
        ("Acme http://x.io", "an embedded link"),
    ],
)
def test_invalid_friendly_name_is_rejected_with_60200(twilio: Client, name: str, why: str) -> None:
    """FriendlyName is 1-30 characters without links."""
    assert error_of(lambda: twilio.verify.v2.services.create(friendly_name=name)) == (
        400,
        60200,
    ), why


def test_friendly_name_of_30_characters_is_accepted(twilio: Client) -> None:
    """Thirty characters is the longest FriendlyName."""
    assert twilio.verify.v2.services.create(friendly_name="x" * 30).friendly_name == "x" * 30


@pytest.mark.parametrize("code_length", [3, 11, 0, -6])
def test_code_length_out_of_range_is_rejected_with_60200(twilio: Client, code_length: int) -> None:
    """CodeLength is 4-10 inclusive."""
    assert error_of(
        lambda: twilio.verify.v2.services.create(friendly_name="Acme", code_length=code_length)
    ) == (400, 60200)


@pytest.mark.parametrize("code_length", [4, 10])
def test_code_length_bounds_are_accepted(twilio: Client, code_length: int) -> None:
    """CodeLength 4 and 10 are both accepted."""
    service = twilio.verify.v2.services.create(friendly_name="Acme", code_length=code_length)
    assert service.code_length == code_length


@pytest.mark.parametrize(
    "params",
    [
        {"totp_time_step": 19},
        {"totp_time_step": 61},
        {"totp_code_length": 2},
        {"totp_code_length": 9},
        {"totp_skew": 3},
        {"totp_skew": -1},
    ],
)
def test_totp_settings_out_of_range_are_rejected_with_60200(
    twilio: Client, params: dict[str, int]
) -> None:
    """Totp.TimeStep is 20-60, Totp.CodeLength 3-8, Totp.Skew 0-2."""
    assert error_of(lambda: twilio.verify.v2.services.create(friendly_name="Acme", **params)) == (
        400,
        60200,
    )


@pytest.mark.parametrize(
    "sid",
    ["VA123", "VA" + "0" * 31, "XX" + "0" * 32, "va" + "0" * 32, "VA" + "G" * 32, "VA" + "A" * 32],
)
def test_fetch_of_a_malformed_sid_is_rejected_with_20404(twilio: Client, sid: str) -> None:
    """A sid that is not VA and 32 lower-case hex digits names no service (404/20404)."""
    assert error_of(twilio.verify.v2.services(sid).fetch) == (404, 20404)


def test_fetch_of_an_unknown_service_is_rejected_with_20404(twilio: Client) -> None:
    """A well-formed sid that names no service is 404/20404."""
    assert error_of(twilio.verify.v2.services("VA" + "0" * 32).fetch) == (404, 20404)


# -- update --------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields(twilio: Client) -> None:
    """An update changes the fields it names; every other field keeps its value."""
    created = twilio.verify.v2.services.create(**EVERY_PARAMETER)
    updated = twilio.verify.v2.services(created.sid).update(
        friendly_name="Renamed", code_length=5, psd2_enabled=False, totp_skew=0
    )
    expected = {
        **EVERY_FIELD,
        "friendly_name": "Renamed",
        "code_length": 5,
        "psd2_enabled": False,
        "totp": {**EVERY_FIELD["totp"], "skew": 0},
    }
    assert fields_of(updated) == expected
    fetched = twilio.verify.v2.services(created.sid).fetch()
    assert fields_of(fetched) == expected
    assert fetched.date_created == created.date_created
    assert fetched.date_updated >= fetched.date_created


def test_update_of_an_unknown_service_is_rejected_with_20404(twilio: Client) -> None:
    """Updating a service that does not exist is 404/20404."""
    assert error_of(
        lambda: twilio.verify.v2.services("VA" + "0" * 32).update(friendly_name="Acme")
    ) == (404, 20404)


@pytest.mark.parametrize(
    "params",
    [{"friendly_name": "x" * 31}, {"friendly_name": "www.evil.example"}, {"code_length": 11}],
)
def test_invalid_update_is_rejected_and_changes_nothing(
    twilio: Client, params: dict[str, Any]
) -> None:
    """An update with an invalid value is 400/60200 and leaves the service as it was."""
    created = twilio.verify.v2.services.create(friendly_name="Acme", code_length=8)
    service = twilio.verify.v2.services(created.sid)
    assert error_of(lambda: service.update(**params)) == (400, 60200)
    fetched = service.fetch()
    assert (fetched.friendly_name, fetched.code_length) == ("Acme", 8)


# -- delete --------------------------------------------------------------------------------


def test_delete_removes_the_service(twilio: Client) -> None:
    """A delete answers True (204); the service is then 404/20404, and so is a second delete."""
    created = twilio.verify.v2.services.create(friendly_name="Acme")
    service = twilio.verify.v2.services(created.sid)
    assert service.delete() is True
    assert twilio.http_client._test_only_last_response.status_code == 204
    assert error_of(service.fetch) == (404, 20404)
    assert error_of(service.delete) == (404, 20404)


def test_deleted_service_cannot_start_verifications(twilio: Client) -> None:
    """Starting a verification on a deleted service is 404/20404."""
    created = twilio.verify.v2.services.create(friendly_name="Acme")
    service = twilio.verify.v2.services(created.sid)
    service.delete()
    assert error_of(lambda: service.verifications.create(to="+14155552671", channel="sms")) == (
        404,
        20404,
    )


# -- the VerificationTtlSeconds extension ----------------------------------------------------


def test_verification_ttl_defaults_to_ten_minutes(server_url: str) -> None:
    """Without VerificationTtlSeconds a service keeps verifications 600 s, Twilio's lifetime."""
    response = post(f"{server_url}/v2/Services", FriendlyName="Acme")
    assert response.status_code == 201
    assert response.json()["verification_ttl_seconds"] == 600


@pytest.mark.parametrize("ttl", [60, 120, 86_400])
def test_verification_ttl_is_set_on_create(server_url: str, ttl: int) -> None:
    """VerificationTtlSeconds from 60 to 86400 is stored and echoed (form-encoded)."""
    response = post(f"{server_url}/v2/Services", FriendlyName="Acme", VerificationTtlSeconds=ttl)
    assert response.status_code == 201, response.text
    assert response.json()["verification_ttl_seconds"] == ttl
    fetched = requests.get(response.json()["url"], auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5).json()
    assert fetched["verification_ttl_seconds"] == ttl


def test_verification_ttl_is_changed_by_update(server_url: str) -> None:
    """An update with VerificationTtlSeconds changes it and nothing else."""
    created = post(f"{server_url}/v2/Services", FriendlyName="Acme", CodeLength=8).json()
    response = post(created["url"], VerificationTtlSeconds=300)
    assert response.status_code == 200, response.text
    assert response.json()["verification_ttl_seconds"] == 300
    assert (response.json()["friendly_name"], response.json()["code_length"]) == ("Acme", 8)


@pytest.mark.parametrize("ttl", ["59", "86401", "0", "-600", "ten"])
def test_verification_ttl_out_of_range_is_rejected_with_60200(server_url: str, ttl: str) -> None:
    """VerificationTtlSeconds outside 60-86400 (or not a number) is 400/60200."""
    response = post(f"{server_url}/v2/Services", FriendlyName="Acme", VerificationTtlSeconds=ttl)
    assert response.status_code == 400
    assert response.json()["code"] == 60200

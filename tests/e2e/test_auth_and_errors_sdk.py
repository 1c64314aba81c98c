"""Authentication, Twilio-shaped errors and request bodies, against the real server."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import twilio_client
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer

VA = "VA" + "0" * 32
VE = "VE" + "0" * 32
TO = "+14155552671"
AUTH = (ACCOUNT_SID, AUTH_TOKEN)

ROUTES = [
    ("POST", "/v2/Services"),
    ("GET", "/v2/Services"),
    ("GET", f"/v2/Services/{VA}"),
    ("POST", f"/v2/Services/{VA}"),
    ("DELETE", f"/v2/Services/{VA}"),
    ("POST", f"/v2/Services/{VA}/Verifications"),
    ("GET", f"/v2/Services/{VA}/Verifications/{VE}"),
    ("POST", f"/v2/Services/{VA}/Verifications/{VE}"),
    ("POST", f"/v2/Services/{VA}/VerificationCheck"),
    ("GET", "/v2/NoSuchResource"),
]


def twilio_error(code: int, status: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@pytest.fixture
def server_url(api_server: ApiServer, redis_client: object) -> str:
    """The server's base URL, on a flushed Redis."""
    return api_server.url


@pytest.fixture
def service_sid(server_url: str) -> str:
    """A service created with the account's credentials."""
    response = requests.post(
        f"{server_url}/v2/Services", data={"FriendlyName": "Acme"}, auth=AUTH, timeout=5
    )
    assert response.status_code == 201
    sid: str = response.json()["sid"]
    return sid


# -- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password"),
    [
        (ACCOUNT_SID, "wrong-auth-token-0123456789"),
        (ACCOUNT_SID, AUTH_TOKEN + "x"),
        (ACCOUNT_SID, ""),
        ("AC" + "f" * 32, AUTH_TOKEN),
        ("SK" + "0" * 32, AUTH_TOKEN),
    ],
    ids=["wrong token", "token with a suffix", "empty token", "other account", "unknown key"],
)
def test_wrong_credentials_are_rejected_with_20003(
    server_url: str, username: str, password: str
) -> None:
    """The SDK with credentials the server does not know gets 401/20003."""
    client = twilio_client(server_url, username, password)
    with pytest.raises(TwilioRestException) as caught:
        client.verify.v2.services.create(friendly_name="Acme")
    assert (caught.value.status, caught.value.code) == (401, 20003)


def test_missing_credentials_get_twilio_401_body(server_url: str) -> None:
    """Without Authorization the answer is 401, Twilio's 20003 body and a Basic challenge."""
    response = requests.get(f"{server_url}/v2/Services", timeout=5)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert response.json() == twilio_error(20003, 401, "Authenticate")


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {AUTH_TOKEN}",
        "Basic not-base64!",
        "Basic " + base64.b64encode(ACCOUNT_SID.encode()).decode(),
        "Basic " + base64.b64encode(f"{AUTH_TOKEN}:{ACCOUNT_SID}".encode()).decode(),
    ],
    ids=["bearer", "undecodable", "no password", "swapped"],
)
def test_malformed_authorization_is_rejected_with_20003(
    server_url: str, authorization: str
) -> None:
    """Anything but Basic with the account sid and token is 401/20003."""
    response = requests.get(
        f"{server_url}/v2/Services", headers={"Authorization": authorization}, timeout=5
    )
    assert response.status_code == 401
    assert response.json() == twilio_error(20003, 401, "Authenticate")


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_v2_route_requires_credentials(server_url: str, method: str, path: str) -> None:
    """No /v2 route, known or not, answers anything but 401/20003 without credentials."""
    response = requests.request(method, f"{server_url}{path}", timeout=5)
    assert response.status_code == 401
    assert response.json()["code"] == 20003


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_routes_need_no_credentials(server_url: str, path: str) -> None:
    """The health checks answer 200 without credentials."""
    response = requests.get(f"{server_url}{path}", timeout=5)
    assert response.status_code == 200


# -- routing errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/v2/NoSuchResource", "/v1/Services", f"/v2/Services/{VA}/NoSuchThing", "/"],
)
def test_unknown_route_is_rejected_with_20404(server_url: str, path: str) -> None:
    """An authenticated request to a route that does not exist gets Twilio's 404/20404 body."""
    response = requests.get(f"{server_url}{path}", auth=AUTH, timeout=5)
    assert response.status_code == 404
    assert response.json() == twilio_error(
        20404, 404, f"The requested resource {path} was not found"
    )


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v2/Services", {"GET", "POST"}),
        ("DELETE", "/v2/Services", {"GET", "POST"}),
        ("PATCH", f"/v2/Services/{VA}", {"GET", "POST", "DELETE"}),
        ("GET", f"/v2/Services/{VA}/VerificationCheck", {"POST"}),
        ("DELETE", f"/v2/Services/{VA}/Verifications/{VE}", {"GET", "POST"}),
    ],
)
def test_wrong_method_is_rejected_with_405(
    server_url: str, method: str, path: str, allowed: set[str]
) -> None:
    """A method the route does not offer is 405, a Twilio body (20004) and an Allow header."""
    response = requests.request(method, f"{server_url}{path}", auth=AUTH, timeout=5)
    assert response.status_code == 405
    assert response.json() == twilio_error(20004, 405, "Method not allowed")
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


# -- request bodies ------------------------------------------------------------------------


def test_json_body_creates_a_service(server_url: str) -> None:
    """A JSON object with Twilio's PascalCase keys works like the form body."""
    response = requests.post(
        f"{server_url}/v2/Services",
        json={"FriendlyName": "Acme", "CodeLength": 8, "DoNotShareWarningEnabled": True},
        auth=AUTH,
        timeout=5,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["friendly_name"], body["code_length"]) == ("Acme", 8)
    assert body["do_not_share_warning_enabled"] is True


def test_json_body_starts_and_checks_a_verification(
    server_url: str, service_sid: str, outbox: Outbox
) -> None:
    """Start and check accept JSON bodies with the same keys, and approve as usual."""
    started = requests.post(
        f"{server_url}/v2/Services/{service_sid}/Verifications",
        json={"To": TO, "Channel": "sms"},
        auth=AUTH,
        timeout=5,
    )
    assert started.status_code == 201, started.text
    sid = started.json()["sid"]
    checked = requests.post(
        f"{server_url}/v2/Services/{service_sid}/VerificationCheck",
        json={"VerificationSid": sid, "Code": outbox.last_code(sid)},
        auth=AUTH,
        timeout=5,
    )
    assert checked.status_code == 200, checked.text
    assert (checked.json()["status"], checked.json()["valid"]) == ("approved", True)


@pytest.mark.parametrize("body", ["{not json", '["FriendlyName", "Acme"]', '"Acme"', ""])
@pytest.mark.parametrize(
    "route",
    ["/v2/Services", "/v2/Services/{sid}/Verifications", "/v2/Services/{sid}/VerificationCheck"],
)
def test_malformed_json_body_is_rejected_with_60200(
    server_url: str, service_sid: str, route: str, body: str
) -> None:
    """A JSON body that is not a JSON object is 400/60200."""
    response = requests.post(
        server_url + route.format(sid=service_sid),
        data=body,
        headers={"Content-Type": "application/json"},
        auth=AUTH,
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["code"] == 60200


def test_unknown_parameters_are_ignored(server_url: str, outbox: Outbox) -> None:
    """Parameters the server does not know are ignored on create, start and check."""
    created = requests.post(
        f"{server_url}/v2/Services",
        data={"FriendlyName": "Acme", "Unknown": "x", "Sid": "VA" + "1" * 32},
        auth=AUTH,
        timeout=5,
    )
    assert created.status_code == 201, created.text
    service_sid = created.json()["sid"]
    assert service_sid != "VA" + "1" * 32
    started = requests.post(
        f"{server_url}/v2/Services/{service_sid}/Verifications",
        data={"To": TO, "Channel": "sms", "Unknown": "x", "Status": "approved"},
        auth=AUTH,
        timeout=5,
    )
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "pending"
    sid = started.json()["sid"]
    checked = requests.post(
        f"{server_url}/v2/Services/{service_sid}/VerificationCheck",
        data={"To": TO, "Code": outbox.last_code(sid), "Unknown": "x"},
        auth=AUTH,
        timeout=5,
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "approved"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"Channel": "sms"}, "To"),
        ({"To": TO}, "Channel"),
    ],
)
def test_missing_required_parameter_is_rejected_naming_it(
    server_url: str, service_sid: str, params: dict[str, str], parameter: str
) -> None:
    """A start without To or Channel is 400/60200 and the message names the parameter."""
    response = requests.post(
        f"{server_url}/v2/Services/{service_sid}/Verifications", data=params, auth=AUTH, timeout=5
    )
    assert response.status_code == 400
    assert response.json()["code"] == 60200
    assert parameter in response.json()["message"]


def test_errors_through_the_sdk_are_twilio_rest_exceptions(twilio: Client) -> None:
    """The SDK turns an error body into TwilioRestException with status, code and message."""
    with pytest.raises(TwilioRestException) as caught:
        twilio.verify.v2.services(VA).fetch()
    error = caught.value
    assert (error.status, error.code, error.method) == (404, 20404, "GET")
    assert f"/Services/{VA}" in error.msg

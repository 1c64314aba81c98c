"""HTTP Basic authentication with the account credentials; health checks stay open."""

from __future__ import annotations

import base64
import hmac

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, Api
from verify_service.application.access.access import AccountCredentials, Authenticator, Permission

WRONG_SID = "AC" + "fedcba9876543210" * 2
WRONG_TOKEN = "wrong-auth-token-0123456789"


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def assert_unauthenticated(response: object) -> None:
    """401 with Twilio's body (20003) and a Basic challenge."""
    assert response.status_code == 401  # type: ignore[attr-defined]
    body = response.json  # type: ignore[attr-defined]
    assert body["code"] == 20003
    assert body["status"] == 401
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20003"
    assert response.headers["WWW-Authenticate"].startswith("Basic")  # type: ignore[attr-defined]


ROUTES = [
    ("GET", "/v2/Services"),
    ("POST", "/v2/Services"),
    ("GET", "/v2/Services/VA" + "0" * 32),
    ("POST", "/v2/Services/VA" + "0" * 32 + "/Verifications"),
    ("POST", "/v2/Services/VA" + "0" * 32 + "/VerificationCheck"),
    ("GET", "/v2/Services/VA" + "0" * 32 + "/Verifications/VE" + "0" * 32),
    ("DELETE", "/v2/Services/VA" + "0" * 32),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_request_without_credentials_is_401(client: FlaskClient, method: str, path: str) -> None:
    """Every /v2 route needs credentials."""
    assert_unauthenticated(client.open(path, method=method))


@pytest.mark.parametrize(
    ("username", "password", "why"),
    [
        (ACCOUNT_SID, WRONG_TOKEN, "right sid, wrong token"),
        (WRONG_SID, AUTH_TOKEN, "wrong sid, right token"),
        (WRONG_SID, WRONG_TOKEN, "both wrong"),
        (ACCOUNT_SID, "", "right sid, empty token"),
        ("", AUTH_TOKEN, "empty sid, right token"),
        ("", "", "both empty"),
        (ACCOUNT_SID, AUTH_TOKEN[:-1], "token missing its last character"),
        (ACCOUNT_SID, AUTH_TOKEN + "x", "token with one character more"),
        (ACCOUNT_SID, AUTH_TOKEN.upper(), "token in another case"),
        (ACCOUNT_SID.upper(), AUTH_TOKEN, "sid in another case"),
        (AUTH_TOKEN, ACCOUNT_SID, "sid and token swapped"),
        (ACCOUNT_SID + ":" + AUTH_TOKEN, "", "everything in the user name"),
    ],
)
def test_wrong_or_partly_right_credentials_are_401(
    client: FlaskClient, username: str, password: str, why: str
) -> None:
    """Only the exact account sid and token pass."""
    response = client.get("/v2/Services", headers=basic(username, password))
    assert response.status_code == 401, why
    assert_unauthenticated(response)


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {AUTH_TOKEN}",
        f"Token {AUTH_TOKEN}",
        f'Digest username="{ACCOUNT_SID}", realm="verify-service", response="x"',
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(ACCOUNT_SID.encode()).decode(),  # no colon
        f"{ACCOUNT_SID}:{AUTH_TOKEN}",  # no scheme, not encoded
        "",
    ],
)
def test_other_schemes_and_malformed_headers_are_401(
    client: FlaskClient, authorization: str
) -> None:
    """Basic is the only scheme; a malformed header is no credential at all."""
    response = client.get("/v2/Services", headers={"Authorization": authorization})
    assert_unauthenticated(response)


def test_basic_scheme_name_is_case_insensitive(client: FlaskClient) -> None:
    """RFC 7617: `basic` and `Basic` are the same scheme."""
    token = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    response = client.get("/v2/Services", headers={"Authorization": f"basic {token}"})
    assert response.status_code == 200


def test_right_credentials_are_accepted(api: Api) -> None:
    """The account sid and token of the settings open the API."""
    response = api.get("/v2/Services")
    assert response.status_code == 200
    assert response.json["services"] == []  # type: ignore[index]


def test_unknown_route_without_credentials_is_401_not_404(client: FlaskClient) -> None:
    """An anonymous caller learns nothing about which routes exist."""
    assert_unauthenticated(client.get("/v2/NoSuchThing"))
    assert_unauthenticated(client.get("/admin"))


def test_unknown_route_with_credentials_is_404(api: Api) -> None:
    """An authenticated caller gets Twilio's 20404 for a route that does not exist."""
    response = api.get("/v2/NoSuchThing")
    assert response.status_code == 404
    assert response.json["code"] == 20404  # type: ignore[index]


def test_401_body_does_not_echo_the_credentials(client: FlaskClient) -> None:
    """A rejected token does not come back in the response."""
    response = client.get("/v2/Services", headers=basic(ACCOUNT_SID, WRONG_TOKEN))
    assert WRONG_TOKEN not in response.get_data(as_text=True)
    assert ACCOUNT_SID not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_need_no_credentials(client: FlaskClient, path: str) -> None:
    """Load balancers and orchestrators probe without secrets."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.json["status"] in {"ok", "ready"}  # type: ignore[index]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_ignore_wrong_credentials(client: FlaskClient, path: str) -> None:
    """A probe that happens to send a header is not refused."""
    assert client.get(path, headers=basic(WRONG_SID, WRONG_TOKEN)).status_code == 200


# -- the credential check itself ------------------------------------------------------------


def spy_on_compare_digest(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("verify_service.application.access.access.hmac.compare_digest", spy)
    return calls


@pytest.mark.parametrize(
    ("username", "password", "accepted"),
    [
        (ACCOUNT_SID, AUTH_TOKEN, True),
        (ACCOUNT_SID, WRONG_TOKEN, False),
        (WRONG_SID, AUTH_TOKEN, False),
        ("x", "y", False),
    ],
)
def test_account_credentials_compare_both_parts_with_compare_digest(
    monkeypatch: pytest.MonkeyPatch, username: str, password: str, accepted: bool
) -> None:
    """Constant time, and no early exit on a wrong sid: both parts are always compared."""
    calls = spy_on_compare_digest(monkeypatch)
    principal = AccountCredentials(ACCOUNT_SID, AUTH_TOKEN).verify(username, password)
    assert (principal is not None) is accepted
    assert calls == [
        (username.encode(), ACCOUNT_SID.encode()),
        (password.encode(), AUTH_TOKEN.encode()),
    ]


def test_authenticator_returns_the_admin_principal_for_the_account() -> None:
    """The account credentials act for the account, with every permission."""
    authenticator = Authenticator([AccountCredentials(ACCOUNT_SID, AUTH_TOKEN)])
    principal = authenticator.authenticate(ACCOUNT_SID, AUTH_TOKEN)
    assert principal is not None
    assert principal.account_sid == ACCOUNT_SID
    assert principal.role == "admin"
    assert all(principal.may(permission) for permission in Permission)
    assert authenticator.authenticate(ACCOUNT_SID, WRONG_TOKEN) is None


def test_authenticator_with_no_verifiers_accepts_nobody() -> None:
    """Fail closed: no configured credential, no access."""
    assert Authenticator([]).authenticate(ACCOUNT_SID, AUTH_TOKEN) is None


def test_non_ascii_credentials_are_refused_not_crashing(client: FlaskClient) -> None:
    """UTF-8 user names and passwords are compared like any other bytes."""
    response = client.get("/v2/Services", headers=basic("ÄC-ü", "tökén-ß"))
    assert_unauthenticated(response)

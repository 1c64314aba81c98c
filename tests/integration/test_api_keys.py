"""API keys over HTTP (`/v2/Keys`) and as credentials: the secret shown once and stored only
as a keyed hash, HTTP Basic `SK…:secret`, revocation on the next request, fail closed."""

from __future__ import annotations

import base64
import hmac
import logging
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, Api
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.application.access.access import Principal
from verify_service.application.access.api_keys import ApiKeyCredentials, ApiKeys
from verify_service.application.audit.ports import AuditEntry
from verify_service.domain.errors import NotFound
from verify_service.domain.keyring import Keyring
from verify_service.settings import Settings

ADMIN = Principal(ACCOUNT_SID, ACCOUNT_SID, "admin")


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def create_key(api: Api, role: str = "backend", name: str = "checkout") -> dict[str, Any]:
    response = api.post("/v2/Keys", FriendlyName=name, Role=role)
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def as_key(client: FlaskClient, key: dict[str, Any], method: str, path: str) -> TestResponse:
    return client.open(path, method=method, headers=basic(key["sid"], key["secret"]))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- create, list, fetch, revoke -------------------------------------------------------------


def test_create_answers_twilios_key_shape_with_the_secret_once(api: Api, clock: FixedClock) -> None:
    response = api.post("/v2/Keys", FriendlyName="checkout", Role="backend")
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None
    assert list(body) == [
        "sid",
        "friendly_name",
        "date_created",
        "date_updated",
        "secret",
        "role",
        "url",
    ]
    assert body["sid"].startswith("SK")
    assert len(body["sid"]) == 34
    assert body["friendly_name"] == "checkout"
    assert body["role"] == "backend"
    assert body["date_created"] == body["date_updated"] == "2026-09-21T14:13:20Z"
    assert body["url"] == f"https://verify.example.test/v2/Keys/{body['sid']}"
    assert len(body["secret"]) == 43  # 32 random bytes, base64url
    assert ":" not in body["secret"]


def test_the_secret_is_never_shown_again(api: Api) -> None:
    key = create_key(api)
    fetched = api.get(f"/v2/Keys/{key['sid']}").json
    listed = api.get("/v2/Keys").json
    assert fetched is not None
    assert listed is not None
    assert "secret" not in fetched
    assert fetched == {k: v for k, v in key.items() if k != "secret"}
    assert [record["sid"] for record in listed["keys"]] == [key["sid"]]
    assert key["secret"] not in api.get("/v2/Keys").get_data(as_text=True)


def test_redis_holds_only_a_keyed_digest_of_the_secret(
    api: Api, redis_client: redis.Redis, settings: Settings
) -> None:
    """HMAC-SHA256(k_api[k0], SHA-256(sid ‖ 0 ‖ secret)) and its key id: nothing in Redis
    contains the secret."""
    key = create_key(api)
    stored = redis_client.hgetall(f"it:{{keys}}:{key['sid']}")
    keyring = Keyring.from_secret(settings.secret_key)
    proof = keyring.api_key_proof(key["sid"], key["secret"])
    assert stored[b"h"] == keyring.api_key_mac("k0", proof)
    assert stored[b"k"] == b"k0"
    assert stored[b"p"] != proof
    assert stored[b"role"] == b"backend"
    secret = key["secret"].encode()
    for name in redis_client.scan_iter("*"):
        dumped = redis_client.dump(name) or b""
        assert secret not in dumped, name


def test_list_pages_oldest_first_in_twilios_envelope(api: Api) -> None:
    sids = [create_key(api, name=f"k{i}")["sid"] for i in range(3)]
    first = api.get("/v2/Keys?PageSize=2").json
    assert first is not None
    assert [k["sid"] for k in first["keys"]] == sids[:2]
    assert first["meta"]["key"] == "keys"
    assert first["meta"]["next_page_url"] == "https://verify.example.test/v2/Keys?PageSize=2&Page=1"
    second = api.get("/v2/Keys?PageSize=2&Page=1").json
    assert second is not None
    assert [k["sid"] for k in second["keys"]] == sids[2:]
    assert second["meta"]["next_page_url"] is None


def test_friendly_name_is_optional(api: Api) -> None:
    response = api.post("/v2/Keys", Role="support")
    assert response.status_code == 201
    assert response.json["friendly_name"] is None  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "Role"),
        ({"Role": "owner"}, "Role"),
        ({"Role": "Admin"}, "Role"),
        ({"Role": "admin", "FriendlyName": "x" * 65}, "FriendlyName"),
    ],
)
def test_a_bad_role_or_name_is_60200_naming_it(
    api: Api, params: dict[str, str], parameter: str
) -> None:
    response = api.post("/v2/Keys", **params)
    assert response.status_code == 400
    assert response.json["code"] == 60200  # type: ignore[index]
    assert parameter in response.json["message"]  # type: ignore[index]


@pytest.mark.parametrize("sid", ["SK" + "0" * 32, "SKnot-a-sid", "VA" + "0" * 32])
def test_fetch_or_revoke_of_no_such_key_is_20404(api: Api, sid: str) -> None:
    assert api.get(f"/v2/Keys/{sid}").status_code == 404
    response = api.client.delete(f"/v2/Keys/{sid}", headers=api.headers)
    assert response.status_code == 404
    assert response.json["code"] == 20404  # type: ignore[index]


# -- keys as credentials ---------------------------------------------------------------------


def test_a_key_authenticates_and_acts_for_the_account(api: Api, client: FlaskClient) -> None:
    """`account_sid` in answers is the account's AC sid, not the key's sid."""
    service_sid = api.create_service()
    key = create_key(api, "backend")
    response = as_key(client, key, "GET", f"/v2/Services/{service_sid}")
    assert response.status_code == 200
    assert response.json["account_sid"] == ACCOUNT_SID  # type: ignore[index]


def test_revocation_takes_effect_on_the_next_request(api: Api, client: FlaskClient) -> None:
    key = create_key(api, "admin")
    assert as_key(client, key, "GET", "/v2/Services").status_code == 200
    assert api.client.delete(f"/v2/Keys/{key['sid']}", headers=api.headers).status_code == 204
    response = as_key(client, key, "GET", "/v2/Services")
    assert response.status_code == 401
    assert response.json["code"] == 20003  # type: ignore[index]
    assert api.get("/v2/Keys").json["keys"] == []  # type: ignore[index]
    assert api.client.delete(f"/v2/Keys/{key['sid']}", headers=api.headers).status_code == 404


def test_revocation_reaches_every_app_process_at_once(
    api: Api, settings: Settings, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    """No process caches keys: a key revoked through one app is refused by another."""
    other = create_app(settings, providers=sender.as_providers()).test_client()
    key = create_key(api, "admin")
    assert as_key(other, key, "GET", "/v2/Services").status_code == 200
    api.client.delete(f"/v2/Keys/{key['sid']}", headers=api.headers)
    assert as_key(other, key, "GET", "/v2/Services").status_code == 401


def test_an_admin_key_may_manage_keys_and_revoke_itself(api: Api, client: FlaskClient) -> None:
    key = create_key(api, "admin")
    made = client.post(
        "/v2/Keys", data={"Role": "support"}, headers=basic(key["sid"], key["secret"])
    )
    assert made.status_code == 201
    assert as_key(client, key, "DELETE", f"/v2/Keys/{key['sid']}").status_code == 204
    assert as_key(client, key, "GET", "/v2/Keys").status_code == 401


@pytest.mark.parametrize(
    "why", ["wrong secret", "unknown sid", "another key's secret", "secret as user", "empty"]
)
def test_wrong_key_credentials_are_401(api: Api, client: FlaskClient, why: str) -> None:
    key, other = create_key(api), create_key(api)
    username, password = {
        "wrong secret": (
            key["sid"],
            key["secret"][:-1] + ("A" if key["secret"][-1] != "A" else "B"),
        ),
        "unknown sid": ("SK" + "f" * 32, key["secret"]),
        "another key's secret": (key["sid"], other["secret"]),
        "secret as user": (key["secret"], key["sid"]),
        "empty": (key["sid"], ""),
    }[why]
    response = client.get("/v2/Services", headers=basic(username, password))
    assert response.status_code == 401, why
    assert key["secret"] not in response.get_data(as_text=True)


def test_key_check_compares_in_constant_time_even_for_an_unknown_sid(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = app.extensions[CONTAINER_KEY]
    created = container.api_keys.create("k", "backend", ADMIN)
    verifier = next(
        v for v in container.authenticator._verifiers if isinstance(v, ApiKeyCredentials)
    )
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("verify_service.application.access.api_keys.hmac.compare_digest", spy)
    assert verifier.verify(created.key.sid, created.secret) is not None
    assert verifier.verify("SK" + "e" * 32, created.secret) is None
    assert len(calls) == 2


def test_only_sk_user_names_reach_redis(app: Flask) -> None:
    """The account credentials and anything not shaped like an SK sid are decided locally."""
    container = app.extensions[CONTAINER_KEY]
    seen: list[str] = []

    class Spy:
        def get(self, sid: str) -> None:
            seen.append(sid)

    verifier = ApiKeyCredentials(Spy(), Keyring.from_secret(b"k" * 32), ACCOUNT_SID)  # type: ignore[arg-type]
    for username in (ACCOUNT_SID, "SK", "sk" + "0" * 32, "SK" + "0" * 31, "", "VA" + "0" * 32):
        assert verifier.verify(username, AUTH_TOKEN) is None
    assert seen == []
    assert verifier.verify("SK" + "0" * 32, "x") is None
    assert seen == ["SK" + "0" * 32]
    assert container.authenticator.authenticate(ACCOUNT_SID, AUTH_TOKEN).role == "admin"


def test_secrets_are_not_logged(
    api: Api, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = create_key(api, "support")
    as_key(client, key, "GET", "/v2/Services")
    api.client.delete(f"/v2/Keys/{key['sid']}", headers=api.headers)
    assert key["sid"] in caplog.text
    assert key["secret"] not in caplog.text


# -- fail closed -----------------------------------------------------------------------------


@pytest.fixture
def app_without_redis(settings: Settings, clock: FixedClock) -> Flask:
    """Redis on a port nobody listens on."""
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    return create_app(settings, clock=clock, redis_client=dead)


def test_redis_down_during_key_auth_is_503_not_401(app_without_redis: Flask) -> None:
    client = app_without_redis.test_client()
    response = client.get("/v2/Services", headers=basic("SK" + "0" * 32, "any-secret"))
    assert response.status_code == 503
    assert response.json["code"] == 20503  # type: ignore[index]
    assert response.headers["Retry-After"] == "1"
    assert "any-secret" not in response.get_data(as_text=True)


def test_redis_down_does_not_turn_wrong_account_credentials_into_503(
    app_without_redis: Flask,
) -> None:
    """Account credentials are checked without Redis: a wrong token is still 401."""
    client = app_without_redis.test_client()
    assert client.get("/v2/Services", headers=basic(ACCOUNT_SID, "wrong")).status_code == 401


# -- audit -----------------------------------------------------------------------------------


class RecordingAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


def test_each_change_is_audited_without_the_secret(app: Flask, clock: FixedClock) -> None:
    container = app.extensions[CONTAINER_KEY]
    audit = RecordingAudit()
    keys = ApiKeys(container.api_keys._store, Keyring.from_secret(b"k" * 32), clock, audit)
    actor = Principal(ACCOUNT_SID, "SK" + "a" * 32, "admin")
    created = keys.create("k", "support", actor)
    keys.revoke(created.key.sid, actor)
    with pytest.raises(NotFound):
        keys.revoke(created.key.sid, actor)
    now = clock.now_ms()
    assert audit.entries == [
        AuditEntry("SK" + "a" * 32, "admin", "keys.create", created.key.sid, "ok", now),
        AuditEntry("SK" + "a" * 32, "admin", "keys.revoke", created.key.sid, "ok", now),
        AuditEntry("SK" + "a" * 32, "admin", "keys.revoke", created.key.sid, "not_found", now),
    ]
    assert all(created.secret not in repr(entry) for entry in audit.entries)

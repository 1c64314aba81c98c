"""API keys through the official twilio SDK against the real server: `Client(SK…, secret,
account_sid=AC…)` exactly as with Twilio, each role's 403s in Twilio's 20003 shape, and a
revoked key refused (401) on the very next request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import twilio_client
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer

TO = "+14155552671"
AUTH = (ACCOUNT_SID, AUTH_TOKEN)


def error_of(action: Callable[[], object]) -> tuple[int, int]:
    """The (HTTP status, Twilio code) of the error `action` raises: a TwilioRestException,
    or for a list (the SDK's pages raise a bare TwilioException) the response it carries."""
    with pytest.raises(TwilioException) as caught:
        action()
    if isinstance(caught.value, TwilioRestException):
        return caught.value.status, caught.value.code
    _message, response = caught.value.args
    return response.status_code, json.loads(response.text)["code"]


@pytest.fixture
def server_url(api_server: ApiServer, redis_client: object) -> str:
    """The server's base URL, on a flushed Redis."""
    return api_server.url


@pytest.fixture
def service_sid(twilio: Client) -> str:
    sid: str = twilio.verify.v2.services.create(friendly_name="Acme").sid
    return sid


def create_key(server_url: str, role: str) -> dict[str, Any]:
    response = requests.post(
        f"{server_url}/v2/Keys",
        data={"FriendlyName": f"{role} key", "Role": role},
        auth=AUTH,
        timeout=5,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def key_client(server_url: str, role: str) -> tuple[Client, dict[str, Any]]:
    key = create_key(server_url, role)
    return twilio_client(server_url, key["sid"], key["secret"]), key


def test_backend_key_runs_verifications_and_reads_services(
    server_url: str, service_sid: str, outbox: Outbox
) -> None:
    client, _ = key_client(server_url, "backend")
    service = client.verify.v2.services(service_sid)

    fetched = service.fetch()
    assert fetched.sid == service_sid
    assert fetched.account_sid == ACCOUNT_SID  # the account, not the key
    assert [s.sid for s in client.verify.v2.services.list()] == [service_sid]

    started = service.verifications.create(to=TO, channel="sms")
    assert started.status == "pending"
    assert started.account_sid == ACCOUNT_SID
    assert service.verifications(started.sid).fetch().status == "pending"
    check = service.verification_checks.create(to=TO, code=outbox.last_code(started.sid))
    assert (check.status, check.valid) == ("approved", True)

    second = service.verifications.create(to=TO, channel="sms")
    canceled = service.verifications(second.sid).update(status="canceled")
    assert canceled.status == "canceled"


def test_backend_key_may_not_change_services(server_url: str, service_sid: str) -> None:
    client, _ = key_client(server_url, "backend")
    services = client.verify.v2.services
    assert error_of(lambda: services.create(friendly_name="Nope")) == (403, 20003)
    assert error_of(lambda: services(service_sid).update(friendly_name="Nope")) == (403, 20003)
    assert error_of(lambda: services(service_sid).delete()) == (403, 20003)
    assert error_of(services(service_sid).rate_limits.list) == (403, 20003)


def test_support_key_resends_looks_up_and_cancels_but_never_checks(
    server_url: str, service_sid: str, outbox: Outbox
) -> None:
    client, _ = key_client(server_url, "support")
    service = client.verify.v2.services(service_sid)

    # A support key never creates a verification: the backend starts it, support resends.
    assert error_of(lambda: service.verifications.create(to=TO, channel="sms")) == (404, 20404)
    account = twilio_client(server_url).verify.v2.services(service_sid)
    first = account.verifications.create(to=TO, channel="sms")
    resent = service.verifications.create(to=TO, channel="sms")  # a resend: same VE sid
    assert resent.sid == first.sid
    assert len(resent.send_code_attempts) == 2
    assert resent.to != TO  # masked for support
    assert service.verifications(first.sid).fetch().status == "pending"

    code = outbox.last_code(first.sid)
    assert error_of(lambda: service.verification_checks.create(to=TO, code=code)) == (403, 20003)
    assert error_of(lambda: service.verifications(first.sid).update(status="approved")) == (
        403,
        20003,
    )
    assert error_of(service.fetch) == (403, 20003)
    assert error_of(client.verify.v2.services.list) == (403, 20003)
    assert error_of(lambda: client.verify.v2.services.create(friendly_name="x")) == (403, 20003)

    assert service.verifications(first.sid).update(status="canceled").status == "canceled"


def test_support_key_may_not_steer_a_resend(
    server_url: str, service_sid: str, outbox: Outbox
) -> None:
    """A support resend takes To and Channel only: AppHash (which app reads the code), Locale
    or a custom message through the SDK are 403/20003, and nothing more is sent."""
    client, _ = key_client(server_url, "support")
    service = client.verify.v2.services(service_sid)
    first = (
        twilio_client(server_url)
        .verify.v2.services(service_sid)
        .verifications.create(to=TO, channel="sms")
    )
    for steer in ({"app_hash": "AbCdEfGhIj1"}, {"locale": "fr"}, {"custom_message": "hi"}):
        refused = error_of(
            lambda steer=steer: service.verifications.create(to=TO, channel="sms", **steer)
        )
        assert refused == (403, 20003), steer
    assert len(outbox.messages_for(first.sid)) == 1
    assert service.verifications.create(to=TO, channel="call").sid == first.sid


def test_a_403_has_twilios_body(server_url: str, service_sid: str) -> None:
    key = create_key(server_url, "support")
    response = requests.get(
        f"{server_url}/v2/Services/{service_sid}", auth=(key["sid"], key["secret"]), timeout=5
    )
    assert response.status_code == 403
    assert response.json() == {
        "code": 20003,
        "message": "Permission Denied",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 403,
    }


def test_a_revoked_key_is_401_on_the_next_request(server_url: str, service_sid: str) -> None:
    """Two gunicorn workers, no cache: whichever takes the next request refuses the key."""
    client, key = key_client(server_url, "admin")
    assert client.verify.v2.services(service_sid).fetch().sid == service_sid
    revoked = requests.delete(f"{server_url}/v2/Keys/{key['sid']}", auth=AUTH, timeout=5)
    assert revoked.status_code == 204
    for _ in range(4):  # more requests than workers
        assert error_of(client.verify.v2.services(service_sid).fetch) == (401, 20003)


def test_a_wrong_secret_is_401(server_url: str) -> None:
    key = create_key(server_url, "admin")
    client = twilio_client(server_url, key["sid"], key["secret"][::-1])
    assert error_of(client.verify.v2.services.list) == (401, 20003)

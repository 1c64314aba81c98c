"""Nothing accepted and ignored: every parameter docs/parameters.md marks `refused` is sent
(off its default) to the real server over HTTP, and answered with a Twilio-shaped error that
names it, Redis left byte-for-byte unchanged.

The spec is driven by the table: a row marked `refused` without a value below fails
`test_every_refused_row_is_sent`, so a new refusal cannot be documented untested. The
Twilio SDK sends the same form fields (its `create(push_apn_credential_sid=…)` is the
`Push.ApnCredentialSid` field); raw requests reach the few parameters no SDK method offers
(a list's `PageToken`, a push factor's `Config.*` on a TOTP factor)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.e2e.conftest import twilio_client
from tests.support.clocked_server import ClockedServer
from tests.support.fakes import FixedClock
from tests.support.parameters_table import rows
from tests.support.processes import RedisServer
from verify_service.settings import Settings

PREFIX = "paramspec"  # this server's keys: "Redis unchanged" compares only these
TO = "+14155552671"
PUBLIC_URL = "https://93.184.216.34/hooks/verify"  # a public address: no DNS involved
ERROR_KEYS = {"code", "message", "more_info", "status"}

# (operation, parameter) of every `refused` row -> a value off the default. The table
# decides which rows are here (test_every_refused_row_is_sent).
REFUSED: dict[tuple[str, str], str] = {
    ("CreateService", "Push.IncludeDate"): "true",
    ("CreateService", "Push.ApnCredentialSid"): "CR" + "a" * 32,
    ("CreateService", "Push.FcmCredentialSid"): "CR" + "b" * 32,
    ("CreateService", "VerifyEventSubscriptionEnabled"): "true",
    ("UpdateService", "Push.IncludeDate"): "true",
    ("UpdateService", "Push.ApnCredentialSid"): "CR" + "a" * 32,
    ("UpdateService", "Push.FcmCredentialSid"): "CR" + "b" * 32,
    ("UpdateService", "VerifyEventSubscriptionEnabled"): "true",
    ("CreateService", "DtmfInputRequired"): "true",
    ("UpdateService", "DtmfInputRequired"): "true",
    ("CreateVerification", "CustomMessage"): "Your code is {code}",
    ("CreateVerification", "EnableSnaClientToken"): "true",
    ("CreateVerificationCheck", "SnaClientToken"): "sna-token",
    ("CreateNewFactor", "Binding.Alg"): "ES256",
    ("CreateNewFactor", "Binding.PublicKey"): "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
    ("CreateNewFactor", "Config.AppId"): "com.example.app",
    ("CreateNewFactor", "Config.NotificationPlatform"): "fcm",
    ("CreateNewFactor", "Config.NotificationToken"): "token",
    ("CreateNewFactor", "Config.SdkVersion"): "1.0.0",
    ("UpdateFactor", "Config.NotificationToken"): "token",
    ("UpdateFactor", "Config.SdkVersion"): "1.0.0",
    ("UpdateFactor", "Config.NotificationPlatform"): "apn",
    ("ListService", "PageToken"): "PT1",
    ("ListRateLimit", "PageToken"): "PT1",
    ("ListBucket", "PageToken"): "PT1",
    ("ListEntity", "PageToken"): "PT1",
    ("ListFactor", "PageToken"): "PT1",
    ("ListChallenge", "PageToken"): "PT1",
    ("ListWebhook", "PageToken"): "PT1",
    ("ListKey", "PageToken"): "PT1",
    ("ListVerificationTemplate", "PageToken"): "PT1",
    ("ListMessagingConfiguration", "PageToken"): "PT1",
}
# Rows that take effect but refuse one value: the same proof for that value.
REFUSED_VALUES: dict[tuple[str, str], str] = {
    ("CreateWebhook", "Version"): "v1",
    ("UpdateWebhook", "Version"): "v1",
}
# The defaults an SDK sends when the caller sets nothing: accepted.
DEFAULTS: dict[tuple[str, str], str] = {
    ("CreateService", "Push.IncludeDate"): "false",
    ("CreateService", "VerifyEventSubscriptionEnabled"): "false",
    ("CreateVerification", "EnableSnaClientToken"): "false",
    ("CreateService", "DtmfInputRequired"): "false",
}


@dataclass(frozen=True, slots=True)
class World:
    """One of each resource a refused parameter can be sent to."""

    service: str
    identity: str
    factor: str
    rate_limit: str
    webhook: str

    def request(self, operation: str) -> tuple[str, str, dict[str, str]]:
        """(method, path under /v2, the operation's valid parameters)."""
        service = f"/Services/{self.service}"
        entity = f"{service}/Entities/{self.identity}"
        return {
            "CreateService": ("POST", "/Services", {"FriendlyName": "Acme"}),
            "UpdateService": ("POST", service, {}),
            "ListService": ("GET", "/Services", {}),
            "CreateVerification": (
                "POST",
                f"{service}/Verifications",
                {"To": TO, "Channel": "sms"},
            ),
            "CreateVerificationCheck": (
                "POST",
                f"{service}/VerificationCheck",
                {"To": TO, "Code": "123456"},
            ),
            "CreateNewFactor": (
                "POST",
                f"{entity}/Factors",
                {"FriendlyName": "Phone", "FactorType": "totp"},
            ),
            "UpdateFactor": ("POST", f"{entity}/Factors/{self.factor}", {}),
            "ListRateLimit": ("GET", f"{service}/RateLimits", {}),
            "ListBucket": ("GET", f"{service}/RateLimits/{self.rate_limit}/Buckets", {}),
            "ListEntity": ("GET", f"{service}/Entities", {}),
            "ListFactor": ("GET", f"{entity}/Factors", {}),
            "ListChallenge": ("GET", f"{entity}/Challenges", {}),
            "ListWebhook": ("GET", f"{service}/Webhooks", {}),
            "ListKey": ("GET", "/Keys", {}),
            "ListVerificationTemplate": ("GET", "/Templates", {}),
            "ListMessagingConfiguration": ("GET", f"{service}/MessagingConfigurations", {}),
            "CreateWebhook": (
                "POST",
                f"{service}/Webhooks",
                {"FriendlyName": "Owl", "EventTypes": "*", "WebhookUrl": PUBLIC_URL},
            ),
            "UpdateWebhook": ("POST", f"{service}/Webhooks/{self.webhook}", {}),
        }[operation]


@pytest.fixture(scope="module")
def server(redis_server: RedisServer) -> Iterator[ClockedServer]:
    settings = Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        secret_key=SECRET_KEY.encode(),
        redis_url=redis_server.url,
        key_prefix=PREFIX,
    )
    started = ClockedServer(settings, FixedClock()).start()
    yield started
    started.stop()


@pytest.fixture
def client(server: ClockedServer, redis_client: redis.Redis) -> Client:
    """The official SDK on this module's server, Redis flushed."""
    return twilio_client(server.url)


@pytest.fixture
def world(client: Client) -> World:
    service = client.verify.v2.services.create(friendly_name="Acme")
    handle = client.verify.v2.services(service.sid)
    handle.verifications.create(to=TO, channel="sms")
    identity = "user-0001-abcd"
    factor = handle.entities(identity).new_factors.create(friendly_name="Phone", factor_type="totp")
    rate_limit = handle.rate_limits.create(unique_name="ip")
    webhook = handle.webhooks.create(friendly_name="Owl", event_types=["*"], webhook_url=PUBLIC_URL)
    return World(service.sid, identity, factor.sid, rate_limit.sid, webhook.sid)


def snapshot(client: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key of this server but the audit log (admin calls, refused ones too, are
    recorded there by design), with its serialized value."""
    return {
        key: client.dump(key)
        for key in sorted(client.scan_iter(match=f"{PREFIX}:*"))
        if not key.startswith(f"{PREFIX}:{{audit}}:".encode())
    }


def send(
    server: ClockedServer, world: World, operation: str, extra: dict[str, str]
) -> requests.Response:
    method, path, valid = world.request(operation)
    params = {**valid, **extra}
    return requests.request(
        method,
        f"{server.url}/v2{path}",
        data=params if method == "POST" else None,
        params=params if method == "GET" else None,
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )


def twilio_error(response: requests.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == response.status_code, body
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}", body
    return body


def test_every_refused_row_is_sent() -> None:
    """The table decides: each `refused` row has a value here, and nothing here is not one."""
    refused = {key for key, row in rows().items() if row.status == "refused"}
    assert refused == set(REFUSED)


CASES = [
    pytest.param(op, name, value, id=f"{op}.{name}")
    for (op, name), value in {**REFUSED, **REFUSED_VALUES}.items()
]


@pytest.mark.parametrize(("operation", "parameter", "value"), CASES)
def test_a_refused_parameter_is_a_twilio_error_naming_it_and_redis_is_unchanged(
    server: ClockedServer,
    world: World,
    redis_client: redis.Redis,
    operation: str,
    parameter: str,
    value: str,
) -> None:
    before = snapshot(redis_client)
    response = send(server, world, operation, {parameter: value})
    assert 400 <= response.status_code < 500, response.text
    body = twilio_error(response)
    assert body["code"] in (60200, 60204, 60306), body
    assert parameter in body["message"], body
    assert snapshot(redis_client) == before


FACTOR_CASES = [
    pytest.param(op, name, value, id=f"{op}.{name}")
    for (op, name), value in REFUSED.items()
    if op in ("CreateNewFactor", "UpdateFactor")
]


@pytest.mark.parametrize(("operation", "parameter", "value"), FACTOR_CASES)
def test_a_push_factor_setting_is_60306_naming_it_and_nothing_is_stored(
    server: ClockedServer,
    world: World,
    redis_client: redis.Redis,
    operation: str,
    parameter: str,
    value: str,
) -> None:
    """On the MFA routes Twilio's code is 60306 (`Invalid request: Config.AppId (…)`)."""
    before = snapshot(redis_client)
    response = send(server, world, operation, {parameter: value})
    body = twilio_error(response)
    assert (response.status_code, body["code"]) == (400, 60306)
    assert body["message"].startswith(f"Invalid request: {parameter} ("), body
    assert "push" in body["message"]
    assert snapshot(redis_client) == before


@pytest.mark.parametrize(
    ("operation", "parameter"),
    [key for key in REFUSED if key[1] == "PageToken"],
    ids=lambda value: value,
)
def test_a_page_token_on_a_list_that_hands_out_none_is_60200(
    server: ClockedServer, world: World, operation: str, parameter: str
) -> None:
    """These lists page by `Page` (their next_page_url carries no token): one given is not
    theirs, and the SDK's own paging, which follows next_page_url, never sends one."""
    response = send(server, world, operation, {parameter: "PT1"})
    body = twilio_error(response)
    assert (response.status_code, body["code"]) == (400, 60200)
    assert body["message"].startswith(f"Invalid parameter: {parameter} (")
    assert send(server, world, operation, {}).status_code == 200


def test_the_defaults_an_sdk_sends_are_accepted(server: ClockedServer, world: World) -> None:
    """`false` is what a caller that sets nothing sends: never refused."""
    for (operation, parameter), value in DEFAULTS.items():
        response = send(server, world, operation, {parameter: value})
        assert response.status_code == 201, (operation, parameter, response.text)


def test_the_sdk_meets_the_refusals(client: Client, world: World) -> None:
    """Through the official SDK: a TwilioRestException with the code and the parameter."""
    cases = [
        lambda: client.verify.v2.services.create(friendly_name="Acme", push_include_date=True),
        lambda: client.verify.v2.services(world.service).update(
            push_apn_credential_sid="CR" + "a" * 32
        ),
        lambda: client.verify.v2.services(world.service).update(
            verify_event_subscription_enabled=True
        ),
        lambda: client.verify.v2.services(world.service).verifications.create(
            to=TO, channel="sms", custom_message="hi"
        ),
        lambda: client.verify.v2.services(world.service).verifications.create(
            to=TO, channel="sms", enable_sna_client_token=True
        ),
        lambda: client.verify.v2.services(world.service).verification_checks.create(
            to=TO, code="123456", sna_client_token="t"
        ),
    ]
    names = [
        "Push.IncludeDate",
        "Push.ApnCredentialSid",
        "VerifyEventSubscriptionEnabled",
        "CustomMessage",
        "EnableSnaClientToken",
        "SnaClientToken",
    ]
    for action, name in zip(cases, names, strict=True):
        with pytest.raises(TwilioRestException) as caught:
            action()
        assert (caught.value.status, caught.value.code) == (403, 60204), name
        assert name in str(caught.value.msg), name


def test_amount_or_payee_without_psd2_is_refused_on_start_and_check(
    server: ClockedServer, world: World, redis_client: redis.Redis
) -> None:
    """Without `Psd2Enabled` the terms would be shown nowhere and checked by nothing: 60204
    naming the one given, on a start and on a check; nothing is stored or counted."""
    for operation in ("CreateVerification", "CreateVerificationCheck"):
        for parameter, value in (("Amount", "€39.99"), ("Payee", "Acme Bank")):
            before = snapshot(redis_client)
            response = send(server, world, operation, {parameter: value})
            body = twilio_error(response)
            assert (response.status_code, body["code"]) == (403, 60204), body
            assert parameter in body["message"], body
            assert snapshot(redis_client) == before, (operation, parameter)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/Services/{service}/AccessTokens"),
        ("GET", "/v2/Services/{service}/AccessTokens/YK" + "0" * 32),
        ("GET", "/v2/Forms/form-push"),
        ("POST", "/v2/Services/{service}/Entities/{identity}/Challenges/{challenge}/Notifications"),
    ],
)
def test_operations_not_offered_are_20404(
    server: ClockedServer, world: World, redis_client: redis.Redis, method: str, path: str
) -> None:
    """Access tokens and notifications are for push factors, Forms for the push SDK's
    screens: none is offered, each is Twilio's 404 and changes nothing."""
    before = snapshot(redis_client)
    url = server.url + path.format(
        service=world.service, identity=world.identity, challenge="YC" + "0" * 32
    )
    response = requests.request(
        method,
        url,
        data={"Identity": world.identity, "FactorType": "push", "Ttl": "60"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )
    body = twilio_error(response)
    assert (response.status_code, body["code"]) == (404, 20404)
    assert snapshot(redis_client) == before


# A refused value behind an accepted one in a repeated form key: (operation, parameter,
# the accepted value sent first, the refused value sent after it).
REPEATED = [
    ("CreateService", "Push.IncludeDate", "false", "true"),
    ("UpdateService", "VerifyEventSubscriptionEnabled", "false", "true"),
    ("UpdateService", "DtmfInputRequired", "false", "true"),
    ("CreateVerification", "EnableSnaClientToken", "false", "true"),
    ("UpdateWebhook", "Version", "v2", "v1"),
]


@pytest.mark.parametrize(("operation", "parameter", "accepted", "refused"), REPEATED)
def test_a_refused_value_repeated_after_an_accepted_one_is_60200(
    server: ClockedServer,
    world: World,
    redis_client: redis.Redis,
    operation: str,
    parameter: str,
    accepted: str,
    refused: str,
) -> None:
    """`EnableSnaClientToken=false&EnableSnaClientToken=true` meant something the first value
    alone does not say: a key given twice with different values is 60200 naming it, never
    the first value kept and the other ignored."""
    method, path, valid = world.request(operation)
    before = snapshot(redis_client)
    response = requests.request(
        method,
        f"{server.url}/v2{path}",
        data=[*valid.items(), (parameter, accepted), (parameter, refused)],
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )
    body = twilio_error(response)
    assert (response.status_code, body["code"]) == (400, 60200), body
    assert body["message"].startswith(f"Invalid parameter: {parameter} ("), body
    assert snapshot(redis_client) == before


def test_amount_or_payee_without_psd2_says_what_to_do(client: Client, world: World) -> None:
    """A client that always sends the terms breaks on a service without PSD2: the error
    says how to mend it (enable Psd2Enabled, or send neither). A verification started
    before the service enabled PSD2 has no terms to check: the check says so, rather than
    that the service has not enabled it."""
    handle = client.verify.v2.services(world.service)
    with pytest.raises(TwilioRestException) as started:
        handle.verifications.create(to=TO, channel="sms", amount="€39.99", payee="Acme Bank")
    assert started.value.code == 60204
    assert "enable Psd2Enabled or send neither Amount nor Payee" in str(started.value.msg)
    handle.update(psd2_enabled=True)
    with pytest.raises(TwilioRestException) as checked:
        handle.verification_checks.create(to=TO, code="123456", amount="€39.99", payee="Acme Bank")
    assert checked.value.code == 60204
    message = str(checked.value.msg)
    assert "Service does not support this feature: Amount (" in message, message
    assert "started without Amount and Payee" in message, message
    assert "has not enabled" not in message, message


@pytest.mark.parametrize(
    ("operation", "parameter", "first", "second"),
    [
        ("ListService", "PageSize", "1", "50"),
        ("ListWebhook", "Page", "0", "1"),
        ("ListChallenge", "Status", "pending", "approved"),
        ("ListVerificationTemplate", "FriendlyName", "a", "b"),
    ],
)
def test_a_query_parameter_given_twice_with_different_values_is_60200(
    server: ClockedServer,
    world: World,
    operation: str,
    parameter: str,
    first: str,
    second: str,
) -> None:
    """`Status=pending&Status=approved` on a list filtered by the first value alone would
    ignore the second: 60200 naming it, as on a form body."""
    method, path, _ = world.request(operation)
    response = requests.request(
        method,
        f"{server.url}/v2{path}",
        params=[(parameter, first), (parameter, second)],
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )
    body = twilio_error(response)
    assert (response.status_code, body["code"]) == (400, 60200), body
    assert body["message"].startswith(f"Invalid parameter: {parameter} ("), body

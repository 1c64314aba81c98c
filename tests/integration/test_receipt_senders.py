"""Delivery receipts are checked against the account that sent the attempt, not against every
account of the kind: one deployment may hold several Twilio accounts (the global SMS list on
account A, a per-country route on account B), and the holder of one account's token must not
mark another account's messages delivered or failed (which also drives channel fallback).

Real Redis, the app's worker, two stand-in Twilio gateways on loopback (one per account); the
receipts are signed the Twilio way with the `twilio` library's `RequestValidator`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

from tests.conftest import ACCOUNT_SID, deliver_queued
from tests.integration.test_template_starts import snapshot
from tests.support.fakes import FixedClock
from tests.support.flask_sdk import sdk_client
from tests.support.standin_http import StandinHttp
from verify_service.adapters.delivery.providers.registry import (
    ManagedProvider,
    build_providers,
    close_providers,
    parse_provider_list,
)
from verify_service.adapters.delivery.providers.routes import (
    close_route_providers,
    parse_routes,
    providers_by_route,
)
from verify_service.adapters.delivery.receipts import sender_of_config
from verify_service.app import CONTAINER_KEY, build_container, create_app
from verify_service.domain.models import Channel
from verify_service.settings import Settings

PUBLIC = "https://verify.example.test"
A_SID, A_TOKEN = "AC" + "a1" * 16, "account-a-token-0123456789abcdef"
B_SID, B_TOKEN = "AC" + "b2" * 16, "account-b-token-0123456789abcdef"
ROUTE = "MG" + "1" * 32
IN_MOBILE = "+919876543210"  # routed: account B
US_MOBILE = "+14155552671"  # the global list: account A


@dataclasses.dataclass
class Deployment:
    app: Flask
    client: FlaskClient
    redis: redis.Redis
    a: StandinHttp
    b: StandinHttp

    @property
    def container(self) -> Any:
        return self.app.extensions[CONTAINER_KEY]


def dsn(sid: str, token: str, gateway: StandinHttp, sender: str) -> str:
    return f"twilio+http://{sid}:{token}@{gateway.netloc}?from={sender}&timeout=2"


@pytest.fixture
def deployment(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock
) -> Iterator[Deployment]:
    """The global SMS list on account A, the `india` route's on account B."""
    with (
        StandinHttp(twilio_credentials=(A_SID, A_TOKEN)) as a,
        StandinHttp(twilio_credentials=(B_SID, B_TOKEN)) as b,
    ):
        routes = parse_routes(
            {"routes": {"india": {"sid": ROUTE, "sms": dsn(B_SID, B_TOKEN, b, "+15005550002")}}}
        )
        configured = dataclasses.replace(
            settings,
            public_url=PUBLIC,
            sms_providers=parse_provider_list(Channel.SMS, dsn(A_SID, A_TOKEN, a, "+15005550001")),
            routes=routes,
        )
        providers: dict[Channel, list[ManagedProvider]] = {
            channel: build_providers(channel, configured.providers_for(channel))
            for channel in Channel
        }
        route_providers = providers_by_route(routes, None)
        container = build_container(
            configured, clock=clock, providers=providers, redis_client=redis_client
        )
        container = dataclasses.replace(container, route_providers=route_providers)
        app = create_app(configured, container=container)
        try:
            yield Deployment(app, app.test_client(), redis_client, a, b)
        finally:
            close_route_providers(route_providers)
            close_providers(providers)


def send(deployment: Deployment, to: str, deliver: bool = True) -> str:
    """Start an SMS verification (India through the route) and deliver it; its attempt sid."""
    sdk = sdk_client(deployment.client)
    service = sdk.verify.v2.services.create(friendly_name="Acme")
    sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=ROUTE
    )
    verification = sdk.verify.v2.services(service.sid).verifications.create(to=to, channel="sms")
    if deliver:
        deliver_queued(deployment.app)
    attempt_sid: str = verification.send_code_attempts[-1]["attempt_sid"]
    return attempt_sid


def receipt(
    deployment: Deployment,
    attempt_sid: str,
    token: str,
    account: str | None,
    message_sid: str,
    status: str = "delivered",
) -> int:
    """Post a Twilio StatusCallback for the attempt, signed with `token`; the HTTP status."""
    url = f"{PUBLIC}/v2/DeliveryReceipts/Twilio/{attempt_sid}"
    params = {"MessageSid": message_sid, "MessageStatus": status}
    if account is not None:
        params["AccountSid"] = account
    signature = RequestValidator(token).compute_signature(url, params)
    response = deployment.client.post(
        url.removeprefix(PUBLIC), data=params, headers={"X-Twilio-Signature": signature}
    )
    return response.status_code


def status_of(deployment: Deployment, attempt_sid: str) -> str:
    fields = deployment.container.outbox.attempt_status(attempt_sid)
    return str(fields["status"])


@pytest.mark.parametrize(
    ("to", "sender", "other"),
    [
        pytest.param(IN_MOBILE, (B_SID, B_TOKEN), (A_SID, A_TOKEN), id="sent by the route (B)"),
        pytest.param(US_MOBILE, (A_SID, A_TOKEN), (B_SID, B_TOKEN), id="sent globally (A)"),
    ],
)
def test_a_receipt_is_accepted_only_with_the_token_of_the_account_that_sent_it(
    deployment: Deployment, to: str, sender: tuple[str, str], other: tuple[str, str]
) -> None:
    """Signed with the other account's token (naming that account, or no account), even
    with the right MessageSid: refused, Redis and the status unchanged, no fallback; signed
    by the sending account: delivered."""
    attempt_sid = send(deployment, to)
    gateway = deployment.b if to == IN_MOBILE else deployment.a
    assert [request.form["To"] for request in gateway.requests] == [to]
    message_sid = gateway.replies[-1]["sid"]
    before = snapshot(deployment.redis)
    for status in ("delivered", "failed"):
        for account in (other[0], None):
            refused = receipt(deployment, attempt_sid, other[1], account, message_sid, status)
            assert refused == 403
            assert snapshot(deployment.redis) == before
    assert status_of(deployment, attempt_sid) == "sent"
    assert receipt(deployment, attempt_sid, sender[1], sender[0], message_sid) == 204
    assert status_of(deployment, attempt_sid) == "delivered"


def test_a_receipt_for_an_attempt_not_sent_yet_is_refused(deployment: Deployment) -> None:
    """A queued attempt has no sending account: a provider that failed to send it (failover)
    knows its sid, but no receipt is taken for it."""
    attempt_sid = send(deployment, IN_MOBILE, deliver=False)
    before = snapshot(deployment.redis)
    for sid, token in ((A_SID, A_TOKEN), (B_SID, B_TOKEN)):
        assert receipt(deployment, attempt_sid, token, sid, "SM" + "0" * 32, "failed") == 403
    assert snapshot(deployment.redis) == before
    assert status_of(deployment, attempt_sid) == "queued"


def test_an_attempt_recorded_before_receipt_senders_takes_any_accounts_receipt(
    deployment: Deployment, clock: FixedClock
) -> None:
    """Sent by the previous version (no receipt sender recorded): today's behaviour, any
    twilio:// account of the channel signs its receipts (docs/providers.md)."""
    attempt_sid = send(deployment, IN_MOBILE, deliver=False)
    message_sid = "SM" + "5" * 32
    recorded = deployment.container.outbox.record_status(
        attempt_sid, "sent", clock.now_ms(), "twilio", message_sid
    )
    assert recorded
    assert receipt(deployment, attempt_sid, A_TOKEN, A_SID, message_sid) == 204
    assert status_of(deployment, attempt_sid) == "delivered"


def test_the_receipt_sender_is_kept_but_never_shown(deployment: Deployment) -> None:
    """The attempt names the account by a fingerprint (no token, no account SID) and the
    attempt's API representation shows neither: the same fields as before."""
    attempt_sid = send(deployment, IN_MOBILE)
    fields = deployment.container.outbox.attempt_status(attempt_sid)
    route_config = deployment.container.settings.routes.routes[0].providers_for(Channel.SMS)[0]
    assert fields["rs"] == sender_of_config(route_config)
    assert fields["provider"].startswith("twilio+http://")
    raw = b"".join(value or b"" for value in snapshot(deployment.redis).values())
    for secret in (A_TOKEN, B_TOKEN, B_SID, B_SID[2:]):
        assert secret.encode() not in raw
    token = deployment.container.settings.auth_token
    response = deployment.client.get(
        f"/v2/DeliveryAttempts/{attempt_sid}", auth=(ACCOUNT_SID, token)
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert fields["rs"] not in response.get_data(as_text=True)
    assert body["provider"] == fields["provider"]
    assert "rs" not in body
    attempts = deployment.client.get(f"/v2/Attempts/{attempt_sid}", auth=(ACCOUNT_SID, token))
    assert attempts.status_code == 200, attempts.get_json()
    assert attempts.get_json()["channel_data"]["provider"] == fields["provider"]
    assert fields["rs"] not in attempts.get_data(as_text=True)

"""`/metrics` through the real HTTP API on a real Redis: its own bearer token, the families a
workload moves, the outbox read at scrape time (fail-soft), and no personal data in labels."""

from __future__ import annotations

import dataclasses
import json

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, Api
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.processes import free_port
from tests.support.prometheus_text import personal_label_values, value
from verify_service.app import create_app
from verify_service.settings import Settings

TOKEN = "metrics-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
GB_MOBILE = "+447400123456"
UZ_MOBILE = "+998912345678"


@pytest.fixture
def metrics_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, metrics_token=TOKEN)


@pytest.fixture
def app(
    metrics_settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
) -> Flask:
    return create_app(metrics_settings, clock=clock, providers=sender.as_providers())


def scrape(client: FlaskClient) -> str:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain; version=0.0.4")
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


def test_metrics_are_off_and_not_found_without_a_token(
    settings: Settings, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    """No VERIFY_METRICS_TOKEN: /metrics is a 404 (20404), with or without credentials."""
    client = create_app(settings, providers=sender.as_providers()).test_client()
    for headers in ({}, BEARER, Api(client).headers):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 404
        assert response.json is not None
        assert response.json["code"] == 20404


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token-0123456789abcdef",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        "Bearer ",
    ],
)
def test_a_scrape_without_the_right_bearer_token_is_401(
    api: Api, authorization: str | None
) -> None:
    """A missing or wrong token: 401 (20003) with a Bearer challenge, and no sample."""
    headers = {} if authorization is None else {"Authorization": authorization}
    response = api.client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.json is not None
    assert response.json["code"] == 20003
    assert b"verify_" not in response.data


def test_the_api_credentials_do_not_open_the_metrics(api: Api) -> None:
    """The account's Basic credentials are not the metrics credential."""
    assert api.get("/metrics").status_code == 401


def test_the_scheme_name_is_case_insensitive(api: Api) -> None:
    """RFC 6750: `bearer` is the same scheme as `Bearer`."""
    response = api.client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200


def test_a_verification_s_life_moves_its_families(api: Api, sender: RecordingSender) -> None:
    """A start, its send, a wrong and a right check: started, sends, latency, approved,
    and every request by route template and status."""
    service = api.create_service()
    started = api.start(service, GB_MOBILE)
    assert started.status_code == 201
    sid = started.json["sid"]  # type: ignore[index]
    assert api.check(service, "000000", VerificationSid=sid).json["status"] == "pending"  # type: ignore[index]
    code = sender.codes_for(sid)[0]
    assert api.check(service, code, VerificationSid=sid).json["status"] == "approved"  # type: ignore[index]
    text = scrape(api.client)
    assert value(text, "verify_verifications_started_total", channel="sms", result="created") == 1
    assert value(text, "verify_verifications_approved_total", channel="sms") == 1
    assert (
        value(text, "verify_sends_total", channel="sms", provider="recording", outcome="sent") == 1
    )
    assert (
        value(text, "verify_delivery_latency_seconds_count", channel="sms", provider="recording")
        == 1
    )
    assert (
        value(
            text,
            "verify_http_requests_total",
            method="POST",
            route="/v2/Services/<service_sid>/VerificationCheck",
            status="200",
        )
        == 2
    )
    assert (
        value(
            text,
            "verify_http_request_duration_seconds_count",
            method="POST",
            route="/v2/Services/<service_sid>/Verifications",
        )
        == 1
    )


def test_a_resend_is_counted_as_resent(api: Api) -> None:
    service = api.create_service()
    api.start(service, GB_MOBILE)
    api.start(service, GB_MOBILE)
    text = scrape(api.client)
    assert value(text, "verify_verifications_started_total", result="created") == 1
    assert value(text, "verify_verifications_started_total", result="resent") == 1


def test_an_update_to_approved_counts_as_an_approval(api: Api) -> None:
    service = api.create_service()
    sid = api.start(service, "jane@example.com", channel="email").json["sid"]  # type: ignore[index]
    assert api.update(service, sid, "approved").status_code == 200
    assert value(scrape(api.client), "verify_verifications_approved_total", channel="email") == 1


def test_refusals_are_counted_by_reason(api: Api) -> None:
    """Geo permissions and a rate limit refuse starts; each is counted under its reason."""
    service = api.create_service(
        GeoPermissions=json.dumps({"sms": {"allowed": ["GB"]}}), SendsPerDestinationPerHour=1
    )
    assert api.start(service, UZ_MOBILE).status_code == 403
    assert api.start(service, GB_MOBILE).status_code == 201
    assert api.start(service, GB_MOBILE).status_code == 429
    text = scrape(api.client)
    assert value(text, "verify_refusals_total", reason="geo_permission", operation="start") == 1
    assert value(text, "verify_refusals_total", reason="rate_limit", operation="start") == 1
    assert value(text, "verify_verifications_started_total") == 1


def test_the_outbox_backlog_is_read_at_scrape_time(api: Api, clock: FixedClock) -> None:
    """A queued message not yet sent: one ready message, its age by the clock."""
    service = api.create_service()
    # Posted directly: `api.start` would run the worker.
    response = api.post(f"/v2/Services/{service}/Verifications", To=GB_MOBILE, Channel="sms")
    assert response.status_code == 201
    text = scrape(api.client)
    assert value(text, "verify_outbox_up", queue="delivery") == 1
    assert value(text, "verify_outbox_messages", queue="delivery", state="ready") == 1
    assert value(text, "verify_outbox_messages", queue="delivery", state="delayed") == 0
    assert value(text, "verify_outbox_dead_letters", queue="delivery") == 0
    assert value(text, "verify_outbox_oldest_message_age_seconds", queue="delivery") >= 0


def test_a_scrape_answers_200_when_redis_is_down(
    metrics_settings: Settings, sender: RecordingSender
) -> None:
    """Redis unreachable: the scrape still succeeds, `verify_outbox_up` says 0, and the
    requests the store failed are counted as Redis errors."""
    down = dataclasses.replace(metrics_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = create_app(down, providers=sender.as_providers()).test_client()
    assert Api(client).get("/v2/Services").status_code == 503
    text = scrape(client)
    assert value(text, "verify_outbox_up", queue="delivery") == 0
    assert value(text, "verify_outbox_messages") == 0
    assert value(text, "verify_redis_errors_total", process="api") == 1


def test_an_unmatched_path_is_counted_without_its_path(api: Api) -> None:
    """A 404 with no route is `unmatched`: what a client typed never becomes a label."""
    assert api.get(f"/v2/{GB_MOBILE}/jane@example.com").status_code == 404
    text = scrape(api.client)
    assert value(text, "verify_http_requests_total", route="unmatched", status="404") == 1


def test_no_label_value_carries_a_destination_a_code_or_a_sid(
    api: Api, sender: RecordingSender, clock: FixedClock
) -> None:
    """After a realistic workload (every channel, wrong and right codes, a cancel, fetches
    by sid, refusals, unknown paths holding a number and an address), every label value of
    every sample is checked against the shapes of sids, numbers, addresses and codes."""
    service = api.create_service(GeoPermissions=json.dumps({"sms": {"allowed": ["GB"]}}))
    sids = []
    for to, channel in (
        (GB_MOBILE, "sms"),
        ("+447400123457", "call"),
        ("+447400123458", "whatsapp"),
        ("jane.doe@example.com", "email"),
    ):
        response = api.start(service, to, channel=channel)
        assert response.status_code == 201, response.json
        sids.append(response.json["sid"])  # type: ignore[index]
    api.check(service, "123456", VerificationSid=sids[0])
    api.check(service, sender.codes_for(sids[0])[0], VerificationSid=sids[0])
    api.check(service, "987654", To="+447400123457")
    api.update(service, sids[2], "canceled")
    api.fetch(service, sids[3])
    api.fetch(service, "VE" + "0" * 32)
    api.start(service, UZ_MOBILE)
    api.get(f"/v2/Services/{service}/Verifications/{GB_MOBILE}")
    api.get("/v2/Attempts?ChannelData.To=" + GB_MOBILE.replace("+", "%2B"))
    api.client.get(f"/{sids[0]}/123456/jane.doe@example.com")
    api.client.post(f"/v2/Services/{service}/VerificationCheck", data={"Code": "123456"})
    api.client.open(f"/v2/Services/{service}", method="PURGE")
    clock.advance(3600)
    text = scrape(api.client)
    assert value(text, "verify_http_requests_total") >= 14
    assert personal_label_values(text) == []
    for secret in (*sids, service, ACCOUNT_SID, AUTH_TOKEN, TOKEN, "447400123456", "jane.doe"):
        assert secret not in text


def test_a_check_refused_by_the_destination_s_check_limit_is_a_rate_limit_refusal(
    api: Api,
) -> None:
    service = api.create_service(ChecksPerDestinationPerHour=1)
    api.start(service, GB_MOBILE)
    assert api.check(service, "000000", To=GB_MOBILE).status_code == 200
    assert api.check(service, "000000", To=GB_MOBILE).status_code == 429
    text = scrape(api.client)
    assert value(text, "verify_refusals_total", reason="rate_limit", operation="check") == 1

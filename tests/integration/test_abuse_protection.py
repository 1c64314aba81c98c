"""Abuse and cost protection through the HTTP API, on a real Redis, with the clock driven by
the test: every defence refuses with its Twilio-shaped code and sends nothing."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import redis
from flask import Flask

from tests.conftest import Api, deliver_queued
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.application.protection.ports import TallyHit
from verify_service.settings import Settings

GB_MOBILE = "+447400123456"
GB_OTHER_PREFIX = "+447911000500"
GB_LANDLINE = "+441212345678"
GB_PREMIUM = "+449012345678"
UZ_MOBILE = "+998912345678"
US_NUMBER = "+12015550123"


def pumped(count: int) -> list[str]:
    """Distinct valid UK mobiles of one Fraud Guard prefix, +44740."""
    return [f"+447400{n:06d}" for n in range(1, count + 1)]


def genuine(count: int) -> list[str]:
    """Distinct valid UK mobiles of another prefix, +44791."""
    return [f"+447911{n:06d}" for n in range(1, count + 1)]


def assert_error(response: Any, status: int, code: int) -> None:
    assert response.status_code == status, response.json
    assert response.json["code"] == code, response.json
    assert response.json["status"] == status


def queued(app: Flask) -> int:
    return deliver_queued(app)


# -- built-in limits ------------------------------------------------------------------------


def test_sends_per_destination_per_hour_refuse_with_60203_and_the_seconds_until_free(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    service = api.create_service(SendsPerDestinationPerHour=3)
    for _ in range(3):
        assert api.start(service, GB_MOBILE).status_code == 201
        clock.advance(60)
    refused = api.start(service, GB_MOBILE)
    assert_error(refused, 429, 60203)
    # the first send leaves the hour's window one second after it is an hour old
    assert refused.headers["Retry-After"] == str(3600 - 180 + 1)
    assert len(sender.sent) == 3
    assert api.start(service, GB_OTHER_PREFIX).status_code == 201  # another destination
    clock.advance(3600 - 180 + 1)
    assert api.start(service, GB_MOBILE).status_code == 201


def test_sends_per_destination_per_day_hold_across_verifications(
    api: Api, clock: FixedClock
) -> None:
    service = api.create_service(SendsPerDestinationPerDay=2, SendsPerDestinationPerHour=0)
    for _ in range(2):
        assert api.start(service, GB_MOBILE).status_code == 201
        clock.advance(3 * 3600)  # each verification long expired
    assert_error(api.start(service, GB_MOBILE), 429, 60203)


def test_checks_per_destination_per_hour_span_verifications(api: Api, clock: FixedClock) -> None:
    service = api.create_service(ChecksPerDestinationPerHour=3)
    api.start(service, GB_MOBILE)
    for _ in range(2):
        assert api.check(service, "000000", To=GB_MOBILE).json["status"] == "pending"
    sid = api.start(service, GB_MOBILE).json["sid"]
    api.update(service, sid, "canceled")
    api.start(service, GB_MOBILE)
    assert api.check(service, "000000", To=GB_MOBILE).status_code == 200
    refused = api.check(service, "000000", To=GB_MOBILE)
    assert_error(refused, 429, 60202)
    assert int(refused.headers["Retry-After"]) == 3601


def test_a_lowered_check_limit_holds_at_the_next_check_of_a_process_that_saw_the_old_one(
    api: Api,
) -> None:
    """A check counts its per-destination limit with its reservation, as the process last
    saw the service; the settings read with it correct a stale one at once."""
    service = api.create_service(ChecksPerDestinationPerHour=10)
    api.start(service, GB_MOBILE)
    for _ in range(2):
        assert api.check(service, "000000", To=GB_MOBILE).json["status"] == "pending"
    api.post(f"/v2/Services/{service}", ChecksPerDestinationPerHour=2)
    assert_error(api.check(service, "000000", To=GB_MOBILE), 429, 60202)


def test_checks_of_a_missing_verification_do_not_spend_the_destination_s_check_limit(
    api: Api,
) -> None:
    service = api.create_service(ChecksPerDestinationPerHour=3)
    sid = api.start(service, GB_MOBILE).json["sid"]
    assert api.check(service, "000000", VerificationSid=sid).status_code == 200
    missing = sid[:-12] + ("0" * 12 if not sid.endswith("0" * 12) else "1" * 12)
    for _ in range(5):  # same destination tag, no such verification
        assert_error(api.check(service, "000000", VerificationSid=missing), 404, 20404)
    for _ in range(2):
        assert api.check(service, "000000", VerificationSid=sid).status_code == 200
    assert_error(api.check(service, "000000", VerificationSid=sid), 429, 60202)


def test_starts_per_service_per_minute(api: Api, clock: FixedClock) -> None:
    service = api.create_service(StartsPerServicePerMinute=2)
    assert api.start(service, GB_MOBILE).status_code == 201
    assert api.start(service, GB_OTHER_PREFIX).status_code == 201
    refused = api.start(service, US_NUMBER)
    assert_error(refused, 429, 20429)
    assert refused.headers["Retry-After"] == "61"
    other = api.create_service()
    assert api.start(other, US_NUMBER).status_code == 201  # another service has its own
    clock.advance(61)
    assert api.start(service, US_NUMBER).status_code == 201


def test_starts_per_device_ip_per_hour_count_only_starts_that_name_it(api: Api) -> None:
    service = api.create_service(StartsPerDeviceIpPerHour=2)
    to = genuine(5)
    assert api.start(service, to[0], DeviceIp="203.0.113.7").status_code == 201
    assert api.start(service, to[1], DeviceIp="203.0.113.7").status_code == 201
    assert_error(api.start(service, to[2], DeviceIp="203.0.113.7"), 429, 20429)
    assert api.start(service, to[3], DeviceIp="203.0.113.8").status_code == 201
    assert api.start(service, to[4]).status_code == 201


def test_a_limit_set_to_zero_is_off(api: Api) -> None:
    service = api.create_service(SendsPerDestinationPerHour=0, SendsPerDestinationPerDay=0)
    for _ in range(5):
        assert api.start(service, GB_MOBILE).status_code == 201


def test_limit_settings_are_validated_and_shown(api: Api) -> None:
    assert_error(
        api.post("/v2/Services", FriendlyName="x", SendsPerDestinationPerHour=-1), 400, 60200
    )
    assert_error(api.post("/v2/Services", FriendlyName="x", FraudGuardMode="loud"), 400, 60200)
    service = api.create_service(DailySendCap=50)
    body = api.get(f"/v2/Services/{service}").json
    assert body["daily_send_cap"] == 50
    assert body["sends_per_destination_per_hour"] == 10
    assert body["fraud_guard"]["mode"] == "block"


# -- programmable rate limits ---------------------------------------------------------------


def rate_limit(api: Api, service: str, name: str, *buckets: tuple[int, int]) -> str:
    created = api.post(f"/v2/Services/{service}/RateLimits", UniqueName=name)
    assert created.status_code == 201, created.json
    sid: str = created.json["sid"]
    for maximum, interval in buckets:
        bucket = api.post(
            f"/v2/Services/{service}/RateLimits/{sid}/Buckets", Max=maximum, Interval=interval
        )
        assert bucket.status_code == 201, bucket.json
    return sid


def test_a_bucket_limits_each_value_of_its_rate_limit(api: Api, clock: FixedClock) -> None:
    service = api.create_service()
    rate_limit(api, service, "end_user_ip", (2, 60))
    to = genuine(6)
    ip = json.dumps({"end_user_ip": "198.51.100.1"})
    assert api.start(service, to[0], RateLimits=ip).status_code == 201
    assert api.start(service, to[1], RateLimits=ip).status_code == 201
    refused = api.start(service, to[2], RateLimits=ip)
    assert_error(refused, 429, 20429)
    assert refused.headers["Retry-After"] == "61"
    other = json.dumps({"end_user_ip": "198.51.100.2"})
    assert api.start(service, to[3], RateLimits=other).status_code == 201
    clock.advance(61)
    assert api.start(service, to[4], RateLimits=ip).status_code == 201


def test_every_bucket_of_a_rate_limit_applies(api: Api, clock: FixedClock) -> None:
    service = api.create_service()
    rate_limit(api, service, "user", (2, 60), (3, 3600))
    to = genuine(5)
    value = json.dumps({"user": "u-1"})
    assert api.start(service, to[0], RateLimits=value).status_code == 201
    assert api.start(service, to[1], RateLimits=value).status_code == 201
    clock.advance(61)
    assert api.start(service, to[2], RateLimits=value).status_code == 201
    clock.advance(61)
    assert_error(api.start(service, to[3], RateLimits=value), 429, 20429)  # the hour bucket


def test_a_start_without_a_value_is_counted_under_missing(api: Api) -> None:
    service = api.create_service()
    rate_limit(api, service, "session", (1, 60))
    to = genuine(3)
    assert api.start(service, to[0]).status_code == 201
    assert_error(api.start(service, to[1]), 429, 20429)
    given = json.dumps({"session": "s-1"})
    assert api.start(service, to[2], RateLimits=given).status_code == 201


def test_an_unknown_rate_limit_name_is_60200(api: Api) -> None:
    service = api.create_service()
    refused = api.start(service, GB_MOBILE, RateLimits=json.dumps({"nope": "1"}))
    assert_error(refused, 400, 60200)
    assert "RateLimits" in refused.json["message"]


def test_rate_limit_values_are_not_stored_in_redis(api: Api, redis_client: redis.Redis) -> None:
    service = api.create_service()
    rate_limit(api, service, "email", (5, 60))
    api.start(service, GB_MOBILE, RateLimits=json.dumps({"email": "jane@example.com"}))
    for key in redis_client.scan_iter("*"):
        assert b"jane" not in key
        assert b"198.51" not in key


# -- number intelligence, geo permissions ------------------------------------------------------


def test_premium_rate_numbers_are_refused_naming_the_reason(
    api: Api, sender: RecordingSender
) -> None:
    service = api.create_service()
    refused = api.start(service, GB_PREMIUM)
    assert_error(refused, 400, 60200)
    assert "premium" in refused.json["message"]
    assert sender.sent == []


def test_skip_sms_to_landlines_refuses_sms_but_not_a_call(api: Api) -> None:
    service = api.create_service(LookupEnabled="true", SkipSmsToLandlines="true")
    assert_error(api.start(service, GB_LANDLINE), 403, 60205)
    assert api.start(service, GB_LANDLINE, channel="call").status_code == 201
    relaxed = api.create_service(LookupEnabled="true")
    assert api.start(relaxed, GB_LANDLINE).status_code == 201


def test_skip_sms_to_landlines_needs_no_lookup_and_passes_fixed_line_or_mobile(
    api: Api, sender: RecordingSender
) -> None:
    """The line type is known offline (phonenumbers), so SkipSmsToLandlines acts without
    LookupEnabled (Twilio requires it); a number that may be either (North America's
    FIXED_LINE_OR_MOBILE) is not a landline."""
    service = api.create_service(SkipSmsToLandlines="true")
    assert_error(api.start(service, GB_LANDLINE), 403, 60205)
    assert sender.sent == []
    assert api.start(service, US_NUMBER).status_code == 201


def test_lookup_enabled_fills_the_lookup_object(api: Api) -> None:
    service = api.create_service(LookupEnabled="true")
    started = api.start(service, GB_MOBILE).json
    assert started["lookup"]["carrier"]["type"] == "mobile"
    fetched = api.fetch(service, started["sid"]).json
    assert fetched["lookup"] == started["lookup"]
    plain = api.create_service()
    assert api.start(plain, GB_MOBILE).json["lookup"] == {}


def test_the_default_high_risk_countries_are_blocked_with_60605(
    api: Api, sender: RecordingSender
) -> None:
    service = api.create_service()
    refused = api.start(service, UZ_MOBILE)
    assert_error(refused, 403, 60605)
    assert "UZ" in refused.json["message"]
    assert sender.sent == []


def test_a_service_may_re_enable_a_high_risk_country_per_channel(api: Api) -> None:
    geo = json.dumps({"sms": {"allowed": ["UZ", "GB"]}})
    service = api.create_service(GeoPermissions=geo)
    assert api.start(service, UZ_MOBILE).status_code == 201
    assert_error(api.start(service, US_NUMBER), 403, 60605)  # an allow list is exclusive
    assert_error(api.start(service, UZ_MOBILE, channel="call"), 403, 60605)  # sms only


def test_a_block_list_replaces_the_default_one(api: Api) -> None:
    service = api.create_service(GeoPermissions=json.dumps({"whatsapp": {"blocked": ["GB"]}}))
    assert_error(api.start(service, GB_MOBILE, channel="whatsapp"), 403, 60605)
    assert api.start(service, UZ_MOBILE, channel="whatsapp").status_code == 201
    assert api.start(service, GB_MOBILE).status_code == 201  # sms keeps the defaults


def test_geo_permissions_are_validated(api: Api) -> None:
    for bad in ("{", json.dumps({"fax": {}}), json.dumps({"sms": {"allowed": ["ZZ"]}})):
        assert_error(api.post("/v2/Services", FriendlyName="x", GeoPermissions=bad), 400, 60200)


def test_email_is_not_governed_by_geo_permissions(api: Api) -> None:
    service = api.create_service(GeoPermissions=json.dumps({"sms": {"allowed": []}}))
    assert api.start(service, "jane@example.com", channel="email").status_code == 201


# -- safe list and RiskCheck ------------------------------------------------------------------


def test_a_safe_listed_number_bypasses_geo_permissions(api: Api) -> None:
    service = api.create_service()
    assert api.post("/v2/SafeList/Numbers", PhoneNumber=UZ_MOBILE).status_code == 201
    assert api.start(service, UZ_MOBILE).status_code == 201


def test_risk_check_disable_bypasses_geo_permissions_but_not_the_send_rule(api: Api) -> None:
    service = api.create_service(SendsPerDestinationPerHour=0, SendsPerDestinationPerDay=0)
    for _ in range(5):
        assert api.start(service, UZ_MOBILE, RiskCheck="disable").status_code == 201
    assert_error(api.start(service, UZ_MOBILE, RiskCheck="disable"), 429, 60203)


# -- daily caps ---------------------------------------------------------------------------------


def test_the_daily_send_cap_stops_phone_sends_with_60410(api: Api, clock: FixedClock) -> None:
    service = api.create_service(DailySendCap=2)
    to = genuine(3)
    assert api.start(service, to[0]).status_code == 201
    assert api.start(service, to[1]).status_code == 201
    refused = api.start(service, to[2])
    assert_error(refused, 403, 60410)
    assert int(refused.headers["Retry-After"]) == 86401
    assert api.start(service, "jane@example.com", channel="email").status_code == 201
    clock.advance(86401)
    assert api.start(service, to[2]).status_code == 201


def test_the_daily_country_cap_counts_each_country_apart(api: Api) -> None:
    service = api.create_service(DailyCountrySendCap=1)
    assert api.start(service, GB_MOBILE).status_code == 201
    refused = api.start(service, GB_OTHER_PREFIX)
    assert_error(refused, 403, 60410)
    assert "GB" in refused.json["message"]
    assert api.start(service, US_NUMBER).status_code == 201


# -- Fraud Guard ---------------------------------------------------------------------------------


def fraud_guard_service(api: Api, **params: Any) -> str:
    return api.create_service(FraudGuardMinSends=10, FraudGuardMinApprovalRate=30, **params)


def start_and_approve(api: Api, sender: RecordingSender, service: str, to: str) -> None:
    started = api.start(service, to)
    assert started.status_code == 201, started.json
    code = sender.last_code(started.json["sid"])
    assert api.check(service, code, To=to).json["status"] == "approved"


def test_a_pumping_burst_trips_its_prefix_and_leaves_normal_traffic_alone(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    service = fraud_guard_service(api)
    normal = genuine(30)
    refused_at = None
    for n, to in enumerate(pumped(30)):
        response = api.start(service, to)
        if response.status_code != 201:
            assert_error(response, 403, 60410)
            refused_at = n
            break
        # normal users in another prefix, each approving their code
        start_and_approve(api, sender, service, normal[n])
        clock.advance(20)
    assert refused_at is not None
    # 10 settled sends are needed: sends of the last 2 minutes are not judged yet
    assert 10 <= refused_at <= 17
    assert_error(api.start(service, "+447400999999"), 403, 60410)
    assert api.start(service, "+447911123000").status_code == 201
    blocks = api.get(f"/v2/Services/{service}/FraudGuard/Blocks").json["blocks"]
    assert [b["prefix"] for b in blocks] == ["+44740"]
    assert blocks[0]["mode"] == "block"
    assert blocks[0]["approvals"] == 0
    assert blocks[0]["sends"] >= 10
    assert blocks[0]["destinations"]
    for masked in blocks[0]["destinations"]:
        assert masked.startswith("+44")
        assert "•" in masked
        assert masked not in pumped(30)


def test_a_tripped_prefix_recovers_after_the_cool_down(api: Api, clock: FixedClock) -> None:
    service = fraud_guard_service(api, FraudGuardCooldownSeconds=600)
    trip(api, clock, service)
    clock.advance(601)
    assert api.start(service, "+447400999998").status_code == 201
    assert api.get(f"/v2/Services/{service}/FraudGuard/Blocks").json["blocks"] == []


def trip(api: Api, clock: FixedClock, service: str) -> None:
    for to in pumped(40):
        if api.start(service, to).status_code == 403:
            return
        clock.advance(20)
    raise AssertionError("Fraud Guard never tripped")


def test_an_operator_can_lift_a_block(api: Api, clock: FixedClock) -> None:
    service = fraud_guard_service(api)
    trip(api, clock, service)
    lifted = api.client.delete(
        f"/v2/Services/{service}/FraudGuard/Blocks/%2B44740", headers=api.headers
    )
    assert lifted.status_code == 204
    assert api.start(service, "+447400999997").status_code == 201
    missing = api.client.delete(
        f"/v2/Services/{service}/FraudGuard/Blocks/%2B44740", headers=api.headers
    )
    assert_error(missing, 404, 20404)


def test_monitor_mode_records_the_trip_and_blocks_nothing(api: Api, clock: FixedClock) -> None:
    service = fraud_guard_service(api, FraudGuardMode="monitor")
    for to in pumped(30):
        assert api.start(service, to).status_code == 201
        clock.advance(20)
    blocks = api.get(f"/v2/Services/{service}/FraudGuard/Blocks").json["blocks"]
    assert [(b["prefix"], b["mode"]) for b in blocks] == [("+44740", "monitor")]


def test_safe_list_and_risk_check_bypass_a_block(api: Api, clock: FixedClock) -> None:
    service = fraud_guard_service(api)
    trip(api, clock, service)
    assert api.start(service, "+447400999996", RiskCheck="disable").status_code == 201
    api.post("/v2/SafeList/Numbers", PhoneNumber="+447400999995")
    assert api.start(service, "+447400999995").status_code == 201


def test_fraud_guard_off_never_trips(api: Api, clock: FixedClock) -> None:
    service = fraud_guard_service(api, FraudGuardMode="off")
    for to in pumped(30):
        assert api.start(service, to).status_code == 201
        clock.advance(20)


# -- test destinations --------------------------------------------------------------------------


@pytest.fixture
def test_app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> Flask:
    allowed = dataclasses.replace(settings, allow_test_destinations=True)
    return create_app(allowed, clock=clock, providers=sender.as_providers())


def test_test_destinations_are_refused_unless_the_deployment_allows_them(api: Api) -> None:
    refused = api.post(
        "/v2/Services", FriendlyName="x", TestDestinations=json.dumps({GB_MOBILE: "123456"})
    )
    assert_error(refused, 403, 60204)


def test_a_test_destination_sends_nothing_and_checks_against_its_fixed_code(
    test_app: Flask, sender: RecordingSender
) -> None:
    api = Api(test_app.test_client())
    service = api.create_service(
        TestDestinations=json.dumps({GB_MOBILE: "918273", "qa@example.com": "0000"}),
        StartsPerServicePerMinute=1,
    )
    body = api.get(f"/v2/Services/{service}").json
    assert body["test_destinations"] == ["+447400123456", "qa@example.com"]
    assert "918273" not in json.dumps(body)
    for _ in range(3):  # exempt from the limits
        assert api.start(service, GB_MOBILE).status_code == 201
    assert queued(test_app) == 0
    assert sender.sent == []
    assert api.check(service, "654321", To=GB_MOBILE).json["status"] == "pending"
    assert api.check(service, "918273", To=GB_MOBILE).json["status"] == "approved"
    assert api.start(service, "qa@example.com", channel="email").status_code == 201
    assert api.check(service, "0000", To="qa@example.com").json["status"] == "approved"


def test_test_destinations_in_a_service_are_ignored_where_not_allowed(
    test_app: Flask, settings: Settings, clock: FixedClock, sender: RecordingSender
) -> None:
    service = Api(test_app.test_client()).create_service(
        TestDestinations=json.dumps({GB_MOBILE: "123456"})
    )
    production = Api(
        create_app(settings, clock=clock, providers=sender.as_providers()).test_client()
    )
    assert production.start(service, GB_MOBILE).status_code == 201
    assert len(sender.sent) == 1  # a real code went out: no fixed code in production
    assert production.check(service, "123456", To=GB_MOBILE).json["status"] == "pending"


# -- fail closed ----------------------------------------------------------------------------------


def test_a_limiter_outage_is_503_and_nothing_is_sent_or_stored(
    app: Flask, api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    service = api.create_service()
    container = app.extensions[CONTAINER_KEY]
    limiter = container.protection._limiter
    limiter._client = redis.Redis(port=1, socket_connect_timeout=0.1)
    refused = api.start(service, GB_MOBILE)
    assert_error(refused, 503, 20503)
    assert refused.headers["Retry-After"] == "1"
    assert sender.sent == []
    assert not list(redis_client.scan_iter("it:v:*"))


# -- what a refusal does not spend, and how modes hand over --------------------------------------


def test_refused_starts_spend_no_daily_cap(api: Api) -> None:
    """Hammering one number past its limit must not use up the service's cap for others."""
    service = api.create_service(SendsPerDestinationPerHour=1, DailySendCap=3)
    assert api.start(service, GB_MOBILE).status_code == 201
    for _ in range(5):
        assert_error(api.start(service, GB_MOBILE), 429, 60203)
    to = genuine(3)
    assert api.start(service, to[0]).status_code == 201
    assert api.start(service, to[1]).status_code == 201
    assert_error(api.start(service, to[2]), 403, 60410)


def test_refused_starts_do_not_feed_fraud_guard(api: Api, clock: FixedClock) -> None:
    service = fraud_guard_service(api, StartsPerServicePerMinute=1)
    for to in pumped(30):
        api.start(service, to)  # one admitted per minute, the rest refused with 20429
        clock.advance(10)
    blocks = api.get(f"/v2/Services/{service}/FraudGuard/Blocks").json["blocks"]
    assert blocks == []  # 5 admitted sends: below the volume Fraud Guard judges


def test_switching_from_monitor_to_block_blocks_a_prefix_monitor_flagged(
    api: Api, clock: FixedClock
) -> None:
    service = fraud_guard_service(api, FraudGuardMode="monitor")
    numbers = iter(pumped(80))
    for _ in range(20):
        assert api.start(service, next(numbers)).status_code == 201
        clock.advance(20)
    assert api.get(f"/v2/Services/{service}/FraudGuard/Blocks").json["blocks"][0]["mode"] == (
        "monitor"
    )
    api.post(f"/v2/Services/{service}", FraudGuardMode="block")
    refused = None
    for n, to in enumerate(numbers):
        if api.start(service, to).status_code == 403:
            refused = n
            break
        clock.advance(20)
    assert refused is not None
    blocks = api.get(f"/v2/Services/{service}/FraudGuard/Blocks").json["blocks"]
    assert [(b["prefix"], b["mode"]) for b in blocks] == [("+44740", "block")]


def test_a_start_that_loses_the_race_to_trip_is_blocked_too(
    app: Flask, api: Api, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = fraud_guard_service(api)
    store = app.extensions[CONTAINER_KEY].fraud_guard
    real_trip = store.trip

    def another_process_trips_first(trip: Any) -> tuple[bool, int]:
        real_trip(trip)  # the other process's call, a moment earlier
        return real_trip(trip)  # (False, until): ours lost

    monkeypatch.setattr(store, "trip", another_process_trips_first)
    for to in pumped(40):
        response = api.start(service, to)
        if response.status_code != 201:
            assert_error(response, 403, 60410)
            assert int(response.headers["Retry-After"]) > 0
            return
        clock.advance(20)
    raise AssertionError("never refused")


def test_manual_approvals_count_for_fraud_guard(api: Api, clock: FixedClock) -> None:
    """A custom-code flow approves with Status=approved: it must not look like pumping."""
    service = fraud_guard_service(api, CustomCodeEnabled="true")
    for to in pumped(40):
        started = api.start(service, to, CustomCode="482913")
        assert started.status_code == 201, started.json
        assert api.update(service, started.json["sid"], "approved").status_code == 200
        clock.advance(20)


def test_checks_of_a_test_destination_are_not_limited(test_app: Flask) -> None:
    api = Api(test_app.test_client())
    service = api.create_service(
        TestDestinations=json.dumps({GB_MOBILE: "918273"}), ChecksPerDestinationPerHour=1
    )
    api.start(service, GB_MOBILE)
    for _ in range(3):
        assert api.check(service, "111111", To=GB_MOBILE).status_code == 200


def test_concurrent_right_codes_count_one_approval_for_fraud_guard(
    app: Flask, api: Api, sender: RecordingSender
) -> None:
    """The approval is counted with the approval itself; the right codes that find the
    verification ended take theirs back, so Fraud Guard sees one approval, not five."""
    from tests.integration.test_store_scripts import run_concurrently  # noqa: PLC0415

    service = fraud_guard_service(api)
    started = api.start(service, GB_MOBILE)
    code = sender.last_code(started.json["sid"])
    statuses = run_concurrently(
        5, lambda: Api(app.test_client()).check(service, code, To=GB_MOBILE).status_code
    )
    assert sorted(statuses) == [200] + [404] * 4
    container = app.extensions[CONTAINER_KEY]
    tally = TallyHit(service, "+44740", 3600, 120)
    assert container.protection._limiter.hit([], [], container.clock.now_ms(), tally).counts == (
        1,
        1,
        1,
    )

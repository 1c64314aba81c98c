"""Abuse protection through the official twilio SDK against the real server (gunicorn, real
Redis): each refusal arrives as the TwilioRestException Twilio would raise, and the
programmable bucket admits exactly its Max under concurrent starts."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from twilio.rest import Client

from tests.support import core_specs
from tests.support.core_specs import outcome, refusal, run_together
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer

GB_MOBILE = "+447400123456"
GB_LANDLINE = "+441212345678"
GB_PREMIUM = "+449012345678"
UZ_MOBILE = "+998912345678"


def create_service(api_server: ApiServer, **params: Any) -> str:
    """A service with extension parameters (the SDK knows only Twilio's)."""
    return core_specs.create_service(api_server.url, **params)


def test_sends_per_destination_refuse_with_60203(twilio: Client, api_server: ApiServer) -> None:
    service = create_service(api_server, SendsPerDestinationPerHour=2)
    verifications = twilio.verify.v2.services(service).verifications
    verifications.create(to=GB_MOBILE, channel="sms")
    verifications.create(to=GB_MOBILE, channel="sms")
    assert refusal(lambda: verifications.create(to=GB_MOBILE, channel="sms")) == (429, 60203)


def test_checks_per_destination_refuse_with_60202(twilio: Client, api_server: ApiServer) -> None:
    service = create_service(api_server, ChecksPerDestinationPerHour=1)
    twilio.verify.v2.services(service).verifications.create(to=GB_MOBILE, channel="sms")
    checks = twilio.verify.v2.services(service).verification_checks
    assert checks.create(to=GB_MOBILE, code="000000").status == "pending"
    assert refusal(lambda: checks.create(to=GB_MOBILE, code="000000")) == (429, 60202)


def test_a_bucket_refuses_with_20429(twilio: Client, api_server: ApiServer) -> None:
    """The core spec every Redis deployment runs (tests/support/core_specs.py): a bucket of
    one refuses the second start with 20429, two sends per destination per hour the third."""
    core_specs.rate_limits_refuse_at_the_limit(twilio, api_server.url)


def test_geo_permissions_refuse_with_60605_unless_the_number_is_safe_listed(
    twilio: Client,
) -> None:
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verifications = twilio.verify.v2.services(service.sid).verifications
    assert refusal(lambda: verifications.create(to=UZ_MOBILE, channel="sms")) == (403, 60605)
    twilio.verify.v2.safelist.create(phone_number=UZ_MOBILE)
    assert verifications.create(to=UZ_MOBILE, channel="sms").status == "pending"


def test_risk_check_disable_skips_geo_permissions(twilio: Client) -> None:
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verification = twilio.verify.v2.services(service.sid).verifications.create(
        to=UZ_MOBILE, channel="sms", risk_check="disable"
    )
    assert verification.status == "pending"


def test_number_intelligence_refuses_premium_numbers_and_sms_to_landlines(
    twilio: Client,
) -> None:
    service = twilio.verify.v2.services.create(
        friendly_name="Acme", lookup_enabled=True, skip_sms_to_landlines=True
    )
    verifications = twilio.verify.v2.services(service.sid).verifications
    assert refusal(lambda: verifications.create(to=GB_PREMIUM, channel="sms")) == (400, 60200)
    assert refusal(lambda: verifications.create(to=GB_LANDLINE, channel="sms")) == (403, 60205)
    mobile = verifications.create(to=GB_MOBILE, channel="sms")
    assert mobile.lookup["carrier"]["type"] == "mobile"


def test_a_daily_cap_refuses_with_60410(twilio: Client, api_server: ApiServer) -> None:
    service = create_service(api_server, DailySendCap=1)
    verifications = twilio.verify.v2.services(service).verifications
    verifications.create(to="+447911000001", channel="sms")
    assert refusal(lambda: verifications.create(to="+447911000002", channel="sms")) == (
        403,
        60410,
    )


def test_thirty_concurrent_starts_against_a_bucket_of_seven_admit_exactly_seven(
    twilio: Client, api_server: ApiServer, outbox: Outbox
) -> None:
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    limit = twilio.verify.v2.services(service.sid).rate_limits.create(unique_name="session")
    twilio.verify.v2.services(service.sid).rate_limits(limit.sid).buckets.create(
        max=7, interval=3600
    )
    url = f"{api_server.url}/v2/Services/{service.sid}/Verifications"
    value = json.dumps({"session": "one-bot"})

    responses = run_together(
        30,
        lambda session, index: session.post(
            url,
            data={"To": f"+447911{index + 1:06d}", "Channel": "sms", "RateLimits": value},
            timeout=30,
        ),
    )

    outcomes = Counter(outcome(r) for r in responses)
    assert outcomes == {(201, "pending"): 7, (429, 20429): 23}, outcomes
    assert all(r.headers.get("Retry-After") for r in responses if r.status_code == 429)
    outbox.wait_until_drained()
    # The outbox file is the session's: count this service's messages only.
    assert sum(1 for m in outbox.messages() if m["service_sid"] == service.sid) == 7

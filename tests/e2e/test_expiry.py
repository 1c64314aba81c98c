"""Expiry is Redis's TTL on the verification key: tests shorten it with PEXPIRE instead of
waiting ten minutes, and read it with PTTL."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
import redis
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.support.outbox import Outbox

TO = "+14155552671"
# "Five minutes later": a TTL well below what a start sets, so any reset would show.
HALF_LIFE_MS = 300_000


@dataclass(frozen=True)
class Started:
    service_sid: str
    verification_sid: str
    code: str
    key: bytes


@pytest.fixture
def started(twilio: Client, redis_client: redis.Redis, outbox: Outbox) -> Started:
    """A pending verification, with its code and its Redis key (the only one there is)."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verification = twilio.verify.v2.services(service.sid).verifications.create(to=TO, channel="sms")
    [key] = redis_client.scan_iter(match="vs:v:*")
    return Started(service.sid, verification.sid, outbox.last_code(verification.sid), key)


def expire_now(redis_client: redis.Redis, key: bytes) -> None:
    assert redis_client.pexpire(key, 1)
    time.sleep(0.05)


def assert_not_found(error: pytest.ExceptionInfo[TwilioRestException]) -> None:
    assert (error.value.status, error.value.code) == (404, 20404)


def test_an_expired_verification_cannot_be_fetched(
    twilio: Client, redis_client: redis.Redis, started: Started
) -> None:
    """Once its key has expired, fetching the verification is 404 (20404)."""
    expire_now(redis_client, started.key)
    with pytest.raises(TwilioRestException) as error:
        twilio.verify.v2.services(started.service_sid).verifications(
            started.verification_sid
        ).fetch()
    assert_not_found(error)


def test_an_expired_verification_cannot_be_checked_even_with_the_right_code(
    twilio: Client, redis_client: redis.Redis, started: Started
) -> None:
    """Once its key has expired, the right code is 404 (20404), by To and by VerificationSid."""
    expire_now(redis_client, started.key)
    checks = twilio.verify.v2.services(started.service_sid).verification_checks
    with pytest.raises(TwilioRestException) as by_to:
        checks.create(to=TO, code=started.code)
    assert_not_found(by_to)
    with pytest.raises(TwilioRestException) as by_sid:
        checks.create(verification_sid=started.verification_sid, code=started.code)
    assert_not_found(by_sid)


def test_a_start_after_expiry_creates_a_fresh_verification(
    twilio: Client, redis_client: redis.Redis, outbox: Outbox, started: Started
) -> None:
    """After expiry a start makes a new VE sid with one send, and the old code is not valid."""
    resent = twilio.verify.v2.services(started.service_sid).verifications.create(
        to=TO, channel="sms"
    )
    assert resent.sid == started.verification_sid  # before expiry: the same verification
    expire_now(redis_client, started.key)

    fresh = twilio.verify.v2.services(started.service_sid).verifications.create(
        to=TO, channel="sms"
    )

    assert fresh.sid != started.verification_sid
    assert fresh.status == "pending"
    assert len(fresh.send_code_attempts) == 1
    fetched = twilio.verify.v2.services(started.service_sid).verifications(fresh.sid).fetch()
    assert len(fetched.send_code_attempts) == 1
    assert redis_client.hget(started.key, "c") == b"0"
    assert 590_000 <= redis_client.pttl(started.key) <= 600_000
    checks = twilio.verify.v2.services(started.service_sid).verification_checks
    old = checks.create(to=TO, code=started.code)
    assert (old.sid, old.status, old.valid) == (fresh.sid, "pending", False)
    new = checks.create(to=TO, code=outbox.last_code(fresh.sid))
    assert (new.sid, new.status, new.valid) == (fresh.sid, "approved", True)


def test_a_resend_does_not_extend_the_verification_ttl(
    twilio: Client, redis_client: redis.Redis, started: Started
) -> None:
    """A resend keeps the verification's expiry: PTTL after it is no longer than before."""
    assert redis_client.pexpire(started.key, HALF_LIFE_MS)
    before = redis_client.pttl(started.key)

    resent = twilio.verify.v2.services(started.service_sid).verifications.create(
        to=TO, channel="sms"
    )

    after = redis_client.pttl(started.key)
    assert resent.sid == started.verification_sid
    assert len(resent.send_code_attempts) == 2
    assert 0 < after <= before <= HALF_LIFE_MS

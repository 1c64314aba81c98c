"""Wrong-code limits (issue 11, item 3; docs/mfa.md "Limits"): per factor, 5 wrong codes
within 15 minutes; then every answer, the right code included, is refused with 429 — 60308 for
challenges, 60310 for factor verification — until the window that began with the first wrong
code has passed. The windows are measured in Redis's time (docs/mfa.md, "Limits"): a test passes
one by moving its start back in Redis, and moves the server's clock for the TOTP steps. A wrong
code itself is no error: the challenge stays `pending`, the factor `unverified` (Twilio's
behaviour since October 2021)."""

from __future__ import annotations

import pytest
import redis
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.e2e.mfa.conftest import NOW, at, create_factor, create_service, enrolled, secret_for
from tests.support.fakes import FixedClock
from tests.support.mfa import age_wrong_code_windows
from tests.support.totp import Totp, wrong

STEP = NOW // 30
WINDOW_S = 15 * 60


def totp_for(label: str) -> Totp:
    return Totp(secret_for(label, Totp(""), range(STEP - 1, STEP + 40)))


def test_the_sixth_challenge_answer_after_five_wrong_codes_is_refused_until_the_window_ends(
    client: Client, server_clock: FixedClock, redis_client: redis.Redis
) -> None:
    totp = totp_for("challenge-limit")
    factor = enrolled(client, server_clock, create_service(client), totp)
    start = NOW + 300
    at(server_clock, start)
    right = totp.at(start)
    for _ in range(5):
        assert factor.challenge(wrong(right)) == "pending"

    with pytest.raises(TwilioRestException) as refused:
        factor.challenge(right)
    assert (refused.value.status, refused.value.code) == (429, 60308)

    at(server_clock, start + WINDOW_S + 1)  # the server's clock does not end the window
    with pytest.raises(TwilioRestException) as refused:
        factor.challenge(totp.at(start + WINDOW_S + 1))
    assert (refused.value.status, refused.value.code) == (429, 60308)
    age_wrong_code_windows(redis_client, WINDOW_S)
    assert factor.challenge(totp.at(start + WINDOW_S + 1)) == "approved"


def test_the_sixth_factor_verification_after_five_wrong_codes_is_refused_until_the_window_ends(
    client: Client, server_clock: FixedClock, redis_client: redis.Redis
) -> None:
    totp = totp_for("verify-limit")
    factor = create_factor(client, create_service(client), totp)
    right = totp.at(NOW)
    for _ in range(5):
        assert factor.verify(wrong(right)) == "unverified"

    with pytest.raises(TwilioRestException) as refused:
        factor.entity.factors(factor.sid).update(auth_payload=right)
    assert (refused.value.status, refused.value.code) == (429, 60310)
    assert factor.entity.factors(factor.sid).fetch().status == "unverified"

    age_wrong_code_windows(redis_client, WINDOW_S)
    at(server_clock, NOW + WINDOW_S + 1)
    assert factor.verify(totp.at(NOW + WINDOW_S + 1)) == "verified"


def test_wrong_codes_of_one_factor_do_not_count_against_another(
    client: Client, server_clock: FixedClock
) -> None:
    service_sid = create_service(client)
    first = enrolled(client, server_clock, service_sid, totp_for("first"))
    second = enrolled(client, server_clock, service_sid, totp_for("second"), friendly_name="B")
    at(server_clock, NOW + 300)
    for _ in range(5):
        assert first.challenge(wrong(first.totp.at(NOW + 300))) == "pending"

    assert second.challenge(second.totp.at(NOW + 300)) == "approved"

"""A TOTP code is accepted at most once per factor (issue 11, item 4): the factor keeps the
last accepted time step and a code of that step or an earlier one is denied, atomically, so
that of 16 challenges racing with the same right code exactly one is approved."""

from __future__ import annotations

import time
from collections import Counter

from twilio.rest import Client

from tests.e2e.mfa.conftest import (
    IDENTITY,
    NOW,
    at,
    create_factor,
    create_service,
    enrolled,
    secret_for,
)
from tests.support.core_specs import run_together
from tests.support.fakes import FixedClock
from tests.support.processes import ApiServer
from tests.support.totp import Totp

STEP = NOW // 30


def totp_for(label: str) -> Totp:
    return Totp(secret_for(label, Totp(""), range(STEP - 2, STEP + 14)))


def test_a_code_that_approved_a_challenge_is_denied_the_second_time(
    client: Client, server_clock: FixedClock
) -> None:
    totp = totp_for("twice")
    factor = enrolled(client, server_clock, create_service(client), totp)
    at(server_clock, NOW + 10 * 30)
    code = totp.at(NOW + 10 * 30)

    assert factor.challenge(code) == "approved"
    assert factor.challenge(code) == "denied"


def test_the_code_that_verified_the_factor_does_not_approve_a_challenge(
    client: Client, server_clock: FixedClock
) -> None:
    """Verifying the factor consumes its code's step like a challenge does."""
    totp = totp_for("verify-then-challenge")
    factor = create_factor(client, create_service(client), totp)
    code = totp.at(NOW)
    assert factor.verify(code) == "verified"

    assert factor.challenge(code) == "denied"


def test_a_code_is_denied_when_answering_a_pending_challenge_after_it_was_used(
    client: Client, server_clock: FixedClock
) -> None:
    """POST …/Challenges/{YC} with a code already accepted leaves the challenge unapproved."""
    totp = totp_for("pending-answer")
    factor = enrolled(client, server_clock, create_service(client), totp)
    at(server_clock, NOW + 10 * 30)
    code = totp.at(NOW + 10 * 30)
    pending = factor.entity.challenges.create(factor_sid=factor.sid)
    assert pending.status == "pending"
    assert factor.challenge(code) == "approved"

    answered = factor.entity.challenges(pending.sid).update(auth_payload=code)

    assert answered.status == "denied"
    assert factor.entity.challenges(pending.sid).fetch().status == "denied"


def test_a_code_of_an_earlier_step_is_denied_once_a_later_one_was_accepted(
    client: Client, server_clock: FixedClock
) -> None:
    """With skew 1, the codes of steps s-1, s and s+1 are all in the window at step s; once
    the code of s+1 was accepted, those of s and s-1 are denied."""
    totp = totp_for("earlier-step")
    factor = enrolled(client, server_clock, create_service(client), totp)
    at(server_clock, (STEP + 10) * 30 + 15)

    assert factor.challenge(totp.at_step(STEP + 11)) == "approved"
    assert factor.challenge(totp.at_step(STEP + 10)) == "denied"
    assert factor.challenge(totp.at_step(STEP + 9)) == "denied"


def test_a_later_step_is_still_accepted_after_an_earlier_one(
    client: Client, server_clock: FixedClock
) -> None:
    """Replay protection closes only the steps up to the last accepted one."""
    totp = totp_for("later-step")
    factor = enrolled(client, server_clock, create_service(client), totp)
    at(server_clock, (STEP + 10) * 30 + 15)

    assert factor.challenge(totp.at_step(STEP + 9)) == "approved"
    assert factor.challenge(totp.at_step(STEP + 10)) == "approved"
    assert factor.challenge(totp.at_step(STEP + 11)) == "approved"


def test_sixteen_concurrent_challenges_with_the_same_right_code_approve_exactly_one(
    twilio: Client, api_server: ApiServer
) -> None:
    """On the gunicorn server (several processes, the wall clock): 16 challenges released
    together with one right code; exactly one is approved, and every other is denied or
    refused by the wrong-code limit (429 60308), never a 5xx.

    The wall clock is not the test's: the factor has 60 s steps and skew 2, it is verified
    with the code of the step before now and the race uses the code of the step after, so
    both stay inside the window for at least a minute whatever second this runs at."""
    now = int(time.time())
    totp = Totp(secret_for("race"), 60, 6, "sha1")
    service_sid = str(twilio.verify.v2.services.create(friendly_name="Acme").sid)
    factor = create_factor(twilio, service_sid, totp, skew=2)
    assert factor.verify(totp.at(now - 60)) == "verified"
    code = totp.at(now + 60)
    url = f"{api_server.url}/v2/Services/{service_sid}/Entities/{IDENTITY}/Challenges"

    responses = run_together(
        16,
        lambda session, _: session.post(
            url, data={"FactorSid": factor.sid, "AuthPayload": code}, timeout=30
        ),
    )

    outcomes = Counter(
        (r.status_code, r.json()["status"] if r.status_code == 201 else r.json()["code"])
        for r in responses
    )
    assert outcomes[(201, "approved")] == 1, outcomes
    assert set(outcomes) <= {(201, "approved"), (201, "denied"), (429, 60308)}, outcomes
    statuses = Counter(c.status for c in factor.entity.challenges.list())
    assert statuses["approved"] == 1, statuses

"""TOTP challenges through the official twilio SDK (over the in-process app, whose clock the
test holds) against a real Redis: answered on create or later, wrong codes (pending,
counted, 60308 and its window), replay, skew both ways, expiry by the clock, details,
list filters and order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.fakes import FixedClock
from tests.support.flask_sdk import sdk_client
from tests.support.mfa import (
    IDENTITY,
    age_wrong_code_windows,
    other_code,
    refusal,
    refusal_message,
    totp_code,
)


@pytest.fixture
def twilio(app: Flask) -> Client:
    return sdk_client(app.test_client())


class Enrolled:
    """A verified TOTP factor of IDENTITY (skew 1, 30 s steps), and a code maker."""

    def __init__(self, twilio: Client, clock: FixedClock, **config: Any) -> None:
        created = twilio.verify.v2.services.create(friendly_name="Acme")
        self.service = twilio.verify.v2.services(created.sid)
        self.entity = self.service.entities(IDENTITY)
        factor = self.entity.new_factors.create(friendly_name="phone", factor_type="totp", **config)
        self.sid = factor.sid
        self.secret = factor.binding["secret"]
        self.clock = clock
        self.entity.factors(self.sid).update(auth_payload=self.code())
        # Five steps on: the verification used that step (and the ones before it).
        clock.advance(5 * 30)

    def code(self, steps: int = 0) -> str:
        return totp_code(self.secret, self.clock.now, steps=steps)

    def challenge(self, **params: Any) -> Any:
        return self.entity.challenges.create(factor_sid=self.sid, **params)


@pytest.fixture
def enrolled(twilio: Client, clock: FixedClock) -> Enrolled:
    return Enrolled(twilio, clock)


def test_a_challenge_with_the_right_code_is_approved_at_once(
    enrolled: Enrolled, clock: FixedClock
) -> None:
    challenge = enrolled.challenge(auth_payload=enrolled.code())
    assert (challenge.status, challenge.responded_reason, challenge.factor_type) == (
        "approved",
        "none",
        "totp",
    )
    assert challenge.date_responded == datetime.fromtimestamp(clock.now // 1000, UTC)
    assert challenge.expiration_date == challenge.date_created + timedelta(minutes=5)
    assert challenge.factor_sid == enrolled.sid
    factor = enrolled.entity.factors(enrolled.sid).fetch()
    assert factor.status == "verified"


def test_a_challenge_without_a_code_is_pending_until_answered(enrolled: Enrolled) -> None:
    challenge = enrolled.challenge()
    assert (challenge.status, challenge.date_responded) == ("pending", None)
    context = enrolled.entity.challenges(challenge.sid)
    answered = context.update(auth_payload=enrolled.code(), metadata={"os": "iOS"})
    assert answered.status == "approved"
    assert answered.metadata == {"os": "iOS"}
    assert context.fetch().status == "approved"
    # Answered: a second answer is refused and changes nothing.
    assert refusal(lambda: context.update(auth_payload=enrolled.code(1))) == (400, 60306)
    assert context.fetch().status == "approved"


def test_a_wrong_code_leaves_the_challenge_pending(enrolled: Enrolled) -> None:
    """Twilio: an incorrect AuthPayload is no error (docs, "Verify TOTP: Change in API
    response when AuthPayload is incorrect"); the challenge can still be answered."""
    challenge = enrolled.challenge(auth_payload=other_code(enrolled.code()))
    assert (challenge.status, challenge.date_responded) == ("pending", None)
    context = enrolled.entity.challenges(challenge.sid)
    assert context.update(auth_payload=other_code(enrolled.code())).status == "pending"
    assert context.update(auth_payload=enrolled.code()).status == "approved"


def test_a_used_code_is_denied(enrolled: Enrolled) -> None:
    """A code is accepted once per factor: its time step is then used up."""
    code = enrolled.code()
    assert enrolled.challenge(auth_payload=code).status == "approved"
    replayed = enrolled.challenge(auth_payload=code)
    assert replayed.status == "denied"
    assert replayed.date_responded is not None
    # So is any earlier step's code, still inside the skew window.
    assert enrolled.challenge(auth_payload=enrolled.code(-1)).status == "denied"


def test_the_code_used_to_verify_the_factor_is_not_accepted_again(
    twilio: Client, clock: FixedClock
) -> None:
    enrolled = Enrolled(twilio, clock)
    clock.advance(-5 * 30)  # back to the step whose code verified the factor
    assert enrolled.challenge(auth_payload=enrolled.code()).status == "denied"


@pytest.mark.parametrize("steps", [-1, 1])
def test_a_code_one_step_off_is_accepted_with_skew_1(enrolled: Enrolled, steps: int) -> None:
    assert enrolled.challenge(auth_payload=enrolled.code(steps)).status == "approved"


@pytest.mark.parametrize("steps", [-2, 2])
def test_a_code_two_steps_off_is_wrong_with_skew_1(enrolled: Enrolled, steps: int) -> None:
    assert enrolled.challenge(auth_payload=enrolled.code(steps)).status == "pending"


def test_skew_0_accepts_only_the_current_step(twilio: Client, clock: FixedClock) -> None:
    enrolled = Enrolled(twilio, clock, config_skew=0)
    assert enrolled.challenge(auth_payload=enrolled.code(1)).status == "pending"
    assert enrolled.challenge(auth_payload=enrolled.code(-1)).status == "pending"
    assert enrolled.challenge(auth_payload=enrolled.code()).status == "approved"


def test_skew_2_accepts_two_steps_either_way(twilio: Client, clock: FixedClock) -> None:
    enrolled = Enrolled(twilio, clock, config_skew=2)
    assert enrolled.challenge(auth_payload=enrolled.code(-3)).status == "pending"
    assert enrolled.challenge(auth_payload=enrolled.code(-2)).status == "approved"
    assert enrolled.challenge(auth_payload=enrolled.code(3)).status == "pending"
    assert enrolled.challenge(auth_payload=enrolled.code(2)).status == "approved"


def test_the_sixth_answer_in_15_minutes_is_60308_even_when_right(
    enrolled: Enrolled, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """The window is Redis's time (docs/mfa.md, "Limits"): the test moves its start back."""
    pending = enrolled.challenge()
    context = enrolled.entity.challenges(pending.sid)
    for _ in range(5):
        assert context.update(auth_payload=other_code(enrolled.code())).status == "pending"
    assert refusal(lambda: context.update(auth_payload=enrolled.code())) == (429, 60308)
    assert refusal(lambda: enrolled.challenge(auth_payload=enrolled.code())) == (429, 60308)
    age_wrong_code_windows(redis_client, 14 * 60)
    clock.advance(14 * 60)
    fresh = enrolled.challenge()  # a challenge without a code is still created
    assert refusal(
        lambda: enrolled.entity.challenges(fresh.sid).update(auth_payload=enrolled.code())
    ) == (429, 60308)
    age_wrong_code_windows(redis_client, 60)
    clock.advance(30)
    assert enrolled.entity.challenges(fresh.sid).update(auth_payload=enrolled.code()).status == (
        "approved"
    )


def test_a_right_code_resets_the_wrong_code_count(enrolled: Enrolled, clock: FixedClock) -> None:
    for _ in range(4):
        enrolled.challenge(auth_payload=other_code(enrolled.code()))
    assert enrolled.challenge(auth_payload=enrolled.code()).status == "approved"
    clock.advance(30)
    for _ in range(5):
        assert enrolled.challenge(auth_payload=other_code(enrolled.code())).status == "pending"
    assert refusal(lambda: enrolled.challenge(auth_payload=enrolled.code())) == (429, 60308)


def test_a_pending_challenge_expires_by_the_clock(enrolled: Enrolled, clock: FixedClock) -> None:
    challenge = enrolled.challenge()
    context = enrolled.entity.challenges(challenge.sid)
    clock.advance(5 * 60 - 1)
    assert context.fetch().status == "pending"
    clock.advance(1)
    assert context.fetch().status == "expired"
    assert refusal(lambda: context.update(auth_payload=enrolled.code())) == (403, 60323)
    assert [c.sid for c in enrolled.entity.challenges.list(status="expired")] == [challenge.sid]


def test_expiration_date_is_honoured_up_to_60_minutes(
    enrolled: Enrolled, clock: FixedClock
) -> None:
    now = datetime.fromtimestamp(clock.now // 1000, UTC)
    challenge = enrolled.challenge(expiration_date=now + timedelta(minutes=60))
    assert challenge.expiration_date == now + timedelta(minutes=60)
    for when in (now - timedelta(seconds=1), now + timedelta(minutes=60, seconds=1)):
        create = lambda when=when: enrolled.challenge(expiration_date=when)  # noqa: E731
        assert refusal(create) == (400, 60306)
        assert "ExpirationDate" in refusal_message(create)
    clock.advance(59 * 60)
    assert enrolled.entity.challenges(challenge.sid).fetch().status == "pending"


def test_details_hidden_details_and_metadata_are_stored_and_returned(enrolled: Enrolled) -> None:
    fields = [{"label": "Action", "value": "Sign in"}, {"label": "IP", "value": "10.0.0.1"}]
    challenge = enrolled.challenge(
        details_message="Sign in to Acme?", details_fields=fields, hidden_details={"ip": "1"}
    )
    fetched = enrolled.entity.challenges(challenge.sid).fetch()
    assert fetched.details["message"] == "Sign in to Acme?"
    assert fetched.details["fields"] == fields
    assert fetched.hidden_details == {"ip": "1"}
    assert fetched.metadata is None


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"details_fields": [{"label": "x"}]}, "Details.Fields"),
        ({"details_fields": [{"label": "a", "value": "b"}] * 21}, "Details.Fields"),
        ({"details_fields": [{"label": "x" * 37, "value": "b"}]}, "Details.Fields"),
        ({"details_message": "x" * 257}, "Details.Message"),
        ({"hidden_details": "not json"}, "HiddenDetails"),
        ({"hidden_details": {"k": "v" * 1024}}, "HiddenDetails"),
        ({"auth_payload": "12"}, "AuthPayload"),
    ],
)
def test_a_bad_challenge_parameter_is_60306_naming_it(
    enrolled: Enrolled, params: dict[str, Any], named: str
) -> None:
    assert refusal(lambda: enrolled.challenge(**params)) == (400, 60306)
    assert named in refusal_message(lambda: enrolled.challenge(**params))
    assert enrolled.entity.challenges.list() == []


def test_an_unverified_factor_cannot_be_challenged(twilio: Client, clock: FixedClock) -> None:
    created = twilio.verify.v2.services.create(friendly_name="Acme")
    entity = twilio.verify.v2.services(created.sid).entities(IDENTITY)
    factor = entity.new_factors.create(friendly_name="phone", factor_type="totp")
    code = totp_code(factor.binding["secret"], clock.now)
    create = lambda: entity.challenges.create(factor_sid=factor.sid, auth_payload=code)  # noqa: E731
    assert refusal(create) == (403, 60318)
    assert "unverified" in refusal_message(create)
    assert entity.challenges.list() == []


def test_a_challenge_of_an_unknown_factor_is_404(enrolled: Enrolled) -> None:
    assert refusal(lambda: enrolled.entity.challenges.create(factor_sid="YF" + "0" * 32)) == (
        404,
        20404,
    )


def test_the_list_filters_by_factor_and_status_and_orders(
    twilio: Client, clock: FixedClock
) -> None:
    enrolled = Enrolled(twilio, clock)
    second = enrolled.entity.new_factors.create(friendly_name="tablet", factor_type="totp")
    second_code = totp_code(second.binding["secret"], clock.now)
    enrolled.entity.factors(second.sid).update(auth_payload=second_code)
    approved = enrolled.challenge(auth_payload=enrolled.code())
    clock.advance(1)
    pending = enrolled.challenge()
    clock.advance(1)
    other = enrolled.entity.challenges.create(factor_sid=second.sid)
    challenges = enrolled.entity.challenges
    assert [c.sid for c in challenges.list()] == [approved.sid, pending.sid, other.sid]
    assert [c.sid for c in challenges.list(order="desc")] == [other.sid, pending.sid, approved.sid]
    assert [c.sid for c in challenges.list(factor_sid=enrolled.sid)] == [approved.sid, pending.sid]
    assert [c.sid for c in challenges.list(status="pending")] == [pending.sid, other.sid]
    assert [c.sid for c in challenges.list(status="approved")] == [approved.sid]
    assert [c.sid for c in challenges.list(page_size=1, factor_sid=enrolled.sid)] == [
        approved.sid,
        pending.sid,
    ]
    with pytest.raises(TwilioException):
        challenges.list(status="unknown")


def test_a_refusal_past_the_limit_says_when_to_retry(
    app: Flask, enrolled: Enrolled, redis_client: redis.Redis
) -> None:
    """`Retry-After`: the seconds until the window that began with the first wrong code
    ends (in Redis's time: the test moves the window's start back), and the message says
    the lock is on the factor and when it ends."""
    pending = enrolled.challenge()
    context = enrolled.entity.challenges(pending.sid)
    for _ in range(5):
        context.update(auth_payload=other_code(enrolled.code()))
    age_wrong_code_windows(redis_client, 100)
    service_sid = enrolled.service._solution["sid"]
    response = app.test_client().post(
        f"/v2/Services/{service_sid}/Entities/{IDENTITY}/Challenges/{pending.sid}",
        data={"AuthPayload": enrolled.code()},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
    )
    assert (response.status_code, response.json["code"]) == (429, 60308)  # type: ignore[index]
    # A few ms of real time pass between the wrong codes and this answer.
    assert response.headers["Retry-After"] in (str(15 * 60 - 101), str(15 * 60 - 100))
    assert response.json["message"] == (  # type: ignore[index]
        "Max challenge verification attempts reached: too many wrong codes for this factor;"
        " try again in 14 minutes"
    )

"""Challenges expire by the server's clock (issue 11, items 3 and 8): ExpirationDate defaults
to five minutes after creation and may be at most sixty; a pending challenge past it reads
`expired` and no code approves it. The test moves the server's clock; nothing waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.e2e.mfa.conftest import NOW, Factor, at, create_service, enrolled, secret_for
from tests.support.fakes import FixedClock
from tests.support.totp import Totp

CREATED = NOW + 300  # ten steps after the factor was verified at NOW
CREATED_AT = datetime.fromtimestamp(CREATED, UTC)


@pytest.fixture
def factor(client: Client, server_clock: FixedClock) -> Factor:
    totp = Totp(secret_for("expiry"), 30, 6, "sha1")
    verified = enrolled(client, server_clock, create_service(client), totp)
    at(server_clock, CREATED)
    return verified


def answer(factor: Factor, challenge_sid: str, code: str) -> str:
    """The challenge's status after POSTing the code to it (an error answer is allowed: the
    spec is what the challenge reads afterwards)."""
    try:
        factor.entity.challenges(challenge_sid).update(auth_payload=code)
    except TwilioRestException as error:
        if not 400 <= error.status < 500:
            raise
    return str(factor.entity.challenges(challenge_sid).fetch().status)


def test_expiration_date_defaults_to_five_minutes_after_creation(factor: Factor) -> None:
    challenge = factor.entity.challenges.create(factor_sid=factor.sid)
    assert challenge.date_created == CREATED_AT
    assert challenge.expiration_date == CREATED_AT + timedelta(minutes=5)
    assert (challenge.status, challenge.responded_reason) == ("pending", "none")


def test_a_pending_challenge_past_its_expiration_date_reads_expired_and_cannot_be_approved(
    factor: Factor, server_clock: FixedClock
) -> None:
    challenge = factor.entity.challenges.create(factor_sid=factor.sid)
    at(server_clock, CREATED + 299)
    assert factor.entity.challenges(challenge.sid).fetch().status == "pending"

    at(server_clock, CREATED + 301)

    assert factor.entity.challenges(challenge.sid).fetch().status == "expired"
    listed = factor.entity.challenges.list(status="expired")
    assert [c.sid for c in listed] == [challenge.sid]
    assert factor.entity.challenges.list(status="pending") == []
    assert answer(factor, challenge.sid, factor.totp.at(CREATED + 301)) == "expired"


def test_a_given_expiration_date_is_kept_and_honoured(
    factor: Factor, server_clock: FixedClock
) -> None:
    expires = CREATED_AT + timedelta(minutes=2)
    challenge = factor.entity.challenges.create(factor_sid=factor.sid, expiration_date=expires)
    assert challenge.expiration_date == expires

    at(server_clock, CREATED + 119)
    assert answer(factor, challenge.sid, factor.totp.at(CREATED + 119)) == "approved"

    late = factor.entity.challenges.create(factor_sid=factor.sid, expiration_date=expires)
    at(server_clock, CREATED + 121)
    assert answer(factor, late.sid, factor.totp.at(CREATED + 150)) == "expired"


def test_an_answered_challenge_keeps_its_status_after_its_expiration_date(
    factor: Factor, server_clock: FixedClock
) -> None:
    approved = factor.entity.challenges.create(
        factor_sid=factor.sid, auth_payload=factor.totp.at(CREATED)
    )
    assert approved.status == "approved"
    at(server_clock, CREATED + 3600)
    assert factor.entity.challenges(approved.sid).fetch().status == "approved"


def test_expiration_date_may_be_sixty_minutes_after_creation_and_no_more(
    factor: Factor,
) -> None:
    """Sixty minutes is accepted as given; a second more is a 400 (60306) and no challenge
    is stored."""
    longest = CREATED_AT + timedelta(minutes=60)
    accepted = factor.entity.challenges.create(factor_sid=factor.sid, expiration_date=longest)
    assert accepted.expiration_date == longest

    with pytest.raises(TwilioRestException) as refused:
        factor.entity.challenges.create(
            factor_sid=factor.sid, expiration_date=longest + timedelta(seconds=1)
        )

    assert (refused.value.status, refused.value.code) == (400, 60306)
    assert [c.sid for c in factor.entity.challenges.list()] == [accepted.sid]


def test_an_expiration_date_in_the_past_is_refused(factor: Factor) -> None:
    with pytest.raises(TwilioRestException) as refused:
        factor.entity.challenges.create(
            factor_sid=factor.sid, expiration_date=CREATED_AT - timedelta(seconds=1)
        )
    assert (refused.value.status, refused.value.code) == (400, 60306)
    assert factor.entity.challenges.list() == []

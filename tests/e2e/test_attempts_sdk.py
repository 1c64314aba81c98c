"""The attempt history through the official twilio SDK against the real server (gunicorn,
worker, real Redis): Verification Attempts list (filters, paging), fetch, and Summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.support.outbox import Outbox

US = "+14155552671"
GB = "+447400123456"


def test_list_fetch_and_summary(twilio: Client, outbox: Outbox) -> None:
    service = twilio.verify.v2.services.create(friendly_name="Attempts")
    verify = twilio.verify.v2.services(service.sid)
    first = verify.verifications.create(to=US, channel="sms")
    verify.verifications.create(to=US, channel="sms")  # a resend
    verify.verifications.create(to=GB, channel="call")
    verify.verifications.create(to="someone@example.com", channel="email")
    outbox.wait_until_drained()
    code = outbox.last_code(first.sid)
    assert verify.verification_checks.create(to=US, code=code).status == "approved"

    attempts = twilio.verify.v2.verification_attempts.list(verify_service_sid=service.sid)
    assert len(attempts) == 4
    newest = attempts[0]
    assert newest.channel == "email"
    assert newest.channel_data["to"] == "•••@example.com"
    assert newest.conversion_status == "unconverted"
    assert isinstance(newest.date_created, datetime)

    mine = twilio.verify.v2.verification_attempts.list(verification_sid=first.sid)
    assert len(mine) == 2
    assert {a.conversion_status for a in mine} == {"converted"}
    assert {a.channel_data["to"] for a in mine} == {"+14•••••••71"}
    assert {a.channel_data["message_status"] for a in mine} == {"sent"}

    assert [a.channel for a in twilio.verify.v2.verification_attempts.list(country="GB")] == [
        "call"
    ]
    to = twilio.verify.v2.verification_attempts.list(channel_data_to=US)
    assert len(to) == 2
    converted = twilio.verify.v2.verification_attempts.list(status="converted")
    assert len(converted) == 2
    recent = twilio.verify.v2.verification_attempts.list(
        date_created_after=datetime.now(UTC) - timedelta(minutes=5)
    )
    assert len(recent) == 4

    # Paging: the SDK follows next_page_url (PageToken) until it is null.
    paged = list(twilio.verify.v2.verification_attempts.stream(page_size=1))
    assert [a.sid for a in paged] == [a.sid for a in attempts]

    fetched = twilio.verify.v2.verification_attempts(mine[0].sid).fetch()
    assert (fetched.sid, fetched.verification_sid, fetched.conversion_status) == (
        mine[0].sid,
        first.sid,
        "converted",
    )

    summary = twilio.verify.v2.verification_attempts_summary().fetch(verify_service_sid=service.sid)
    assert (summary.total_attempts, summary.total_converted, summary.total_unconverted) == (
        4,
        2,
        2,
    )
    assert summary.conversion_rate_percentage == "50"
    by_country = twilio.verify.v2.verification_attempts_summary().fetch(country="US")
    assert by_country.total_attempts == 2
    assert by_country.conversion_rate_percentage == "100"
    prefix = twilio.verify.v2.verification_attempts_summary().fetch(destination_prefix="+44")
    assert prefix.total_attempts == 1


def test_unknown_attempt_is_20404(twilio: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        twilio.verify.v2.verification_attempts("VL" + "0" * 32).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)

"""A verification's life through the official twilio SDK against the real server.

Start (and resend), check, fetch, cancel and approve; the limits on sends and checks; the
message the console provider delivered; PSD2, custom codes and parameter validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.verify.v2.service import ServiceContext

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer

TO = "+14155552671"
OTHER_TO = "+14155552672"
SID = re.compile(r"^[0-9a-f]{32}$")
WARNING = "Don’t share this code with anyone; our employees will never ask for the code"


def error_of(action: Callable[[], object]) -> tuple[int, int]:
    """The (HTTP status, Twilio code) of the TwilioRestException `action` raises."""
    with pytest.raises(TwilioRestException) as caught:
        action()
    return caught.value.status, caught.value.code


def wrong(code: str) -> str:
    """A code of the same shape that differs from `code` in every digit."""
    return "".join(str((int(digit) + 1) % 10) for digit in code)


def new_service(twilio: Client, **params: Any) -> ServiceContext:
    params.setdefault("friendly_name", "Acme")
    created = twilio.verify.v2.services.create(**params)
    return twilio.verify.v2.services(created.sid)


def sid_of(service: ServiceContext) -> str:
    """The VA sid a service context addresses."""
    sid: str = service._solution["sid"]
    return sid


def has_sid(value: object, prefix: str) -> bool:
    return isinstance(value, str) and value[:2] == prefix and bool(SID.match(value[2:]))


@pytest.fixture
def service(twilio: Client) -> ServiceContext:
    """A service with Twilio's defaults, named Acme."""
    return new_service(twilio)


# -- start ---------------------------------------------------------------------------------


def test_start_returns_every_twilio_field(
    twilio: Client, service: ServiceContext, api_server: ApiServer
) -> None:
    """A start answers 201 with every field of Twilio's verification resource."""
    before = datetime.now(UTC).replace(microsecond=0)
    verification = service.verifications.create(to=TO, channel="sms")
    after = datetime.now(UTC) + timedelta(seconds=1)

    assert twilio.http_client._test_only_last_response.status_code == 201
    assert has_sid(verification.sid, "VE")
    assert verification.service_sid == sid_of(service)
    assert verification.account_sid == ACCOUNT_SID
    assert (verification.to, verification.channel) == (TO, "sms")
    assert (verification.status, verification.valid) == ("pending", False)
    assert verification.lookup == {}
    assert (verification.amount, verification.payee) == (None, None)
    assert verification.sna is None
    [attempt] = verification.send_code_attempts
    assert set(attempt) == {"time", "channel", "attempt_sid"}
    assert attempt["channel"] == "SMS"
    assert has_sid(attempt["attempt_sid"], "VL")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", attempt["time"])
    for moment in (verification.date_created, verification.date_updated):
        assert isinstance(moment, datetime)
        assert before <= moment <= after
    assert verification.url == (
        f"{api_server.url}/v2/Services/{verification.service_sid}/Verifications/{verification.sid}"
    )


def test_start_for_an_unknown_service_is_rejected_with_20404(twilio: Client) -> None:
    """Starting on a service that does not exist is 404/20404."""
    unknown = twilio.verify.v2.services("VA" + "0" * 32)
    assert error_of(lambda: unknown.verifications.create(to=TO, channel="sms")) == (404, 20404)


def test_second_start_while_pending_is_a_resend_on_the_same_verification(
    service: ServiceContext,
) -> None:
    """A second start for the same To while pending adds a send to the same VE sid."""
    first = service.verifications.create(to=TO, channel="sms")
    second = service.verifications.create(to=TO, channel="sms")
    assert second.sid == first.sid
    assert second.status == "pending"
    assert [a["channel"] for a in second.send_code_attempts] == ["SMS", "SMS"]
    first_attempt, second_attempt = (a["attempt_sid"] for a in second.send_code_attempts)
    assert first_attempt == first.send_code_attempts[0]["attempt_sid"]
    assert second_attempt != first_attempt


def test_resend_may_switch_the_channel(service: ServiceContext) -> None:
    """A resend by call after an SMS keeps the VE sid; the verification's channel follows."""
    first = service.verifications.create(to=TO, channel="sms")
    second = service.verifications.create(to=TO, channel="call")
    assert second.sid == first.sid
    assert [a["channel"] for a in second.send_code_attempts] == ["SMS", "CALL"]
    assert second.channel == "call"


@pytest.mark.parametrize("which", [0, 1], ids=["first code", "resent code"])
def test_every_code_sent_stays_valid_until_the_verification_ends(
    service: ServiceContext, outbox: Outbox, which: int
) -> None:
    """After a resend, each code delivered during the verification approves it."""
    verification = service.verifications.create(to=TO, channel="sms")
    service.verifications.create(to=TO, channel="sms")
    codes = outbox.codes_for(verification.sid)
    assert len(codes) == 2
    check = service.verification_checks.create(to=TO, code=codes[which])
    assert (check.sid, check.status, check.valid) == (verification.sid, "approved", True)


def test_fetch_returns_the_pending_verification(
    service: ServiceContext, api_server: ApiServer
) -> None:
    """Fetching a pending verification returns it, with every Twilio field."""
    started = service.verifications.create(to=TO, channel="sms")
    fetched = service.verifications(started.sid).fetch()
    assert (fetched.sid, fetched.to, fetched.channel) == (started.sid, TO, "sms")
    assert (fetched.status, fetched.valid) == ("pending", False)
    assert fetched.send_code_attempts == started.send_code_attempts
    assert fetched.date_created == started.date_created
    assert fetched.url == started.url


def test_sixth_send_is_rejected_with_60203(service: ServiceContext) -> None:
    """Five sends per verification: the sixth start for the same To is 429/60203."""
    for _ in range(5):
        verification = service.verifications.create(to=TO, channel="sms")
    assert len(verification.send_code_attempts) == 5
    assert error_of(lambda: service.verifications.create(to=TO, channel="sms")) == (429, 60203)


def test_canceling_frees_the_send_limit(service: ServiceContext) -> None:
    """After five sends, canceling the verification lets the To start a new one."""
    for _ in range(5):
        verification = service.verifications.create(to=TO, channel="sms")
    service.verifications(verification.sid).update(status="canceled")
    restarted = service.verifications.create(to=TO, channel="sms")
    assert restarted.sid != verification.sid


def test_verification_belongs_to_its_service(twilio: Client, service: ServiceContext) -> None:
    """Another service cannot fetch, check or end a verification by its VE sid (20404)."""
    verification = service.verifications.create(to=TO, channel="sms")
    other = new_service(twilio, friendly_name="Other")
    assert error_of(other.verifications(verification.sid).fetch) == (404, 20404)
    assert error_of(
        lambda: other.verification_checks.create(verification_sid=verification.sid, code="123456")
    ) == (404, 20404)
    assert error_of(lambda: other.verifications(verification.sid).update(status="approved")) == (
        404,
        20404,
    )
    assert service.verifications(verification.sid).fetch().status == "pending"


# -- check ---------------------------------------------------------------------------------


def test_wrong_code_leaves_the_verification_pending(
    service: ServiceContext, outbox: Outbox
) -> None:
    """A wrong code answers status pending, valid False (not an HTTP error)."""
    verification = service.verifications.create(to=TO, channel="sms")
    check = service.verification_checks.create(
        to=TO, code=wrong(outbox.last_code(verification.sid))
    )
    assert (check.sid, check.status, check.valid) == (verification.sid, "pending", False)
    assert service.verifications(verification.sid).fetch().status == "pending"


def test_right_code_approves_and_ends_the_verification(
    service: ServiceContext, outbox: Outbox
) -> None:
    """The right code answers approved/valid; the verification is gone afterwards (20404)."""
    verification = service.verifications.create(to=TO, channel="sms")
    code = outbox.last_code(verification.sid)
    check = service.verification_checks.create(to=TO, code=code)
    assert (check.sid, check.status, check.valid) == (verification.sid, "approved", True)
    assert (check.to, check.channel) == (TO, "sms")
    assert check.account_sid == ACCOUNT_SID
    assert isinstance(check.date_updated, datetime)
    assert error_of(service.verifications(verification.sid).fetch) == (404, 20404)
    assert error_of(lambda: service.verification_checks.create(to=TO, code=code)) == (404, 20404)


def test_check_by_verification_sid_approves(service: ServiceContext, outbox: Outbox) -> None:
    """A check may name the verification by its VE sid instead of To."""
    verification = service.verifications.create(to=TO, channel="sms")
    check = service.verification_checks.create(
        verification_sid=verification.sid, code=outbox.last_code(verification.sid)
    )
    assert (check.sid, check.to, check.status, check.valid) == (
        verification.sid,
        TO,
        "approved",
        True,
    )


def test_check_by_to_accepts_another_spelling_of_the_number(
    service: ServiceContext, outbox: Outbox
) -> None:
    """A check by To finds the verification whatever the number's punctuation."""
    verification = service.verifications.create(to=TO, channel="sms")
    check = service.verification_checks.create(
        to="+1 (415) 555-2671", code=outbox.last_code(verification.sid)
    )
    assert (check.sid, check.status) == (verification.sid, "approved")


def test_check_without_a_pending_verification_is_rejected_with_20404(
    service: ServiceContext,
) -> None:
    """Checking a To or VE sid that has no pending verification is 404/20404."""
    assert error_of(lambda: service.verification_checks.create(to=TO, code="123456")) == (
        404,
        20404,
    )
    assert error_of(
        lambda: service.verification_checks.create(verification_sid="VE" + "0" * 32, code="123456")
    ) == (404, 20404)


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"to": TO, "code": "123"}, "a code shorter than 4"),
        ({"to": TO, "code": "12345678901"}, "a code longer than 10"),
        ({"to": TO, "code": "12-456"}, "a code with a symbol"),
        ({"code": "123456"}, "neither To nor VerificationSid"),
        ({"to": "not-a-number", "code": "123456"}, "a To that is no number"),
    ],
)
def test_malformed_check_is_rejected_with_60200(
    service: ServiceContext, params: dict[str, str], why: str
) -> None:
    """A check with a malformed Code or without a destination is 400/60200."""
    service.verifications.create(to=TO, channel="sms")
    assert error_of(lambda: service.verification_checks.create(**params)) == (400, 60200), why


def test_check_count_is_per_verification(service: ServiceContext, outbox: Outbox) -> None:
    """Using up one verification's checks leaves another verification's checks untouched."""
    locked = service.verifications.create(to=TO, channel="sms")
    other = service.verifications.create(to=OTHER_TO, channel="sms")
    for _ in range(5):
        service.verification_checks.create(to=TO, code=wrong(outbox.last_code(locked.sid)))
    for _ in range(4):
        check = service.verification_checks.create(
            to=OTHER_TO, code=wrong(outbox.last_code(other.sid))
        )
        assert check.status == "pending"
    check = service.verification_checks.create(to=OTHER_TO, code=outbox.last_code(other.sid))
    assert (check.sid, check.status, check.valid) == (other.sid, "approved", True)


def test_fifth_wrong_check_answers_max_attempts_reached(
    service: ServiceContext, outbox: Outbox
) -> None:
    """Four wrong checks answer pending; the fifth answers max_attempts_reached, valid False."""
    verification = service.verifications.create(to=TO, channel="sms")
    bad = wrong(outbox.last_code(verification.sid))
    statuses = [service.verification_checks.create(to=TO, code=bad).status for _ in range(4)]
    assert statuses == ["pending"] * 4
    fifth = service.verification_checks.create(to=TO, code=bad)
    assert (fifth.status, fifth.valid) == ("max_attempts_reached", False)
    assert service.verifications(verification.sid).fetch().status == "max_attempts_reached"


def test_right_code_on_the_fifth_check_still_approves(
    service: ServiceContext, outbox: Outbox
) -> None:
    """Four wrong checks leave one: the right code on the fifth check approves."""
    verification = service.verifications.create(to=TO, channel="sms")
    code = outbox.last_code(verification.sid)
    for _ in range(4):
        service.verification_checks.create(to=TO, code=wrong(code))
    check = service.verification_checks.create(to=TO, code=code)
    assert (check.status, check.valid) == ("approved", True)


def test_sixth_check_is_rejected_with_60202_even_with_the_right_code(
    service: ServiceContext, outbox: Outbox
) -> None:
    """After five wrong checks the right code no longer helps: the sixth check is 429/60202."""
    verification = service.verifications.create(to=TO, channel="sms")
    code = outbox.last_code(verification.sid)
    for _ in range(5):
        service.verification_checks.create(to=TO, code=wrong(code))
    assert error_of(lambda: service.verification_checks.create(to=TO, code=code)) == (429, 60202)
    assert error_of(
        lambda: service.verification_checks.create(verification_sid=verification.sid, code=code)
    ) == (429, 60202)


def test_start_for_a_locked_destination_is_rejected_with_60202(
    service: ServiceContext, outbox: Outbox
) -> None:
    """A To whose verification used up its checks cannot start again (429/60202)."""
    verification = service.verifications.create(to=TO, channel="sms")
    for _ in range(5):
        service.verification_checks.create(to=TO, code=wrong(outbox.last_code(verification.sid)))
    assert error_of(lambda: service.verifications.create(to=TO, channel="sms")) == (429, 60202)
    assert len(outbox.messages_for(verification.sid)) == 1


# -- update --------------------------------------------------------------------------------


def test_canceling_ends_the_verification_and_frees_the_destination(
    service: ServiceContext,
) -> None:
    """Status=canceled answers canceled; the VE is gone and a new start gets a new VE sid."""
    verification = service.verifications.create(to=TO, channel="sms")
    canceled = service.verifications(verification.sid).update(status="canceled")
    assert (canceled.sid, canceled.status, canceled.valid) == (verification.sid, "canceled", False)
    assert error_of(service.verifications(verification.sid).fetch) == (404, 20404)
    restarted = service.verifications.create(to=TO, channel="sms")
    assert restarted.sid != verification.sid
    assert len(restarted.send_code_attempts) == 1


def test_approving_by_update_ends_the_verification(service: ServiceContext) -> None:
    """Status=approved answers approved/valid True; the VE is gone afterwards."""
    verification = service.verifications.create(to=TO, channel="sms")
    approved = service.verifications(verification.sid).update(status="approved")
    assert (approved.sid, approved.status, approved.valid) == (verification.sid, "approved", True)
    assert error_of(service.verifications(verification.sid).fetch) == (404, 20404)


def test_updating_to_another_status_is_rejected_with_60200(service: ServiceContext) -> None:
    """Only canceled and approved are valid Status values for an update."""
    verification = service.verifications.create(to=TO, channel="sms")
    assert error_of(lambda: service.verifications(verification.sid).update(status="pending")) == (
        400,
        60200,
    )
    assert service.verifications(verification.sid).fetch().status == "pending"


def test_updating_an_ended_verification_is_rejected_with_20404(service: ServiceContext) -> None:
    """A verification that has ended cannot be canceled or approved again."""
    verification = service.verifications.create(to=TO, channel="sms")
    service.verifications(verification.sid).update(status="canceled")
    for status in ("canceled", "approved"):
        assert error_of(
            lambda status=status: service.verifications(verification.sid).update(status=status)
        ) == (404, 20404)


# -- destinations and channels -------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "given", "normalised"),
    [
        ("email", "Alice@Example.COM", "Alice@example.com"),
        ("email", "  bob@example.org ", "bob@example.org"),
        ("sms", "+1 (415) 555-2671", TO),
        ("whatsapp", "+44 20 7946 0958", "+442079460958"),
        ("call", "+33 1 42 68 53 00", "+33142685300"),
    ],
)
def test_destination_is_normalised(
    service: ServiceContext, outbox: Outbox, channel: str, given: str, normalised: str
) -> None:
    """A start normalises To: E.164 for phones, a lower-case domain for e-mail."""
    verification = service.verifications.create(to=given, channel=channel)
    assert (verification.to, verification.channel) == (normalised, channel)
    [message] = outbox.messages_for(verification.sid)
    assert (message["to"], message["channel"]) == (normalised, channel)


def test_email_verification_is_approved_by_its_code(
    service: ServiceContext, outbox: Outbox
) -> None:
    """An e-mail verification is checked by its address like a phone one by its number."""
    verification = service.verifications.create(to="alice@example.com", channel="email")
    check = service.verification_checks.create(
        to="alice@example.com", code=outbox.last_code(verification.sid)
    )
    assert (check.channel, check.status) == ("email", "approved")


@pytest.mark.parametrize(
    ("to", "channel"),
    [
        (TO, "email"),
        ("alice@example.com", "sms"),
        ("alice@example.com", "call"),
        ("not-an-address", "email"),
    ],
)
def test_destination_of_the_wrong_kind_is_rejected_with_60200(
    service: ServiceContext, to: str, channel: str
) -> None:
    """A phone number on the e-mail channel, or an address on a phone channel, is 400/60200."""
    assert error_of(lambda: service.verifications.create(to=to, channel=channel)) == (400, 60200)


@pytest.mark.parametrize(
    "to",
    ["+1555", "not-a-number", "4155552671", "+1415555267100000", "+", ""],
)
def test_invalid_phone_number_is_rejected_with_60200(service: ServiceContext, to: str) -> None:
    """To must be a valid E.164 number with its leading +."""
    assert error_of(lambda: service.verifications.create(to=to, channel="sms")) == (400, 60200)


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("sna", (403, 60204)),
        ("auto", (403, 60204)),
        ("pigeon", (400, 60200)),
        ("", (400, 60200)),
    ],
)
def test_channel_this_service_does_not_offer_is_rejected(
    service: ServiceContext, channel: str, expected: tuple[int, int]
) -> None:
    """Twilio-only channels (sna, auto) are 403/60204; unknown channels are 400/60200."""
    assert error_of(lambda: service.verifications.create(to=TO, channel=channel)) == expected


# -- the message ---------------------------------------------------------------------------


def test_sms_body_follows_twilio_wording(service: ServiceContext, outbox: Outbox) -> None:
    """The SMS reads "Your {FriendlyName} verification code is: {code}"."""
    verification = service.verifications.create(to=TO, channel="sms")
    [message] = outbox.messages_for(verification.sid)
    assert re.fullmatch(r"Your Acme verification code is: \d{6}", message["body"])


def test_do_not_share_warning_is_appended_to_the_sms(twilio: Client, outbox: Outbox) -> None:
    """With do_not_share_warning_enabled the SMS body carries Twilio's warning after the code."""
    service = new_service(twilio, do_not_share_warning_enabled=True)
    verification = service.verifications.create(to=TO, channel="sms")
    [message] = outbox.messages_for(verification.sid)
    code = outbox.last_code(verification.sid)
    assert message["body"].startswith(f"Your Acme verification code is: {code}. {WARNING}")


def test_do_not_share_warning_is_for_sms_only(twilio: Client, outbox: Outbox) -> None:
    """The warning applies only to SMS: an e-mail body has none."""
    service = new_service(twilio, do_not_share_warning_enabled=True)
    verification = service.verifications.create(to="alice@example.com", channel="email")
    [message] = outbox.messages_for(verification.sid)
    assert WARNING not in message["body"]


def test_custom_friendly_name_replaces_the_service_name(
    service: ServiceContext, outbox: Outbox
) -> None:
    """CustomFriendlyName takes the service name's place in the message."""
    verification = service.verifications.create(
        to=TO, channel="sms", custom_friendly_name="Acme Payroll"
    )
    [message] = outbox.messages_for(verification.sid)
    assert re.fullmatch(r"Your Acme Payroll verification code is: \d{6}", message["body"])


@pytest.mark.parametrize(
    "name",
    ["x" * 31, "www.evil.example", "https://evil.example", "Acme http://x.io"],
    ids=["31 characters", "www link", "https link", "embedded link"],
)
def test_custom_friendly_name_follows_the_friendly_name_rules(
    service: ServiceContext, name: str
) -> None:
    """CustomFriendlyName goes into the message, so it is held to 1-30 characters, no links."""
    assert error_of(
        lambda: service.verifications.create(to=TO, channel="sms", custom_friendly_name=name)
    ) == (400, 60200)


def test_app_hash_wraps_the_sms_for_the_android_sms_retriever(
    service: ServiceContext, outbox: Outbox
) -> None:
    """With AppHash the SMS starts with "<#> " and ends with the hash on its own line."""
    verification = service.verifications.create(to=TO, channel="sms", app_hash="He42w354ol9")
    [message] = outbox.messages_for(verification.sid)
    code = outbox.last_code(verification.sid)
    assert message["body"].startswith(f"<#> Your Acme verification code is: {code}")
    assert message["body"].splitlines()[-1] == "He42w354ol9"


def test_service_code_length_sets_the_code_length(twilio: Client, outbox: Outbox) -> None:
    """A service with code_length=8 sends 8-digit codes, and they approve."""
    service = new_service(twilio, code_length=8)
    verification = service.verifications.create(to=TO, channel="sms")
    code = outbox.last_code(verification.sid)
    assert re.fullmatch(r"\d{8}", code)
    assert service.verification_checks.create(to=TO, code=code).status == "approved"


# -- PSD2 ----------------------------------------------------------------------------------


@pytest.fixture
def psd2(twilio: Client) -> ServiceContext:
    """A service with psd2_enabled: Amount and Payee are part of the verification."""
    return new_service(twilio, psd2_enabled=True)


@pytest.mark.parametrize(
    "terms",
    [{}, {"amount": "€39.99"}, {"payee": "Acme Bank"}],
    ids=["neither", "amount only", "payee only"],
)
def test_psd2_start_without_amount_and_payee_is_rejected_with_60206(
    psd2: ServiceContext, terms: dict[str, str]
) -> None:
    """A PSD2 service needs both Amount and Payee to start (400/60206)."""
    assert error_of(lambda: psd2.verifications.create(to=TO, channel="sms", **terms)) == (
        400,
        60206,
    )


def test_psd2_start_echoes_amount_and_payee_and_puts_them_in_the_message(
    psd2: ServiceContext, outbox: Outbox
) -> None:
    """Amount and Payee are echoed in the verification and shown in the message."""
    verification = psd2.verifications.create(
        to=TO, channel="sms", amount="€39.99", payee="Acme Bank"
    )
    assert (verification.amount, verification.payee) == ("€39.99", "Acme Bank")
    [message] = outbox.messages_for(verification.sid)
    assert "€39.99" in message["body"]
    assert "Acme Bank" in message["body"]


def test_psd2_check_without_amount_and_payee_is_rejected_and_not_counted(
    psd2: ServiceContext, outbox: Outbox
) -> None:
    """A PSD2 check without Amount/Payee is 400/60206 and uses none of the five checks."""
    verification = psd2.verifications.create(
        to=TO, channel="sms", amount="€39.99", payee="Acme Bank"
    )
    code = outbox.last_code(verification.sid)
    for _ in range(5):
        assert error_of(lambda: psd2.verification_checks.create(to=TO, code=code)) == (400, 60206)
    check = psd2.verification_checks.create(to=TO, code=code, amount="€39.99", payee="Acme Bank")
    assert (check.status, check.valid) == ("approved", True)
    assert (check.amount, check.payee) == ("€39.99", "Acme Bank")


def test_psd2_resend_keeps_the_terms_the_code_is_bound_to(
    psd2: ServiceContext, outbox: Outbox
) -> None:
    """A resend naming other terms neither changes the verification's terms nor shows them."""
    verification = psd2.verifications.create(
        to=TO, channel="sms", amount="€39.99", payee="Acme Bank"
    )
    resent = psd2.verifications.create(to=TO, channel="sms", amount="€9999", payee="Evil Bank")
    assert (resent.sid, resent.amount, resent.payee) == (verification.sid, "€39.99", "Acme Bank")
    _first, second = outbox.messages_for(verification.sid)
    assert "€9999" not in second["body"]
    assert "Evil Bank" not in second["body"]
    assert "€39.99" in second["body"]
    assert "Acme Bank" in second["body"]


@pytest.mark.parametrize(
    "terms",
    [{"amount": "€3999", "payee": "Acme Bank"}, {"amount": "€39.99", "payee": "Evil Bank"}],
    ids=["other amount", "other payee"],
)
def test_psd2_check_with_other_terms_is_not_approved(
    psd2: ServiceContext, outbox: Outbox, terms: dict[str, str]
) -> None:
    """The right code with a different Amount or Payee answers pending, valid False."""
    verification = psd2.verifications.create(
        to=TO, channel="sms", amount="€39.99", payee="Acme Bank"
    )
    check = psd2.verification_checks.create(to=TO, code=outbox.last_code(verification.sid), **terms)
    assert (check.status, check.valid) == ("pending", False)


# -- custom codes ----------------------------------------------------------------------------


def test_custom_code_needs_custom_code_enabled(service: ServiceContext) -> None:
    """CustomCode on a service without custom_code_enabled is 403/60204."""
    assert error_of(
        lambda: service.verifications.create(to=TO, channel="sms", custom_code="867530")
    ) == (403, 60204)


def test_custom_code_is_sent_and_approves(twilio: Client, outbox: Outbox) -> None:
    """With custom_code_enabled the caller's code is delivered and approves the verification."""
    service = new_service(twilio, custom_code_enabled=True)
    verification = service.verifications.create(to=TO, channel="sms", custom_code="867530")
    assert outbox.last_code(verification.sid) == "867530"
    check = service.verification_checks.create(to=TO, code="867530")
    assert (check.status, check.valid) == ("approved", True)


@pytest.mark.parametrize("custom_code", ["123", "12345678901", "86 75"])
def test_malformed_custom_code_is_rejected_with_60200(twilio: Client, custom_code: str) -> None:
    """A custom code must be 4-10 letters or digits."""
    service = new_service(twilio, custom_code_enabled=True)
    assert error_of(
        lambda: service.verifications.create(to=TO, channel="sms", custom_code=custom_code)
    ) == (400, 60200)


# -- optional parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["fr", "pt-BR", "en-GB"])
def test_supported_locale_is_accepted(service: ServiceContext, outbox: Outbox, locale: str) -> None:
    """A Locale from Twilio's list is accepted and handed to the provider."""
    verification = service.verifications.create(to=TO, channel="sms", locale=locale)
    [message] = outbox.messages_for(verification.sid)
    assert message["locale"] == locale


def test_unsupported_locale_is_rejected_with_60200(service: ServiceContext) -> None:
    """A Locale outside Twilio's list is 400/60200."""
    assert error_of(lambda: service.verifications.create(to=TO, channel="sms", locale="xx")) == (
        400,
        60200,
    )


def test_tags_given_as_a_json_object_are_accepted(service: ServiceContext) -> None:
    """Tags, a JSON object string of up to 10 entries, are accepted."""
    tags = {f"key{i}": f"value{i}" for i in range(10)}
    verification = service.verifications.create(to=TO, channel="sms", tags=json.dumps(tags))
    assert verification.status == "pending"


def test_tags_in_a_json_body_may_be_an_object(
    service: ServiceContext, api_server: ApiServer
) -> None:
    """In a JSON request body, Tags may be an object rather than a string."""
    response = requests.post(
        f"{api_server.url}/v2/Services/{sid_of(service)}/Verifications",
        json={"To": TO, "Channel": "sms", "Tags": {"campaign": "signup"}},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        (json.dumps({f"key{i}": "v" for i in range(11)}), "11 entries"),
        (json.dumps({"k": "v" * 129}), "a value of 129 characters"),
        (json.dumps({"k" * 129: "v"}), "a key of 129 characters"),
        (json.dumps({"k": 1}), "a value that is no string"),
        (json.dumps(["k", "v"]), "an array"),
        ("{not json", "malformed JSON"),
    ],
)
def test_malformed_tags_are_rejected_with_60200(
    service: ServiceContext, tags: str, why: str
) -> None:
    """Tags must be a JSON object of at most 10 string entries of at most 128 characters."""
    assert error_of(lambda: service.verifications.create(to=TO, channel="sms", tags=tags)) == (
        400,
        60200,
    ), why

"""One mailbox, one identity (docs/abuse-protection.md), through the HTTP API on a real
Redis: every spelling of a mailbox shares its pending verification and its limits, a check
or a search in any spelling finds it, and the message goes to the address as given. E-mail
sends count toward the service's daily e-mail cap."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from flask import Flask

from tests.conftest import Api, deliver_queued
from tests.integration.test_api_keys import basic, create_key
from tests.integration.test_console import PASSWORD, Console
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import CONTAINER_KEY, build_staff_users, create_app
from verify_service.domain.models import Channel
from verify_service.settings import Settings

# Eight spellings of one mailbox: case, a +tag sub-address, both.
SPELLINGS = [
    "victim@example.com",
    "Victim@Example.COM",
    "VICTIM@EXAMPLE.COM",
    "victim+1@example.com",
    "Victim+shop@example.com",
    "VICTIM+News@Example.com",
    "vIcTiM+a+b@EXAMPLE.com",
    "victim+@example.com",
]


def assert_error(response: Any, status: int, code: int) -> None:
    assert response.status_code == status, response.json
    assert response.json["code"] == code, response.json


def test_eight_spellings_of_one_mailbox_get_one_mailbox_s_limit_in_an_hour(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """An hour of starts to 8 spellings, every minute, reaches the mailbox 10 times (the
    default SendsPerDestinationPerHour), not 10 per spelling."""
    service = api.create_service()
    admitted = 0
    for _minute in range(60):
        for spelling in SPELLINGS:
            response = api.start(service, spelling, "email")
            if response.status_code == 201:
                admitted += 1
            else:
                assert_error(response, 429, 60203)
        clock.advance(60)
    reached = [message for message in sender.sent if message.channel is Channel.EMAIL]
    assert admitted == len(reached) == 10


def test_a_start_in_another_spelling_resends_to_the_verification_s_own_address(
    api: Api, sender: RecordingSender
) -> None:
    """One pending verification per mailbox; its resends go to the address it was started
    for, and the answer shows that address, as a fetch does."""
    service = api.create_service()
    first = api.start(service, "victim@example.com", "email")
    second = api.start(service, "Victim+Shop@Example.COM", "email")
    assert second.status_code == 201, second.json
    assert second.json["sid"] == first.json["sid"]
    assert len(second.json["send_code_attempts"]) == 2
    assert [message.to for message in sender.sent] == ["victim@example.com"] * 2
    assert second.json["to"] == "victim@example.com"
    assert api.fetch(service, first.json["sid"]).json["to"] == "victim@example.com"


def test_a_sub_address_cannot_have_the_mailbox_s_code_sent_to_it(
    api: Api, sender: RecordingSender
) -> None:
    """Attacker: at corp.com `a+x` is another person. A start as `a+x@corp.com` while
    `a@corp.com` is pending sends a's new code to a, never to `a+x`, so `a+x` holds no code
    that approves a's verification."""
    service = api.create_service()
    victim = api.start(service, "a@corp.com", "email").json
    for spelling in ("a+x@corp.com", "A+x@CORP.com", "a+@corp.com"):
        assert api.start(service, spelling, "email").status_code == 201
    assert {message.to for message in sender.sent} == {"a@corp.com"}
    assert api.fetch(service, victim["sid"]).json["to"] == "a@corp.com"


def test_a_support_resend_in_another_spelling_goes_to_the_verification_s_address(
    api: Api, app: Flask, sender: RecordingSender
) -> None:
    """A support key naming a `+tag` on a resend cannot pick where the code goes."""
    key = create_key(api, role="support", name="helpdesk")
    service = api.create_service()
    sid = api.start(service, "a@corp.com", "email").json["sid"]
    resent = app.test_client().post(
        f"/v2/Services/{service}/Verifications",
        data={"To": "a+helpdesk@corp.com", "Channel": "email"},
        headers=basic(key["sid"], key["secret"]),
    )
    assert resent.status_code == 201, resent.json
    deliver_queued(app)
    assert resent.json["sid"] == sid
    assert [message.to for message in sender.sent] == ["a@corp.com"] * 2


def test_a_resend_may_still_switch_a_phone_s_channel(api: Api, sender: RecordingSender) -> None:
    """A resend names its channel: sms, then whatsapp, reach the number of the verification."""
    service = api.create_service()
    sid = api.start(service, "+14155552671", "sms").json["sid"]
    resent = api.start(service, "+1 (415) 555-2671", "whatsapp")
    assert resent.status_code == 201, resent.json
    assert (resent.json["sid"], resent.json["channel"]) == (sid, "whatsapp")
    assert [(m.to, m.channel) for m in sender.sent] == [
        ("+14155552671", Channel.SMS),
        ("+14155552671", Channel.WHATSAPP),
    ]


def test_the_sixth_send_to_a_mailbox_is_refused_whatever_the_spelling(api: Api) -> None:
    """The 5 sends of a verification are the mailbox's, not each spelling's."""
    service = api.create_service()
    for spelling in SPELLINGS[:5]:
        assert api.start(service, spelling, "email").status_code == 201
    assert_error(api.start(service, SPELLINGS[5], "email"), 429, 60203)


@pytest.mark.parametrize(
    "spellings",
    [
        ["jdoe@proton.me", "j.doe@proton.me", "j_doe@protonmail.com", "j-doe@protonmail.ch"],
        ["x@joe.fastmail.com", "y@joe.fastmail.com", "joe@fastmail.com", "Z@Joe.Fastmail.com"],
    ],
    ids=["proton", "fastmail"],
)
def test_a_provider_s_other_spellings_share_the_mailbox_s_sends(
    api: Api, spellings: list[str]
) -> None:
    """Proton ignores `.`, `_` and `-` and has four domains; Fastmail delivers
    `anything@user.fastmail.com` to `user@fastmail.com`: one mailbox, one budget."""
    service = api.create_service(SendsPerDestinationPerHour=2)
    assert api.start(service, spellings[0], "email").status_code == 201
    assert api.start(service, spellings[1], "email").status_code == 201
    for spelling in spellings[2:]:
        assert_error(api.start(service, spelling, "email"), 429, 60203)


def test_a_check_by_to_in_any_spelling_finds_the_verification(
    api: Api, sender: RecordingSender
) -> None:
    """A code sent to one spelling approves a check given another spelling of the mailbox."""
    service = api.create_service()
    sid = api.start(service, "Victim+Shop@Example.COM", "email").json["sid"]
    wrong = api.check(service, "000000", To="victim@example.com")
    assert wrong.status_code == 200, wrong.json
    assert wrong.json["sid"] == sid
    right = api.check(service, sender.last_code(sid), To="VICTIM+other@EXAMPLE.COM")
    assert right.status_code == 200, right.json
    assert right.json["status"] == "approved"


def test_checks_per_destination_count_the_mailbox_not_the_spelling(api: Api) -> None:
    """ChecksPerDestinationPerHour refuses the mailbox's next check in any spelling."""
    service = api.create_service(ChecksPerDestinationPerHour=2)
    api.start(service, "victim@example.com", "email")
    assert api.check(service, "000000", To="Victim@Example.com").status_code == 200
    assert api.check(service, "000000", To="victim+x@example.com").status_code == 200
    assert_error(api.check(service, "000000", To="VICTIM+y@EXAMPLE.COM"), 429, 60202)


def test_attempts_by_to_in_any_spelling_find_the_mailbox_s_sends(api: Api) -> None:
    """The attempt history's `To` filter matches the mailbox, whatever spelling was sent to."""
    service = api.create_service()
    api.start(service, "Victim+Shop@Example.COM", "email")
    api.start(service, "victim@example.com", "email")
    query = urlencode({"ChannelData.To": "VICTIM@example.com"})
    response = api.get(f"/v2/Attempts?{query}")
    assert response.status_code == 200, response.json
    assert len(response.json["attempts"]) == 2


def test_the_console_finds_the_mailbox_s_verification_in_any_spelling(app: Flask, api: Api) -> None:
    """A support search by another spelling shows the pending verification."""
    build_staff_users(app.extensions[CONTAINER_KEY]).add("sam", PASSWORD, "support")
    console = Console(app.test_client())
    assert console.login().status_code == 303
    service = api.create_service()
    sid = api.start(service, "Victim+Shop@Example.COM", "email").json["sid"]
    assert console.search(service, "VICTIM@example.com").status_code == 200
    assert sid in console.text
    assert "No verification is pending" not in console.text


def test_e_mail_sends_count_toward_the_daily_e_mail_cap(api: Api, clock: FixedClock) -> None:
    """DailyEmailSendCap refuses the service's next e-mail send with 60410 until a day has
    passed; phone sends are not counted against it."""
    service = api.create_service(DailyEmailSendCap=2)
    assert api.get(f"/v2/Services/{service}").json["daily_email_send_cap"] == 2
    assert api.start(service, "alice@example.com", "email").status_code == 201
    clock.advance(60)
    assert api.start(service, "bob@example.org", "email").status_code == 201
    refused = api.start(service, "carol@example.net", "email")
    assert_error(refused, 403, 60410)
    assert refused.headers["Retry-After"] == str(24 * 3600 - 60 + 1)
    assert api.start(service, "+14155552671", "sms").status_code == 201
    clock.advance(24 * 3600 - 60 + 1)
    assert api.start(service, "carol@example.net", "email").status_code == 201


def test_the_daily_e_mail_cap_defaults_to_ten_thousand(api: Api) -> None:
    """A service's e-mail sends are capped by default, like its phone sends."""
    service = api.create_service()
    assert api.get(f"/v2/Services/{service}").json["daily_email_send_cap"] == 10_000


# -- test destinations: exactly one address each, never a mailbox -------------------------------


@pytest.fixture
def test_api(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> Api:
    allowed = dataclasses.replace(settings, allow_test_destinations=True)
    return Api(create_app(allowed, clock=clock, providers=sender.as_providers()).test_client())


def qa_service(api: Api) -> str:
    return api.create_service(TestDestinations=json.dumps({"qa+1@corp.com": "918273"}))


def test_a_test_destination_does_not_make_its_mailbox_a_test_destination(
    test_api: Api, sender: RecordingSender
) -> None:
    """With `qa+1@corp.com` a test destination, the real `qa@corp.com` gets a real code and
    the test code does not approve it."""
    service = qa_service(test_api)
    sid = test_api.start(service, "qa@corp.com", "email").json["sid"]
    assert [message.to for message in sender.sent] == ["qa@corp.com"]
    assert test_api.check(service, "918273", To="qa@corp.com").json["status"] == "pending"
    right = test_api.check(service, sender.last_code(sid), To="qa@corp.com")
    assert right.json["status"] == "approved"


@pytest.mark.parametrize("spelling", ["QA+1@corp.com", "qa+2@corp.com", "Qa@CORP.com"])
def test_only_the_exact_test_address_is_a_test_destination(
    test_api: Api, sender: RecordingSender, spelling: str
) -> None:
    """Another spelling of a test address is a real destination: a code is sent to it."""
    service = qa_service(test_api)
    assert test_api.start(service, spelling, "email").status_code == 201
    assert len(sender.sent) == 1
    assert test_api.check(service, "918273", To=spelling).json["status"] == "pending"


def test_a_test_start_on_a_real_pending_verification_is_refused(
    test_api: Api, sender: RecordingSender
) -> None:
    """Attacker: a start as the test address while the real mailbox's verification is
    pending would add the known test code to it. 400/60200, and the test code approves
    nothing; the real code still does."""
    service = qa_service(test_api)
    sid = test_api.start(service, "qa@corp.com", "email").json["sid"]
    refused = test_api.start(service, "qa+1@corp.com", "email")
    assert_error(refused, 400, 60200)
    assert "not a test destination" in refused.json["message"]
    assert len(test_api.fetch(service, sid).json["send_code_attempts"]) == 1
    assert test_api.check(service, "918273", To="qa+1@corp.com").json["status"] == "pending"
    right = test_api.check(service, sender.last_code(sid), To="qa@corp.com")
    assert right.json["status"] == "approved"


def test_a_real_start_on_a_test_pending_verification_is_refused(
    test_api: Api, sender: RecordingSender
) -> None:
    """The reverse: while the test address's verification is pending, a start for the real
    mailbox is 400/60200 (it would be answered by a verification the test code approves),
    and nothing is sent."""
    service = qa_service(test_api)
    sid = test_api.start(service, "qa+1@corp.com", "email").json["sid"]
    refused = test_api.start(service, "qa@corp.com", "email")
    assert_error(refused, 400, 60200)
    assert "is a test destination" in refused.json["message"]
    assert sender.sent == []
    assert len(test_api.fetch(service, sid).json["send_code_attempts"]) == 1
    resent = test_api.start(service, "qa+1@corp.com", "email")
    assert (resent.status_code, resent.json["sid"]) == (201, sid)
    assert test_api.check(service, "918273", To="qa+1@corp.com").json["status"] == "approved"


def test_a_test_verification_answers_only_a_check_by_its_exact_address(test_api: Api) -> None:
    """The fixed test code approves the test address's verification only when the check
    names that exact address: a check by the real mailbox's spelling counts as wrong."""
    service = qa_service(test_api)
    test_api.start(service, "qa+1@corp.com", "email")
    for spelling in ("qa@corp.com", "QA+2@corp.com"):
        assert test_api.check(service, "918273", To=spelling).json["status"] == "pending"
    assert test_api.check(service, "918273", To="qa+1@corp.com").json["status"] == "approved"

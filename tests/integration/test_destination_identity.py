"""One mailbox, one identity (docs/abuse-protection.md), through the HTTP API on a real
Redis: every spelling of a mailbox shares its pending verification and its limits, a check
or a search in any spelling finds it, and the message goes to the address as given. E-mail
sends count toward the service's daily e-mail cap."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask

from tests.conftest import Api
from tests.integration.test_console import PASSWORD, Console
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import CONTAINER_KEY, build_staff_users
from verify_service.domain.models import Channel

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


def test_a_start_in_another_spelling_resends_on_the_pending_verification(
    api: Api, sender: RecordingSender
) -> None:
    """One pending verification per mailbox; the resend goes to the address as given."""
    service = api.create_service()
    first = api.start(service, "victim@example.com", "email")
    second = api.start(service, "Victim+Shop@Example.COM", "email")
    assert second.status_code == 201, second.json
    assert second.json["sid"] == first.json["sid"]
    assert len(second.json["send_code_attempts"]) == 2
    assert [message.to for message in sender.sent] == [
        "victim@example.com",
        "Victim+Shop@example.com",
    ]


def test_the_sixth_send_to_a_mailbox_is_refused_whatever_the_spelling(api: Api) -> None:
    """The 5 sends of a verification are the mailbox's, not each spelling's."""
    service = api.create_service()
    for spelling in SPELLINGS[:5]:
        assert api.start(service, spelling, "email").status_code == 201
    assert_error(api.start(service, SPELLINGS[5], "email"), 429, 60203)


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

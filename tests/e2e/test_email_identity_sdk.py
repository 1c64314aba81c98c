"""One mailbox, one identity, through the official twilio SDK against the real server
(gunicorn, real Redis): spellings of one mailbox share one pending verification and its
5 sends, and a check in another spelling approves it."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.support.outbox import Outbox

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
MAX_SENDS_PER_VERIFICATION = 5


def test_spellings_of_one_mailbox_share_one_verification_and_its_five_sends(
    twilio: Client, outbox: Outbox
) -> None:
    """Three rounds over 8 spellings: 5 sends on one verification, the rest 429/60203."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verifications = twilio.verify.v2.services(service.sid).verifications
    sids: set[str] = set()
    refused: list[int] = []
    for _round in range(3):
        for spelling in SPELLINGS:
            try:
                sids.add(verifications.create(to=spelling, channel="email").sid)
            except TwilioRestException as exc:
                refused.append(exc.code)
    assert len(sids) == 1
    (sid,) = sids
    assert refused == [60203] * (3 * len(SPELLINGS) - MAX_SENDS_PER_VERIFICATION)
    sent_to = [message["to"] for message in outbox.messages_for(sid, MAX_SENDS_PER_VERIFICATION)]
    assert sent_to == [
        "victim@example.com",
        "Victim@example.com",
        "VICTIM@example.com",
        "victim+1@example.com",
        "Victim+shop@example.com",
    ]  # each message to the address as given, its domain lower-cased


def test_a_check_in_another_spelling_approves_the_mailbox_s_verification(
    twilio: Client, outbox: Outbox
) -> None:
    """The code sent to `Victim+Shop@Example.COM` approves a check by `victim@example.com`."""
    service = twilio.verify.v2.services(twilio.verify.v2.services.create(friendly_name="Acme").sid)
    verification = service.verifications.create(to="Victim+Shop@Example.COM", channel="email")
    check = service.verification_checks.create(
        to="victim@example.com", code=outbox.last_code(verification.sid)
    )
    assert (check.sid, check.status, check.valid) == (verification.sid, "approved", True)


@pytest.mark.parametrize("spelling", ["VICTIM@example.com", "victim+x@EXAMPLE.COM"])
def test_a_check_in_another_spelling_with_a_wrong_code_counts_on_the_verification(
    twilio: Client, spelling: str
) -> None:
    """A wrong code in another spelling is a wrong check of the same verification, not a 404."""
    service = twilio.verify.v2.services(twilio.verify.v2.services.create(friendly_name="Acme").sid)
    verification = service.verifications.create(to="victim@example.com", channel="email")
    check = service.verification_checks.create(to=spelling, code="000000")
    assert (check.sid, check.status, check.valid) == (verification.sid, "pending", False)

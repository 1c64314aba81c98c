"""One mailbox, one identity, through the official twilio SDK against the real server
(gunicorn, real Redis): spellings of one mailbox share one pending verification and its
5 sends, even when they arrive together, every send goes to the verification's own address,
and a check in another spelling approves it."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.integration.test_destination_identity import SPELLINGS
from tests.support.core_specs import outcome, run_together
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer

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
    assert sent_to == ["victim@example.com"] * MAX_SENDS_PER_VERIFICATION  # the first's


def test_a_resend_in_another_spelling_goes_to_the_verification_s_own_address(
    twilio: Client, outbox: Outbox
) -> None:
    """Attacker: `a+x@corp.com` (another person at corp.com) starts while `a@corp.com` is
    pending: the new code goes to `a@corp.com`, and the answer's `to` is that of a fetch."""
    service = twilio.verify.v2.services(twilio.verify.v2.services.create(friendly_name="Acme").sid)
    first = service.verifications.create(to="a@corp.com", channel="email")
    resent = service.verifications.create(to="A+x@Corp.com", channel="email")
    assert resent.sid == first.sid
    assert resent.to == service.verifications(first.sid).fetch().to == "a@corp.com"
    sent_to = [message["to"] for message in outbox.messages_for(first.sid, 2)]
    assert sent_to == ["a@corp.com", "a@corp.com"]


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


def test_spellings_that_race_share_one_verification_and_its_five_sends(
    twilio: Client, api_server: ApiServer, outbox: Outbox
) -> None:
    """16 starts to 8 spellings released at once: one verification, 5 sends, 11 refused."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    url = f"{api_server.url}/v2/Services/{service.sid}/Verifications"

    def start(session: requests.Session, index: int) -> requests.Response:
        spelling = SPELLINGS[index % len(SPELLINGS)]
        return session.post(url, data={"To": spelling, "Channel": "email"}, timeout=30)

    responses = run_together(2 * len(SPELLINGS), start)
    refused = Counter(outcome(r) for r in responses if r.status_code != 201)
    # as for one spelling (test_concurrency): a start that loses the race to create re-reads
    # the pending verification and resends on it.
    assert refused == Counter({(429, 60203): 2 * len(SPELLINGS) - MAX_SENDS_PER_VERIFICATION})
    sids = {r.json()["sid"] for r in responses if r.status_code == 201}
    assert len(sids) == 1
    sid = sids.pop()
    # every send goes to the one address the verification was created for, and says so
    address = twilio.verify.v2.services(service.sid).verifications(sid).fetch().to
    assert {r.json()["to"] for r in responses if r.status_code == 201} == {address}
    messages = outbox.messages_for(sid, MAX_SENDS_PER_VERIFICATION)
    assert [message["to"] for message in messages] == [address] * MAX_SENDS_PER_VERIFICATION

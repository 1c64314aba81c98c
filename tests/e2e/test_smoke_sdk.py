"""The SDK's own happy path: start, check, approved — against the real server."""

from __future__ import annotations

from twilio.rest import Client

from tests.support.outbox import Outbox


def test_sdk_starts_and_approves_a_verification(twilio: Client, outbox: Outbox) -> None:
    """A verification started with the SDK is approved by the code the console delivered."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verification = twilio.verify.v2.services(service.sid).verifications.create(
        to="+14155552671", channel="sms"
    )
    assert verification.status == "pending"
    code = outbox.last_code(verification.sid)
    check = twilio.verify.v2.services(service.sid).verification_checks.create(
        to="+14155552671", code=code
    )
    assert (check.status, check.valid) == ("approved", True)

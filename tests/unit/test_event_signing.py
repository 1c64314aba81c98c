"""The events' signature is Twilio's X-Twilio-Signature, computed here without the twilio
library (domain/events/signing.py) and checked against the library's own computation; the
signing token comes from the key ring, one per key, never the auth token."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from verify_service.application.events.event_delivery import Signer
from verify_service.domain.events.event_types import EventType
from verify_service.domain.events.events import Event, expiry_event_id
from verify_service.domain.events.signing import twilio_signature
from verify_service.domain.keyring import Keyring

URL = "https://hooks.example.com/verify/events?source=vs"
TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"uuid": "a", "type": "factor.created"},
        {"b": "2", "a": "1", "challenge_details": '{"message":"Sign in ✓","fields":[]}'},
        {"to": "+14155552671", "empty": ""},
    ],
)
def test_the_signature_is_the_one_twilios_library_computes(params: dict[str, str]) -> None:
    """Same bytes as RequestValidator.compute_signature, so `validate` accepts it."""
    validator = RequestValidator(TOKEN)
    signature = twilio_signature(TOKEN, URL, params)
    assert signature == validator.compute_signature(URL, params)
    assert validator.validate(URL, params, signature)


def test_the_signing_token_is_32_hex_characters_per_ring_key_and_not_a_secret_of_another_use() -> (
    None
):
    ring = Keyring([("k2", b"n" * 32), ("k1", b"o" * 32)])
    primary, older = ring.webhook_signing_token(), ring.webhook_signing_token("k1")
    assert primary == ring.webhook_signing_token("k2")
    assert primary != older
    for token in (primary, older):
        assert len(token) == 32
        int(token, 16)
    assert bytes.fromhex(primary) not in (ring.code_hmac_key, ring.audit_chain_key)


def test_an_event_survives_its_outbox_encoding_and_keeps_the_full_destination_apart() -> None:
    event = Event(
        "4b0c…",
        EventType.VERIFICATION_STARTED,
        "VA" + "0" * 32,
        1,
        (("to", "+14•••••••71"), ("country", "US")),
        destination="+14155552671",
    )
    assert Event.from_json(event.to_json()) == event
    assert event.form(include_destination=False)["to"] == "+14•••••••71"
    assert event.form(include_destination=True)["to"] == "+14155552671"


def test_an_expiry_has_one_id_however_often_it_is_emitted() -> None:
    assert expiry_event_id("VE" + "1" * 32) == expiry_event_id("VE" + "1" * 32)
    assert expiry_event_id("VE" + "1" * 32) != expiry_event_id("VE" + "2" * 32)


def test_the_signers_repr_never_shows_the_signing_token() -> None:
    """A repr ends up in log lines and tracebacks' locals: the key id only."""
    token = "5f" * 16
    signer = Signer(token, "k0")
    assert token not in repr(signer)
    assert token not in str(signer)
    assert "k0" in repr(signer)

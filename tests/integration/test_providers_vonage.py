"""The vonage:// provider against a local stand-in of Vonage's SMS API (sms/json)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.standin_http import Failure, StandinHttp
from verify_service.adapters.delivery.providers.registry import build_providers, parse_provider_list
from verify_service.adapters.delivery.providers.vonage import VonageProvider
from verify_service.domain.delivery.delivery import (
    DeliveryError,
    DeliveryRequest,
    PermanentDeliveryError,
    RenderedMessage,
    TransientDeliveryError,
)
from verify_service.domain.messages.sms_encoding import sms_wire_text
from verify_service.domain.models import Channel

API_KEY = "a1b2c3d4"
API_SECRET = "vonage-secret-Zq8w"
TO = "+447700900123"
CODE = "730421"
TEXT = f"Your Acme verification code is: {CODE}"
CALLBACK = "https://verify.example.test/v2/Callbacks/vonage"

MakeProvider = Callable[..., VonageProvider]


@pytest.fixture
def standin() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def make_provider(standin: StandinHttp) -> Iterator[MakeProvider]:
    made: list[VonageProvider] = []

    def make(sender: str = "Acme") -> VonageProvider:
        dsn = f"vonage+http://{API_KEY}:{API_SECRET}@{standin.netloc}?from={sender}&timeout=0.2"
        (provider,) = build_providers(Channel.SMS, parse_provider_list(Channel.SMS, dsn))
        assert isinstance(provider, VonageProvider)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


def request(text: str = TEXT, callback: str | None = CALLBACK) -> DeliveryRequest:
    message = RenderedMessage(Channel.SMS, "en", text)
    return DeliveryRequest(TO, message, "VA" + "1" * 32, "VE" + "2" * 32, "VL" + "3" * 32, callback)


def test_sms_is_posted_with_credentials_and_digits_only_numbers(
    standin: StandinHttp, make_provider: MakeProvider
) -> None:
    """api_key, api_secret, from, to without +, text, client-ref, callback; id = message-id."""
    receipt = make_provider(sender="+15005550006").deliver(request())

    (sent,) = standin.requests
    assert (sent.method, sent.path) == ("POST", "/sms/json")
    assert sent.form == {
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "from": "15005550006",
        "to": "447700900123",
        "text": TEXT,
        "client-ref": "VL" + "3" * 32,
        "callback": CALLBACK,
    }
    assert receipt.provider == f"vonage+http://{standin.netloc}"
    assert receipt.provider_message_id == standin.replies[0]["messages"][0]["message-id"]


@pytest.mark.parametrize(
    ("text", "unicode"),
    [
        (TEXT, False),
        # The em dash is not GSM-7, but its look-alike hyphen is: sent as GSM-7 (sms_wire_text).
        (f"Il tuo codice è {CODE} — non condividerlo", False),
        (f"Ваш код: {CODE}", True),
        (f"Código {CODE}: ¿no? {{€}}", True),
        (f"Koden din er {CODE}. Æøå!", False),
    ],
)
def test_text_outside_gsm7_is_sent_as_unicode(
    standin: StandinHttp, make_provider: MakeProvider, text: str, unicode: bool
) -> None:
    """type=unicode exactly when a character leaves the GSM-7 alphabet (after look-alikes
    such as the em dash were swapped for GSM-7 ones)."""
    make_provider().deliver(request(text, callback=None))

    form = standin.requests[0].form
    assert form["text"] == sms_wire_text(text)
    assert form.get("type") == ("unicode" if unicode else None)
    assert "callback" not in form


@pytest.mark.parametrize(
    ("failure", "error_class", "error_code"),
    [
        (Failure.vonage_status("1"), TransientDeliveryError, "1"),  # Throttled
        (Failure.vonage_status("5"), TransientDeliveryError, "5"),  # Internal Error
        (Failure.vonage_status("3"), PermanentDeliveryError, "3"),  # Invalid Parameters
        (Failure.vonage_status("4"), PermanentDeliveryError, "4"),  # Invalid Credentials
        (Failure.vonage_status("6"), PermanentDeliveryError, "6"),  # Invalid Message
        (Failure.vonage_status("29"), PermanentDeliveryError, "29"),  # Non-Whitelisted
        (Failure(500, {}), TransientDeliveryError, None),
        (Failure(429, {}), TransientDeliveryError, None),
        (Failure(401, {}), PermanentDeliveryError, None),
        (Failure(200, {"unexpected": True}), TransientDeliveryError, None),
        (Failure.timeout(seconds=5), TransientDeliveryError, None),
    ],
)
def test_failures_are_classified_by_vonage_status(
    standin: StandinHttp,
    make_provider: MakeProvider,
    failure: Failure,
    error_class: type[DeliveryError],
    error_code: str | None,
) -> None:
    """Status 1 and 5 are worth a retry, other statuses are not; HTTP as everywhere."""
    standin.fail_next(failure)
    with pytest.raises(DeliveryError) as raised:
        make_provider().deliver(request())
    assert type(raised.value) is error_class
    assert raised.value.error_code == error_code
    text = f"{raised.value} {raised.value.args}"
    for secret in (CODE, API_SECRET, TO.removeprefix("+")):
        assert secret not in text


def test_a_rejected_part_of_a_long_message_fails_the_delivery(
    standin: StandinHttp, make_provider: MakeProvider
) -> None:
    """Every part must be accepted; the first rejected one decides."""
    parts = [
        {"to": "447700900123", "message-id": "0A01", "status": "0"},
        {"to": "447700900123", "status": "9", "error-text": "Quota Exceeded"},
    ]
    standin.fail_next(Failure(200, {"message-count": "2", "messages": parts}))
    with pytest.raises(PermanentDeliveryError) as raised:
        make_provider().deliver(request())
    assert raised.value.error_code == "9"

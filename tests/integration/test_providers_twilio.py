"""The twilio:// provider against a local stand-in of Twilio's Messages and Calls APIs."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from tests.support.standin_http import Failure, StandinHttp
from verify_service.adapters.delivery.providers.registry import build_providers, parse_provider_list
from verify_service.adapters.delivery.providers.twilio import TwilioProvider
from verify_service.domain.delivery.delivery import (
    DeliveryError,
    DeliveryRequest,
    PermanentDeliveryError,
    RenderedMessage,
    TransientDeliveryError,
)
from verify_service.domain.models import Channel

ACCOUNT_SID = "AC" + "c0ffee00" * 4
AUTH_TOKEN = "twilio-standin-token-5d41402a"
SENDER = "+15005550006"
TO = "+14155552671"
CODE = "482913"
SMS_TEXT = f"Your Acme verification code is: {CODE}"
SPOKEN = "Your Acme verification code is: 4, 8, 2, 9, 1, 3"
CALLBACK = "https://verify.example.test/v2/Callbacks/twilio/VL0123"
CLIENT_TIMEOUT = 0.2

MakeProvider = Callable[..., TwilioProvider]


@pytest.fixture
def standin() -> Iterator[StandinHttp]:
    with StandinHttp(twilio_credentials=(ACCOUNT_SID, AUTH_TOKEN)) as server:
        yield server


@pytest.fixture
def make_provider(standin: StandinHttp) -> Iterator[MakeProvider]:
    made: list[TwilioProvider] = []

    def make(token: str = AUTH_TOKEN, sender: str = SENDER, netloc: str = "") -> TwilioProvider:
        dsn = (
            f"twilio+http://{ACCOUNT_SID}:{token}@{netloc or standin.netloc}"
            f"?from={sender}&timeout={CLIENT_TIMEOUT}"
        )
        (provider,) = build_providers(Channel.SMS, parse_provider_list(Channel.SMS, dsn))
        assert isinstance(provider, TwilioProvider)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


def request(channel: Channel, callback: str | None = CALLBACK) -> DeliveryRequest:
    if channel is Channel.CALL:
        message = RenderedMessage(channel, "fr", SPOKEN, voice_language="fr-FR")
    else:
        message = RenderedMessage(channel, "en", SMS_TEXT)
    return DeliveryRequest(TO, message, "VA" + "1" * 32, "VE" + "2" * 32, "VL" + "3" * 32, callback)


def assert_says_nothing_secret(error: DeliveryError) -> None:
    text = f"{error} {error!r} {error.args}"
    for secret in (CODE, AUTH_TOKEN, TO, TO.removeprefix("+")):
        assert secret not in text


def test_sms_is_posted_to_the_messages_api_with_basic_auth(
    standin: StandinHttp, make_provider: MakeProvider
) -> None:
    """To, From, Body and StatusCallback as a form; the receipt is Twilio's SM sid."""
    receipt = make_provider().deliver(request(Channel.SMS))

    (sent,) = standin.requests
    assert sent.method == "POST"
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.basic_auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert sent.form == {"To": TO, "From": SENDER, "Body": SMS_TEXT, "StatusCallback": CALLBACK}
    assert receipt.provider == "twilio+http://" + standin.netloc
    assert receipt.provider_message_id == standin.replies[0]["sid"]
    assert str(receipt.provider_message_id).startswith("SM")


def test_whatsapp_prefixes_both_numbers(standin: StandinHttp, make_provider: MakeProvider) -> None:
    """WhatsApp goes through the Messages API with `whatsapp:` addresses."""
    make_provider().deliver(request(Channel.WHATSAPP, callback=None))

    (sent,) = standin.requests
    assert sent.path.endswith("/Messages.json")
    assert sent.form == {"To": f"whatsapp:{TO}", "From": f"whatsapp:{SENDER}", "Body": SMS_TEXT}


def test_messaging_service_sender_replaces_from(
    standin: StandinHttp, make_provider: MakeProvider
) -> None:
    """from=MG… sends through a Messaging Service (Twilio picks the number)."""
    service = "MG" + "ab" * 16
    make_provider(sender=service).deliver(request(Channel.SMS, callback=None))

    (sent,) = standin.requests
    assert sent.form == {"To": TO, "MessagingServiceSid": service, "Body": SMS_TEXT}


def test_call_speaks_the_code_twice_with_a_pause_in_the_locale_voice(
    standin: StandinHttp, make_provider: MakeProvider
) -> None:
    """Calls.json gets TwiML: <Say language> text, <Pause length=1/>, <Say> text again."""
    receipt = make_provider().deliver(request(Channel.CALL))

    (sent,) = standin.requests
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert sent.basic_auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert {k: v for k, v in sent.form.items() if k != "Twiml"} == {
        "To": TO,
        "From": SENDER,
        "StatusCallback": CALLBACK,
    }
    root = ET.fromstring(sent.form["Twiml"])  # noqa: S314 (our own provider's output)
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Say", "Pause", "Say"]
    first, pause, second = root
    assert first.text == SPOKEN
    assert second.text == SPOKEN
    assert first.get("language") == "fr-FR"
    assert second.get("language") == "fr-FR"
    assert pause.get("length") == "1"
    assert receipt.provider_message_id is not None
    assert receipt.provider_message_id.startswith("CA")


@pytest.mark.parametrize(
    ("failure", "error_class", "error_code"),
    [
        (Failure.server_error(), TransientDeliveryError, "20500"),
        (Failure(503, {}), TransientDeliveryError, None),
        (Failure.too_many_requests(), TransientDeliveryError, "20429"),
        (Failure.twilio_rejection(21211), PermanentDeliveryError, "21211"),
        (Failure.twilio_rejection(21610), PermanentDeliveryError, "21610"),
        (Failure.twilio_rejection(20404, status=404), PermanentDeliveryError, "20404"),
    ],
)
def test_failures_are_classified_with_twilios_error_code(
    standin: StandinHttp,
    make_provider: MakeProvider,
    failure: Failure,
    error_class: type[DeliveryError],
    error_code: str | None,
) -> None:
    """5xx and 429 are transient, other 4xx permanent; error_code is Twilio's `code`."""
    standin.fail_next(failure)
    with pytest.raises(DeliveryError) as raised:
        make_provider().deliver(request(Channel.SMS))
    assert type(raised.value) is error_class
    assert raised.value.error_code == error_code
    assert f"HTTP {failure.status}" in str(raised.value)
    assert_says_nothing_secret(raised.value)


def test_a_wrong_token_is_permanent(standin: StandinHttp, make_provider: MakeProvider) -> None:
    """401 with Twilio's 20003: retrying the same credentials cannot help."""
    with pytest.raises(PermanentDeliveryError) as raised:
        make_provider(token="wrong-token-0000000000").deliver(request(Channel.SMS))
    assert raised.value.error_code == "20003"
    assert "wrong-token" not in str(raised.value)


def test_a_provider_that_does_not_answer_in_time_is_transient(
    standin: StandinHttp, make_provider: MakeProvider
) -> None:
    """The stand-in stalls longer than timeout=0.2; the client gives up quickly."""
    standin.fail_next(Failure.timeout(seconds=5))
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError) as raised:
        make_provider().deliver(request(Channel.CALL))
    assert time.monotonic() - started < 2
    assert raised.value.error_code is None
    assert "did not answer" in str(raised.value)
    assert_says_nothing_secret(raised.value)


def test_an_unreachable_provider_is_transient(make_provider: MakeProvider) -> None:
    """Connection refused: nothing listens on the port."""
    stopped = StandinHttp().start()
    netloc = stopped.netloc
    stopped.stop()
    with pytest.raises(TransientDeliveryError, match="could not be reached"):
        make_provider(netloc=netloc).deliver(request(Channel.SMS))


def test_the_same_provider_succeeds_once_a_transient_failure_passes(
    standin: StandinHttp, make_provider: MakeProvider
) -> None:
    """Failures are per request: a retry after a 500 goes through."""
    provider = make_provider()
    standin.fail_next(Failure.server_error())
    with pytest.raises(TransientDeliveryError):
        provider.deliver(request(Channel.SMS))
    receipt = provider.deliver(request(Channel.SMS))
    assert receipt.provider_message_id == standin.replies[1]["sid"]
    assert len(standin.requests) == 2


def test_a_calls_send_digits_are_posted_as_send_digits(
    standin: StandinHttp, make_provider: MakeProvider
) -> None:
    """The start's SendDigits: Twilio dials them once the call connects."""
    call = request(Channel.CALL)
    digits = replace(call, message=replace(call.message, send_digits="ww1234#"))
    make_provider().deliver(digits)
    (sent,) = standin.requests
    assert sent.form["SendDigits"] == "ww1234#"

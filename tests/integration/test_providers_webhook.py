"""The webhook+http(s):// provider: signed JSON to any in-house gateway, every channel."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.support.standin_http import Failure, StandinHttp
from verify_service.adapters.delivery.providers.registry import build_providers, parse_provider_list
from verify_service.adapters.delivery.providers.webhook import (
    WebhookConfig,
    WebhookProvider,
    verify_webhook_signature,
)
from verify_service.domain.delivery.delivery import (
    DeliveryError,
    DeliveryRequest,
    PermanentDeliveryError,
    RenderedMessage,
    TransientDeliveryError,
)
from verify_service.domain.models import Channel

SECRET = "whsec-4f1c9e2b7a6d3f80"
NOW = 1_790_000_000
TO = "+14155552671"
CODE = "905517"
TEXT = f"Tu código de verificación de Acme es: {CODE}"


@pytest.fixture
def standin() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def provider(standin: StandinHttp) -> Iterator[WebhookProvider]:
    dsn = f"webhook+http://{standin.netloc}/gateway/otp?secret={SECRET}&timeout=0.2"
    (config,) = parse_provider_list(Channel.SMS, dsn)
    assert isinstance(config, WebhookConfig)
    webhook = WebhookProvider(config, clock=lambda: NOW + 0.75)
    yield webhook
    webhook.close()


def request(channel: Channel = Channel.SMS, callback: str | None = None) -> DeliveryRequest:
    message = RenderedMessage(channel, "es", TEXT)
    return DeliveryRequest(TO, message, "VA" + "1" * 32, "VE" + "2" * 32, "VL" + "3" * 32, callback)


def test_message_is_posted_as_json_with_the_documented_fields(
    standin: StandinHttp, provider: WebhookProvider
) -> None:
    """{to, channel, body, locale, verification_sid, attempt_sid}; receipt id = reply's id."""
    receipt = provider.deliver(request())

    (sent,) = standin.requests
    assert (sent.method, sent.path) == ("POST", "/gateway/otp")
    assert sent.headers["Content-Type"] == "application/json; charset=utf-8"
    assert sent.json == {
        "to": TO,
        "channel": "sms",
        "body": TEXT,
        "locale": "es",
        "verification_sid": "VE" + "2" * 32,
        "attempt_sid": "VL" + "3" * 32,
    }
    assert sent.basic_auth is None
    assert SECRET not in sent.body.decode()
    assert SECRET not in sent.path
    assert receipt.provider == f"webhook+http://{standin.netloc}"
    assert receipt.provider_message_id == standin.replies[0]["id"]


def test_signature_can_be_recomputed_by_the_gateway(
    standin: StandinHttp, provider: WebhookProvider
) -> None:
    """X-Verify-Signature = sha256=hex(HMAC-SHA256(secret, timestamp + "." + raw body))."""
    provider.deliver(request())

    (sent,) = standin.requests
    timestamp = sent.headers["X-Verify-Timestamp"]
    assert timestamp == str(NOW)
    signed = timestamp.encode() + b"." + sent.body
    expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert sent.headers["X-Verify-Signature"] == expected
    assert verify_webhook_signature(
        SECRET, timestamp, sent.body, sent.headers["X-Verify-Signature"], now_seconds=NOW + 30
    )


@pytest.mark.parametrize("channel", list(Channel))
def test_every_channel_goes_through(
    standin: StandinHttp, provider: WebhookProvider, channel: Channel
) -> None:
    """The gateway decides how to deliver; the channel is a field."""
    provider.deliver(request(channel))
    assert standin.requests[0].json["channel"] == channel.value


def test_a_status_callback_url_is_passed_along(
    standin: StandinHttp, provider: WebhookProvider
) -> None:
    """When the attempt has a callback, the gateway learns where to report."""
    provider.deliver(request(callback="https://verify.example.test/v2/Callbacks/webhook"))
    assert standin.requests[0].json["status_callback_url"] == (
        "https://verify.example.test/v2/Callbacks/webhook"
    )


@pytest.mark.parametrize(
    ("reply", "receipt_id"),
    [
        (Failure(202, {"id": 42}), "42"),
        (Failure(200, {}), None),
        (Failure(204, {"id": None}), None),
    ],
)
def test_any_2xx_is_accepted_with_or_without_an_id(
    standin: StandinHttp, provider: WebhookProvider, reply: Failure, receipt_id: str | None
) -> None:
    """2xx means accepted; the id is optional."""
    standin.fail_next(reply)
    assert provider.deliver(request()).provider_message_id == receipt_id


@pytest.mark.parametrize(
    ("failure", "error_class", "error_code"),
    [
        (Failure(408, {}), TransientDeliveryError, None),
        (Failure(429, {"error_code": "RATE_LIMITED"}), TransientDeliveryError, "RATE_LIMITED"),
        (Failure(500, {}), TransientDeliveryError, None),
        (Failure(503, {"code": 7}), TransientDeliveryError, "7"),
        (Failure(400, {"error_code": "INVALID_NUMBER"}), PermanentDeliveryError, "INVALID_NUMBER"),
        (Failure(401, {}), PermanentDeliveryError, None),
        (Failure(404, {}), PermanentDeliveryError, None),
        (Failure(422, {"error_code": f"bad {TO}"}), PermanentDeliveryError, None),
        (Failure(302, {}), PermanentDeliveryError, None),
        (Failure.timeout(seconds=5), TransientDeliveryError, None),
    ],
)
def test_failures_are_classified_by_status(
    standin: StandinHttp,
    provider: WebhookProvider,
    failure: Failure,
    error_class: type[DeliveryError],
    error_code: str | None,
) -> None:
    """408/429/5xx/timeouts transient; other answers permanent; a code that is not a plain
    token is dropped rather than copied into logs."""
    standin.fail_next(failure)
    with pytest.raises(DeliveryError) as raised:
        provider.deliver(request())
    assert type(raised.value) is error_class
    assert raised.value.error_code == error_code
    text = f"{raised.value} {raised.value.args}"
    for secret in (CODE, SECRET, TO):
        assert secret not in text


def test_an_unreachable_gateway_is_transient() -> None:
    """Connection refused is worth a retry."""
    stopped = StandinHttp().start()
    dsn = f"webhook+http://{stopped.netloc}/otp?secret={SECRET}&timeout=0.2"
    stopped.stop()
    (webhook,) = build_providers(Channel.EMAIL, parse_provider_list(Channel.EMAIL, dsn))
    try:
        with pytest.raises(TransientDeliveryError, match="could not be reached"):
            webhook.deliver(request(Channel.EMAIL))
    finally:
        webhook.close()


def test_body_is_compact_utf8_json(standin: StandinHttp, provider: WebhookProvider) -> None:
    """The signed bytes are exactly what is sent: UTF-8, no escapes, no spaces."""
    provider.deliver(request())
    body = standin.requests[0].body
    assert "código".encode() in body
    assert body == json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")).encode()


def test_an_emails_sender_and_a_calls_digits_are_passed_along(
    standin: StandinHttp, provider: WebhookProvider
) -> None:
    """`from`/`from_name` (ChannelConfiguration) for e-mail, `send_digits` for a call; absent
    when the start did not choose them."""
    email = request(Channel.EMAIL)
    chosen = replace(
        email,
        message=replace(email.message, sender="alerts@brand.example", sender_name="Acme"),
    )
    provider.deliver(chosen)
    call = request(Channel.CALL)
    provider.deliver(replace(call, message=replace(call.message, send_digits="ww12")))
    provider.deliver(request(Channel.SMS))
    first, second, third = (sent.json for sent in standin.requests)
    assert (first["from"], first["from_name"]) == ("alerts@brand.example", "Acme")
    assert second["send_digits"] == "ww12"
    assert not {"from", "from_name", "send_digits"} & set(third)


def test_from_is_one_sender_per_channel_the_emails_from_or_the_whatsapp_sender(
    standin: StandinHttp, provider: WebhookProvider
) -> None:
    """`from` means the e-mail's From on e-mail and the service's Whatsapp.From on WhatsApp,
    never one overwritten by the other: a WhatsApp sender left on an e-mail request (or an
    e-mail From on a WhatsApp message) is not what `from` carries."""
    email = request(Channel.EMAIL)
    branded = replace(email.message, sender="alerts@brand.example", sender_name="Acme")
    provider.deliver(replace(email, message=branded, whatsapp_sender="+14155550112"))
    whatsapp = request(Channel.WHATSAPP)
    stray = replace(whatsapp.message, sender="alerts@brand.example", sender_name="Acme")
    provider.deliver(replace(whatsapp, message=stray, whatsapp_sender="+14155550112"))
    provider.deliver(replace(request(Channel.SMS), whatsapp_sender="+14155550112"))
    first, second, third = (sent.json for sent in standin.requests)
    assert (first["from"], first["from_name"]) == ("alerts@brand.example", "Acme")
    assert second["from"] == "+14155550112"
    assert "from_name" not in second
    assert "from" not in third


def test_an_emails_subject_and_html_are_passed_along(
    standin: StandinHttp, provider: WebhookProvider
) -> None:
    """An e-mail gateway needs the subject and the branded HTML part, not only the plain
    text (`body`); other channels carry neither."""
    email = request(Channel.EMAIL)
    parts = replace(email.message, subject="Your Acme code", html="<p>905517</p>")
    provider.deliver(replace(email, message=parts))
    provider.deliver(request(Channel.SMS))
    first, second = (sent.json for sent in standin.requests)
    assert (first["subject"], first["html"]) == ("Your Acme code", "<p>905517</p>")
    assert first["body"] == TEXT
    assert not {"subject", "html"} & set(second)

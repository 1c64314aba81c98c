"""Every delivery provider the service ships, configured but never connected: what a message
becomes on each wire (`encode(request) -> bytes`), checked the way the far end reads it."""

from __future__ import annotations

import json
import urllib.parse
import xml.etree.ElementTree as ET
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Protocol

from verify_service.adapters.delivery.providers.console import ConsoleProvider
from verify_service.adapters.delivery.providers.smtp import SmtpConfig, SmtpProvider
from verify_service.adapters.delivery.providers.twilio import TwilioConfig, TwilioProvider
from verify_service.adapters.delivery.providers.vonage import VonageConfig, VonageProvider
from verify_service.adapters.delivery.providers.webhook import WebhookConfig, WebhookProvider
from verify_service.domain.delivery.delivery import DeliveryRequest
from verify_service.domain.models import Channel


class Encoder(Protocol):
    @property
    def name(self) -> str: ...

    def encode(self, request: DeliveryRequest) -> bytes: ...


def every_provider() -> dict[Channel, list[Encoder]]:
    """For each channel, one of each provider that carries it."""
    console = ConsoleProvider(path=None)
    smtp = SmtpProvider(
        SmtpConfig(
            host="smtp.example.test",
            port=25,
            sender="verify@example.test",
            sender_name="Acme Verify",
        )
    )
    twilio = TwilioProvider(
        TwilioConfig(account_sid="AC" + "0" * 32, auth_token="token", sender="+15005550006")
    )
    vonage = VonageProvider(VonageConfig(api_key="key", api_secret="secret", sender="Acme"))
    webhook = WebhookProvider(
        WebhookConfig(url="https://gateway.example.test/messages", secret="s" * 32)
    )
    carriers: list[tuple[Encoder, frozenset[Channel]]] = [
        (console, frozenset(Channel)),
        (smtp, SmtpConfig.CHANNELS),
        (twilio, TwilioConfig.CHANNELS),
        (vonage, VonageConfig.CHANNELS),
        (webhook, WebhookConfig.CHANNELS),
    ]
    return {
        channel: [provider for provider, channels in carriers if channel in channels]
        for channel in Channel
    }


def encode_and_read_back(provider: Encoder, request: DeliveryRequest) -> None:
    """Encode `request` and parse the bytes as the far end would; raises if either fails."""
    data = provider.encode(request)
    assert isinstance(data, bytes)
    message = request.message
    if isinstance(provider, SmtpProvider):
        assert data.isascii(), "an SMTP message without SMTPUTF8 or 8BITMIME is 7-bit"
        assert b"\n" not in data.replace(b"\r\n", b""), "every line ends with CRLF"
        # As a mailbox stores it: with the wire's CRLF line ends turned into LF.
        parsed = BytesParser(policy=policy.default).parsebytes(data.replace(b"\r\n", b"\n"))
        assert isinstance(parsed, EmailMessage)
        assert str(parsed["Subject"]) == message.subject
        assert str(parsed["To"]).isascii()
        body = parsed.get_body(("plain",))
        assert body is not None
        assert body.get_content().rstrip("\n") == message.text.rstrip("\n")
    elif isinstance(provider, TwilioProvider | VonageProvider):
        assert data.isascii()
        form = dict(urllib.parse.parse_qsl(data.decode("ascii"), strict_parsing=True))
        if "Twiml" in form:
            ET.fromstring(form["Twiml"])  # noqa: S314 -- our own document
    elif isinstance(provider, ConsoleProvider):
        assert data.index(b"\n") == len(data) - 1, "one line"
        assert json.loads(data.decode("utf-8"))["body"] == message.text
    else:
        assert json.loads(data.decode("utf-8"))["body"] == message.text

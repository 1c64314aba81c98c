"""The console:// provider writes the existing JSON-lines outbox format."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from verify_service.adapters.delivery.providers.registry import build_providers, parse_provider_list
from verify_service.domain.delivery.delivery import DeliveryRequest, RenderedMessage
from verify_service.domain.models import Channel

TEXT = "Your Acme verification code is: 112358"


def request(channel: Channel = Channel.SMS) -> DeliveryRequest:
    to = "user@example.com" if channel is Channel.EMAIL else "+14155552671"
    message = RenderedMessage(channel, "en", TEXT, subject="Acme code", html="<p>code</p>")
    return DeliveryRequest(to, message, "VA" + "1" * 32, "VE" + "2" * 32, "VL" + "3" * 32)


@pytest.mark.parametrize("channel", list(Channel))
def test_console_appends_one_json_line_per_message(tmp_path: Path, channel: Channel) -> None:
    """to, channel, body (the text), service/verification/attempt sids and locale; for an
    e-mail also its subject and HTML part, so that a developer sees the whole e-mail."""
    outbox = tmp_path / "outbox.jsonl"
    (console,) = build_providers(
        channel, parse_provider_list(channel, "console://"), console_outbox=str(outbox)
    )
    first = console.deliver(request(channel))
    console.deliver(request(channel))

    lines = outbox.read_text("utf-8").splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == {
        "to": request(channel).to,
        "channel": channel.value,
        "body": TEXT,
        "service_sid": "VA" + "1" * 32,
        "verification_sid": "VE" + "2" * 32,
        "attempt_sid": "VL" + "3" * 32,
        "locale": "en",
        **({"subject": "Acme code", "html": "<p>code</p>"} if channel is Channel.EMAIL else {}),
    }
    assert (first.provider, first.provider_message_id) == ("console", None)


def test_console_shows_the_whatsapp_sender_and_the_emails_from(tmp_path: Path) -> None:
    """A developer sees who a message is from: `from` is the service's Whatsapp.From on a
    WhatsApp line and the start's ChannelConfiguration.from on an e-mail line (one sender
    per channel, as the webhook gateway gets it)."""
    outbox = tmp_path / "outbox.jsonl"
    (console,) = build_providers(
        Channel.WHATSAPP,
        parse_provider_list(Channel.WHATSAPP, "console://"),
        console_outbox=str(outbox),
    )
    whatsapp = request(Channel.WHATSAPP)
    console.deliver(replace(whatsapp, whatsapp_sender="+14155550112"))
    email = request(Channel.EMAIL)
    branded = replace(email.message, sender="alerts@brand.example", sender_name="Acme")
    console.deliver(replace(email, message=branded))
    first, second = (json.loads(line) for line in outbox.read_text("utf-8").splitlines())
    assert first["from"] == "+14155550112"
    assert (second["from"], second["from_name"]) == ("alerts@brand.example", "Acme")


def test_console_line_keeps_the_first_cut_format_byte_for_byte(tmp_path: Path) -> None:
    """Tools that read the outbox (tests, `make run` users) see the same JSON line as before:
    these keys in this order, non-ASCII kept as is, one line per message."""
    ours = tmp_path / "provider.jsonl"
    (console,) = build_providers(
        Channel.SMS, parse_provider_list(Channel.SMS, "console://"), console_outbox=str(ours)
    )
    console.deliver(request())
    expected = json.dumps(
        {
            "to": "+14155552671",
            "channel": "sms",
            "body": TEXT,
            "service_sid": "VA" + "1" * 32,
            "verification_sid": "VE" + "2" * 32,
            "attempt_sid": "VL" + "3" * 32,
            "locale": "en",
        },
        ensure_ascii=False,
    )
    assert ours.read_bytes() == (expected + "\n").encode("utf-8")


def test_console_without_an_outbox_writes_to_standard_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """VERIFY_CONSOLE_OUTBOX unset: standard output."""
    (console,) = build_providers(Channel.CALL, parse_provider_list(Channel.CALL, "console://"))
    console.deliver(request(Channel.CALL))
    assert json.loads(capsys.readouterr().out)["channel"] == "call"

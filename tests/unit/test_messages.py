"""Message text: Twilio's default English wording, per channel."""

from __future__ import annotations

import pytest

from verify_service.domain.messages import DO_NOT_SHARE_WARNING, MessageContent, render_message
from verify_service.domain.models import Channel

TEXT_CHANNELS = [Channel.SMS, Channel.EMAIL, Channel.WHATSAPP]


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
def test_text_channels_use_twilios_default_wording(channel: Channel) -> None:
    """`Your {FriendlyName} verification code is: {code}` (reference notes §6)."""
    body = render_message(channel, MessageContent("Acme"), "123456")
    assert body == "Your Acme verification code is: 123456"


def test_code_keeps_its_leading_zeros() -> None:
    """A code is text: `012345` is sent as is."""
    body = render_message(Channel.SMS, MessageContent("Acme"), "012345")
    assert body.endswith("is: 012345")


def test_call_spells_the_code_digit_by_digit() -> None:
    """Text-to-speech reads separated digits, not `twelve thousand...`."""
    body = render_message(Channel.CALL, MessageContent("Acme"), "012345")
    assert body == "Your Acme verification code is: 0, 1, 2, 3, 4, 5."


def test_do_not_share_warning_is_appended_to_sms() -> None:
    """DoNotShareWarningEnabled adds Twilio's sentence after the code (SMS only)."""
    body = render_message(Channel.SMS, MessageContent("Acme", do_not_share_warning=True), "1234")
    assert body == (
        "Your Acme verification code is: 1234. "
        "Don’t share this code with anyone; our employees will never ask for the code."
    )
    assert DO_NOT_SHARE_WARNING in body


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.WHATSAPP, Channel.CALL])
def test_do_not_share_warning_is_only_for_sms(channel: Channel) -> None:
    """Twilio documents the warning for SMS; other channels keep their plain body."""
    warned = render_message(channel, MessageContent("Acme", do_not_share_warning=True), "1234")
    plain = render_message(channel, MessageContent("Acme"), "1234")
    assert warned == plain
    assert "share" not in warned


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
def test_psd2_message_states_amount_and_payee(channel: Channel) -> None:
    """PSD2 dynamic linking: the user sees what the code authorises."""
    content = MessageContent("Acme", amount="€12.50", payee="Shop Ltd")
    body = render_message(channel, content, "123456")
    assert body == "Your Acme verification code is: 123456. Amount: €12.50, payee: Shop Ltd"


@pytest.mark.parametrize(("amount", "payee"), [("€12.50", None), (None, "Shop Ltd"), (None, None)])
def test_psd2_line_needs_both_amount_and_payee(amount: str | None, payee: str | None) -> None:
    """Half of the PSD2 terms is not shown (the use case requires both)."""
    body = render_message(Channel.SMS, MessageContent("Acme", amount=amount, payee=payee), "1234")
    assert body == "Your Acme verification code is: 1234"


def test_sms_carries_psd2_terms_before_the_warning() -> None:
    """Terms first, then the do-not-share sentence."""
    content = MessageContent("Acme", do_not_share_warning=True, amount="10", payee="Bob")
    body = render_message(Channel.SMS, content, "1234")
    assert body == (
        "Your Acme verification code is: 1234. Amount: 10, payee: Bob. " + DO_NOT_SHARE_WARNING
    )


def test_app_hash_prefixes_sms_and_ends_it_on_its_own_line() -> None:
    """Android SMS Retriever: `<#> ` first, the 11-character app hash as the last line."""
    content = MessageContent("Acme", app_hash="He42w354ol9")
    body = render_message(Channel.SMS, content, "1234")
    assert body.startswith("<#> Your Acme verification code is: 1234")
    assert body.splitlines()[-1] == "He42w354ol9"
    assert body == "<#> Your Acme verification code is: 1234\nHe42w354ol9"


def test_app_hash_stays_last_after_warning_and_psd2_terms() -> None:
    """Whatever else the SMS carries, the hash is the final line."""
    content = MessageContent(
        "Acme", do_not_share_warning=True, amount="10", payee="Bob", app_hash="He42w354ol9"
    )
    body = render_message(Channel.SMS, content, "1234")
    first, last = body.split("\n")
    assert first.startswith("<#> Your Acme verification code is: 1234")
    assert first.endswith(DO_NOT_SHARE_WARNING)
    assert last == "He42w354ol9"


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.WHATSAPP, Channel.CALL])
def test_app_hash_is_only_for_sms(channel: Channel) -> None:
    """The SMS Retriever reads SMS only; other channels ignore the hash."""
    body = render_message(channel, MessageContent("Acme", app_hash="He42w354ol9"), "1234")
    assert "<#>" not in body
    assert "He42w354ol9" not in body


@pytest.mark.parametrize("channel", list(Channel))
def test_every_channel_names_the_service(channel: Channel) -> None:
    """The friendly name tells the user who sent the code."""
    body = render_message(channel, MessageContent("Bank of Example"), "1234")
    assert "Your Bank of Example verification code is: " in body

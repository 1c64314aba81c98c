"""Message text: Twilio's default English wording per channel, and the same shape in every
locale (e-mail parts, spoken codes, the lines phones read by machine)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from verify_service.domain.delivery.delivery import RenderedMessage
from verify_service.domain.messages.messages import (
    DO_NOT_SHARE_WARNING,
    SHIPPED_LOCALES,
    MessageContent,
    render,
)
from verify_service.domain.models import Channel

TEXT_CHANNELS = [Channel.SMS, Channel.EMAIL, Channel.WHATSAPP]


def english(channel: Channel, content: MessageContent, code: str) -> str:
    return render(channel, content, code, "en").text


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
def test_text_channels_use_twilios_default_wording(channel: Channel) -> None:
    """`Your {FriendlyName} verification code is: {code}` (reference notes §6)."""
    body = english(channel, MessageContent("Acme"), "123456")
    assert body == "Your Acme verification code is: 123456"


def test_code_keeps_its_leading_zeros() -> None:
    """A code is text: `012345` is sent as is."""
    body = english(Channel.SMS, MessageContent("Acme"), "012345")
    assert body.endswith("is: 012345")


def test_call_spells_the_code_digit_by_digit() -> None:
    """Text-to-speech reads separated digits, not `twelve thousand...`."""
    body = english(Channel.CALL, MessageContent("Acme"), "012345")
    assert body == "Your Acme verification code is: 0, 1, 2, 3, 4, 5."


def test_do_not_share_warning_is_appended_to_sms() -> None:
    """DoNotShareWarningEnabled adds Twilio's sentence after the code (SMS only)."""
    body = english(Channel.SMS, MessageContent("Acme", do_not_share_warning=True), "1234")
    assert body == (
        "Your Acme verification code is: 1234. "
        "Don’t share this code with anyone; our employees will never ask for the code."
    )
    assert DO_NOT_SHARE_WARNING in body


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.WHATSAPP, Channel.CALL])
def test_do_not_share_warning_is_only_for_sms(channel: Channel) -> None:
    """Twilio documents the warning for SMS; other channels keep their plain body."""
    warned = english(channel, MessageContent("Acme", do_not_share_warning=True), "1234")
    plain = english(channel, MessageContent("Acme"), "1234")
    assert warned == plain
    assert "share" not in warned


@pytest.mark.parametrize("channel", TEXT_CHANNELS)
def test_psd2_message_states_amount_and_payee(channel: Channel) -> None:
    """PSD2 dynamic linking: the user sees what the code authorises."""
    content = MessageContent("Acme", amount="€12.50", payee="Shop Ltd")
    body = english(channel, content, "123456")
    assert body == "Your Acme verification code is: 123456. Amount: €12.50, payee: Shop Ltd"


@pytest.mark.parametrize(("amount", "payee"), [("€12.50", None), (None, "Shop Ltd"), (None, None)])
def test_psd2_line_needs_both_amount_and_payee(amount: str | None, payee: str | None) -> None:
    """Half of the PSD2 terms is not shown (the use case requires both)."""
    body = english(Channel.SMS, MessageContent("Acme", amount=amount, payee=payee), "1234")
    assert body == "Your Acme verification code is: 1234"


def test_sms_carries_psd2_terms_before_the_warning() -> None:
    """Terms first, then the do-not-share sentence."""
    content = MessageContent("Acme", do_not_share_warning=True, amount="10", payee="Bob")
    body = english(Channel.SMS, content, "1234")
    assert body == (
        "Your Acme verification code is: 1234. Amount: 10, payee: Bob. " + DO_NOT_SHARE_WARNING
    )


def test_app_hash_prefixes_sms_and_ends_it_on_its_own_line() -> None:
    """Android SMS Retriever: `<#> ` first, the 11-character app hash as the last line."""
    content = MessageContent("Acme", app_hash="He42w354ol9")
    body = english(Channel.SMS, content, "1234")
    assert body.startswith("<#> Your Acme verification code is: 1234")
    assert body.splitlines()[-1] == "He42w354ol9"
    assert body == "<#> Your Acme verification code is: 1234\nHe42w354ol9"


def test_app_hash_stays_last_after_warning_and_psd2_terms() -> None:
    """Whatever else the SMS carries, the hash is the final line."""
    content = MessageContent(
        "Acme", do_not_share_warning=True, amount="10", payee="Bob", app_hash="He42w354ol9"
    )
    body = english(Channel.SMS, content, "1234")
    first, last = body.split("\n")
    assert first.startswith("<#> Your Acme verification code is: 1234")
    assert first.endswith(DO_NOT_SHARE_WARNING)
    assert last == "He42w354ol9"


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.WHATSAPP, Channel.CALL])
def test_app_hash_is_only_for_sms(channel: Channel) -> None:
    """The SMS Retriever reads SMS only; other channels ignore the hash."""
    body = english(channel, MessageContent("Acme", app_hash="He42w354ol9"), "1234")
    assert "<#>" not in body
    assert "He42w354ol9" not in body


@pytest.mark.parametrize("channel", list(Channel))
def test_every_channel_names_the_service(channel: Channel) -> None:
    """The friendly name tells the user who sent the code."""
    body = english(channel, MessageContent("Bank of Example"), "1234")
    assert "Your Bank of Example verification code is: " in body


# -- WebOTP ---------------------------------------------------------------------------------


def test_webotp_domain_adds_the_origin_bound_last_line() -> None:
    """WICG origin-bound one-time codes: the last line is `@domain #code`."""
    content = MessageContent("Acme", webotp_domain="example.com")
    body = english(Channel.SMS, content, "123456")
    assert body == "Your Acme verification code is: 123456\n@example.com #123456"


def test_webotp_line_comes_after_the_app_hash() -> None:
    """The SMS Retriever only needs the hash in the message; WebOTP needs its line last."""
    content = MessageContent("Acme", app_hash="He42w354ol9", webotp_domain="example.com")
    body = english(Channel.SMS, content, "123456")
    assert body.splitlines() == [
        "<#> Your Acme verification code is: 123456",
        "He42w354ol9",
        "@example.com #123456",
    ]


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.WHATSAPP, Channel.CALL])
def test_webotp_line_is_only_for_sms(channel: Channel) -> None:
    """Browsers read the origin-bound line from SMS only."""
    body = english(channel, MessageContent("Acme", webotp_domain="example.com"), "123456")
    assert "@example.com" not in body


# -- e-mail ---------------------------------------------------------------------------------


class _TextOf(HTMLParser):
    """The visible text of an HTML document and the attributes of its `<html>` element."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.html_attributes: dict[str, str | None] = {}
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.html_attributes = dict(attrs)
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if not self._in_title:
            self.text += data


def parsed(message: RenderedMessage) -> _TextOf:
    assert message.html is not None
    parser = _TextOf()
    parser.feed(message.html)
    return parser


def test_email_has_a_subject_and_both_parts_carry_the_code() -> None:
    """Subject, plain-text part and HTML part; the code is in both parts."""
    message = render(Channel.EMAIL, MessageContent("Acme"), "482913", "en")
    assert message.subject == "Your Acme verification code"
    assert message.text == "Your Acme verification code is: 482913"
    assert "482913</code>" in (message.html or "")
    # The preheader (the inbox's preview line) is the plain text's sentence.
    assert message.text in parsed(message).text


def test_email_html_escapes_the_friendly_name_and_the_terms() -> None:
    """A name or payee with markup is shown as text, never interpreted."""
    content = MessageContent("<b>Acme</b> & Co", amount="<10>", payee='"Shop" <script>')
    message = render(Channel.EMAIL, content, "1234", "en")
    html = message.html or ""
    assert "<b>" not in html
    assert "<script>" not in html
    assert "&lt;b&gt;Acme&lt;/b&gt; &amp; Co" in html
    shown = parsed(message).text
    assert "Your <b>Acme</b> & Co verification code is: 1234" in shown  # the preheader
    assert 'Amount: <10>, payee: "Shop" <script>' in shown  # the terms, under the code


@pytest.mark.parametrize(("locale", "direction"), [("en", "ltr"), ("fr", "ltr"), ("ar", "rtl")])
def test_email_html_declares_language_and_direction(locale: str, direction: str) -> None:
    """`<html lang dir>` lets mail clients pick fonts and lay out Arabic and Hebrew."""
    message = render(Channel.EMAIL, MessageContent("Acme"), "1234", locale)
    assert parsed(message).html_attributes == {"lang": locale, "dir": direction}


# -- other locales --------------------------------------------------------------------------


def test_french_sms_keeps_every_part() -> None:
    """A translation keeps Twilio's shape: code sentence, terms, warning, machine lines."""
    content = MessageContent(
        "Acme",
        do_not_share_warning=True,
        amount="12,50 €",
        payee="Boutique",
        app_hash="He42w354ol9",
        webotp_domain="example.com",
    )
    assert render(Channel.SMS, content, "123456", "fr").text == (
        "<#> Votre code de vérification Acme est : 123456. Montant : 12,50 €, "
        "bénéficiaire : Boutique. Ne le partagez avec personne ; nos employés ne vous le "
        "demanderont jamais.\nHe42w354ol9\n@example.com #123456"
    )


def test_chinese_uses_its_own_sentence_punctuation() -> None:
    """Templates wrap the text before them, so Chinese joins sentences with `。`."""
    content = MessageContent("Acme", do_not_share_warning=True, amount="¥10", payee="商店")
    body = render(Channel.SMS, content, "1234", "zh-CN").text
    assert body.startswith("【Acme】您的验证码是：1234。金额：¥10，收款方：商店。")
    assert ". " not in body


def test_zh_cn_reads_the_simplified_chinese_catalogue() -> None:
    """`zh` and `zh-CN` share one catalogue; `zh-HK` has traditional characters."""
    content = MessageContent("Acme")
    assert (
        render(Channel.SMS, content, "1", "zh").text
        == render(Channel.SMS, content, "1", "zh-CN").text
    )
    assert "驗證碼" in render(Channel.SMS, content, "1234", "zh-HK").text


@pytest.mark.parametrize(
    ("locale", "voice"),
    [("en", "en-US"), ("en-GB", "en-GB"), ("fr", "fr-FR"), ("pt", "pt-PT"), ("zh-HK", "zh-HK")],
)
def test_call_names_the_voice_language_of_its_locale(locale: str, voice: str) -> None:
    """The provider's text-to-speech speaks the locale's language (a BCP-47 tag)."""
    message = render(Channel.CALL, MessageContent("Acme"), "1234", locale)
    assert message.voice_language == voice
    assert "1, 2, 3, 4" in message.text


@pytest.mark.parametrize("locale", sorted(SHIPPED_LOCALES))
@pytest.mark.parametrize("channel", list(Channel))
def test_every_locale_renders_every_channel(locale: str, channel: Channel) -> None:
    """Every shipped locale writes each channel's message with the name and the code."""
    message = render(channel, MessageContent("Acme"), "4821", locale)
    assert message.locale == locale
    assert "Acme" in message.text
    assert ("4, 8, 2, 1" if channel is Channel.CALL else "4821") in message.text
    assert (message.subject is not None) is (channel is Channel.EMAIL)
    assert (message.voice_language is not None) is (channel is Channel.CALL)


def test_an_unshipped_locale_is_a_programming_error() -> None:
    """`render` takes a resolved locale; anything else is a bug, not English."""
    with pytest.raises(ValueError, match="xx"):
        render(Channel.SMS, MessageContent("Acme"), "1234", "xx")


def test_a_rendered_message_keeps_the_code_out_of_its_repr() -> None:
    """Tracebacks and debug logs never show the code."""
    message = render(Channel.SMS, MessageContent("Acme"), "987654", "fr")
    assert "987654" not in repr(message)

"""The words of every message, in the source language (English, Twilio's wording).

Each template is a gettext message id: `pybabel extract` collects the `N_(...)` strings of
this module into `verify_service/locales/messages.pot`, translators fill one catalogue per
locale, and `compose` looks each template up in the catalogue of the message's locale.
A template wraps the text before it (`%(message)s`), so that each language chooses its own
sentence punctuation ("1234. Amount" in English, "1234。金额" in Chinese).
"""

from __future__ import annotations

from dataclasses import dataclass
from gettext import NullTranslations

from verify_service.domain.delivery.delivery import RenderedMessage
from verify_service.domain.messages.email_layout import CodeEmail, code_email_html
from verify_service.domain.models import Channel


def N_(message: str) -> str:  # noqa: N802 -- gettext's name for "mark, translate later"
    """Mark `message` for extraction; it is translated when a message is composed."""
    return message


# TRANSLATORS: Twilio's default SMS wording. Keep it short: an SMS
# longer than 2 parts fails the check run when catalogues load
# (docs/messages.md, "Length").
CODE = N_("Your %(friendly_name)s verification code is: %(code)s")
# TRANSLATORS: PSD2 payment terms appended to the sentence above,
# %(message)s; use your language's punctuation between the two.
PSD2_TERMS = N_("%(message)s. Amount: %(amount)s, payee: %(payee)s")
# TRANSLATORS: PSD2 payment terms as a sentence of their own, shown
# in the e-mail under the code (which is not repeated there): your
# translation of "%(message)s. Amount: …" without %(message)s and
# the punctuation after it.
PSD2_TERMS_ONLY = N_("Amount: %(amount)s, payee: %(payee)s")
# TRANSLATORS: Twilio's do-not-share warning appended to the message
# so far, %(message)s. With a 30-character name and a 10-digit code
# the SMS must stay within 2 parts: prefer a compact, natural
# sentence to a literal one.
DO_NOT_SHARE = N_(
    "%(message)s. Don’t share this code with anyone; our employees will never ask for the code."
)
# TRANSLATORS: Spoken by text-to-speech on a phone call;
# %(spoken_code)s is the code's characters separated by commas.
CALL = N_("Your %(friendly_name)s verification code is: %(spoken_code)s.")
# TRANSLATORS: Subject line of the e-mail that carries the code.
EMAIL_SUBJECT = N_("Your %(friendly_name)s verification code")
# TRANSLATORS: Small print at the end of the e-mail that carries the code,
# for whoever receives a code they did not ask for.
EMAIL_IGNORE = N_("If you didn’t ask for this code, you can ignore this e-mail.")

TEMPLATES = (
    CODE,
    PSD2_TERMS,
    PSD2_TERMS_ONLY,
    DO_NOT_SHARE,
    CALL,
    EMAIL_SUBJECT,
    EMAIL_IGNORE,
)

# Android SMS Retriever (Twilio's AppHash): "<#> " first, the 11-character hash on a line.
APP_HASH_PREFIX = "<#> "
# Commas make every text-to-speech engine pause between the code's characters.
SPOKEN_CODE_SEPARATOR = ", "


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What goes into one message besides the code.

    `webotp_domain` (a service setting) adds the origin-bound last line of the WebOTP API
    (`@example.com #123456`) to SMS, so a browser on the phone can fill the code in.
    """

    friendly_name: str
    do_not_share_warning: bool = False
    amount: str | None = None
    payee: str | None = None
    app_hash: str | None = None
    webotp_domain: str | None = None

    @property
    def has_psd2_terms(self) -> bool:
        """Both terms or none: half of the PSD2 terms is never shown."""
        return self.amount is not None and self.payee is not None


@dataclass(frozen=True, slots=True)
class LocaleStyle:
    """What a locale needs besides its catalogue."""

    locale: str
    voice_language: str
    right_to_left: bool = False


def compose(
    channel: Channel,
    content: MessageContent,
    code: str,
    style: LocaleStyle,
    catalogue: NullTranslations,
) -> RenderedMessage:
    """The message for `channel` in the words of `catalogue`. Carries the code: never log it."""
    if channel is Channel.CALL:
        spoken = catalogue.gettext(CALL) % {
            "friendly_name": content.friendly_name,
            "spoken_code": SPOKEN_CODE_SEPARATOR.join(code),
        }
        return RenderedMessage(channel, style.locale, spoken, voice_language=style.voice_language)
    if channel is Channel.EMAIL:
        return RenderedMessage(
            channel,
            style.locale,
            _text(content, code, catalogue),
            subject=catalogue.gettext(EMAIL_SUBJECT) % {"friendly_name": content.friendly_name},
            html=_email_html(content, code, style, catalogue),
        )
    if channel is Channel.WHATSAPP:
        return RenderedMessage(channel, style.locale, _text(content, code, catalogue))
    return RenderedMessage(channel, style.locale, _sms(content, code, catalogue))


def _text(content: MessageContent, code: str, catalogue: NullTranslations) -> str:
    """The sentence with the code, then the PSD2 terms if any (every text channel)."""
    text = catalogue.gettext(CODE) % {"friendly_name": content.friendly_name, "code": code}
    if content.has_psd2_terms:
        text = catalogue.gettext(PSD2_TERMS) % {
            "message": text,
            "amount": content.amount,
            "payee": content.payee,
        }
    return text


def _sms(content: MessageContent, code: str, catalogue: NullTranslations) -> str:
    """SMS adds what Twilio documents for SMS only, and the lines phones read by machine."""
    text = _text(content, code, catalogue)
    if content.do_not_share_warning:
        text = catalogue.gettext(DO_NOT_SHARE) % {"message": text}
    if content.app_hash:
        # The SMS Retriever needs the hash somewhere in the message; Twilio puts it on the
        # last line, and so do we unless the WebOTP line must be last.
        text = f"{APP_HASH_PREFIX}{text}\n{content.app_hash}"
    if content.webotp_domain:
        # WICG "origin-bound one-time codes": the last line is `@domain #code`.
        text = f"{text}\n@{content.webotp_domain} #{code}"
    return text


def _email_html(
    content: MessageContent, code: str, style: LocaleStyle, catalogue: NullTranslations
) -> str:
    """The HTML part in the built-in layout (domain/messages/email_layout.py): the name as
    the heading, the subject's words as the lead, the code large, the PSD2 terms as their
    own sentence (the code is in its box, not said again), and the note for whoever did not
    ask for the code. The layout escapes every value."""
    subject = catalogue.gettext(EMAIL_SUBJECT) % {"friendly_name": content.friendly_name}
    terms = None
    if content.has_psd2_terms:
        terms = catalogue.gettext(PSD2_TERMS_ONLY) % {
            "amount": content.amount,
            "payee": content.payee,
        }
    return code_email_html(
        CodeEmail(
            locale=style.locale,
            right_to_left=style.right_to_left,
            title=subject,
            preheader=catalogue.gettext(CODE)
            % {"friendly_name": content.friendly_name, "code": code},
            heading=content.friendly_name,
            lead=subject,
            code=code,
            terms=terms,
            footnote=catalogue.gettext(EMAIL_IGNORE),
        )
    )

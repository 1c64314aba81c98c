"""Checks a catalogue must pass before it is used; a failure is a configuration error.

Run by `load_catalogues` for every locale, so a catalogue that drops the code, misspells
a placeholder or makes an SMS too long stops the service at start-up rather than at the
first send. The worst cases are documented in docs/messages.md ("Length").
"""

from __future__ import annotations

import re
from gettext import NullTranslations

from verify_service.domain.messages.message_templates import (
    TEMPLATES,
    LocaleStyle,
    MessageContent,
    compose,
)
from verify_service.domain.messages.sms_encoding import (
    SmsEncoding,
    SmsSize,
    sms_size,
    sms_wire_text,
)
from verify_service.domain.models import Channel

MAX_SMS_SEGMENTS = 2
# UCS-2 text with every option: its values and machine-read lines alone take 146 units,
# more than 2 parts (134), so no wording fits 2; 4 parts still bound the PSD2 wording.
MAX_UCS2_EVERY_OPTION_SEGMENTS = 4

# Worst cases: the longest friendly name and code the API accepts (30 characters, 10
# digits); a large amount with its currency; a payee as long as a friendly name; an
# 11-character Android app hash; a 30-character WebOTP domain.
WORST_FRIENDLY_NAME = "N" * 30
WORST_CODE = "9" * 10
WORST_AMOUNT = "EUR 1,234,567.89"
WORST_PAYEE = "P" * 30
WORST_APP_HASH = "H" * 11
WORST_WEBOTP_DOMAIN = "accounts." + "d" * 17 + ".com"

# Every option at once: 2 parts for GSM-7 text, 4 for UCS-2 text (see above).
EVERY_OPTION = MessageContent(
    WORST_FRIENDLY_NAME,
    do_not_share_warning=True,
    amount=WORST_AMOUNT,
    payee=WORST_PAYEE,
    app_hash=WORST_APP_HASH,
    webotp_domain=WORST_WEBOTP_DOMAIN,
)
# What every locale, UCS-2 included, must fit in 2 parts: the template's own sentences.
WARNING_ONLY = MessageContent(WORST_FRIENDLY_NAME, do_not_share_warning=True)

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class CatalogueError(Exception):
    """A message catalogue cannot be used as it is: a configuration error."""


class _Untranslated(NullTranslations):
    """Fallback of a catalogue: a template missing from it is an error, not English."""

    def __init__(self, locale: str) -> None:
        super().__init__()
        self._locale = locale

    def gettext(self, message: str) -> str:
        raise CatalogueError(f"{self._locale}: no translation of {message!r}")


def require_every_translation(locale: str, catalogue: NullTranslations) -> None:
    """Every template is translated, with exactly the template's placeholders."""
    catalogue.add_fallback(_Untranslated(locale))
    for template in TEMPLATES:
        translated = catalogue.gettext(template)
        expected, found = placeholders(template), placeholders(translated)
        if expected != found:
            raise CatalogueError(
                f"{locale}: {template!r} has placeholders {sorted(found)}, "
                f"expected {sorted(expected)}"
            )


def placeholders(template: str) -> set[str]:
    """The `%(name)s` placeholders of a template."""
    return set(_PLACEHOLDER.findall(template))


def worst_case_sms_sizes(style: LocaleStyle, catalogue: NullTranslations) -> dict[str, SmsSize]:
    """Encoding and parts of the worst-case SMS, as a gateway sends it (`sms_wire_text`)."""
    sizes = {}
    for name, content in (("every option", EVERY_OPTION), ("warning only", WARNING_ONLY)):
        text = compose(Channel.SMS, content, WORST_CODE, style, catalogue).text
        sizes[name] = sms_size(sms_wire_text(text))
    return sizes


def max_segments(scenario: str, encoding: SmsEncoding) -> int:
    """The parts a worst-case scenario may take: 2, but 4 for UCS-2 with every option."""
    if scenario == "every option" and encoding is SmsEncoding.UCS2:
        return MAX_UCS2_EVERY_OPTION_SEGMENTS
    return MAX_SMS_SEGMENTS


def require_short_sms(style: LocaleStyle, catalogue: NullTranslations) -> None:
    """The worst-case SMS takes no more parts than `max_segments` allows."""
    for scenario, size in worst_case_sms_sizes(style, catalogue).items():
        allowed = max_segments(scenario, size.encoding)
        if size.segments > allowed:
            raise CatalogueError(
                f"{style.locale}: the worst-case SMS ({scenario}) takes {size.segments} "
                f"{size.encoding} parts, more than {allowed} parts"
            )


def require_values_in_every_channel(style: LocaleStyle, catalogue: NullTranslations) -> None:
    """Every channel's message carries the code and the name; the text channels the terms."""
    content = MessageContent(
        WORST_FRIENDLY_NAME, amount=WORST_AMOUNT, payee=WORST_PAYEE, do_not_share_warning=True
    )
    for channel in Channel:
        message = compose(channel, content, WORST_CODE, style, catalogue)
        parts = [message.text, message.html or message.text]
        needed = [WORST_FRIENDLY_NAME]
        needed += ["9, 9"] if channel is Channel.CALL else [WORST_CODE, WORST_AMOUNT, WORST_PAYEE]
        for part in parts:
            missing = [value for value in needed if value not in part]
            if missing:
                raise CatalogueError(f"{style.locale}: the {channel} message lacks {missing}")


def check_catalogue(style: LocaleStyle, catalogue: NullTranslations, *, source: bool) -> None:
    """Every check above; `source` is the source language (English), which has no catalogue."""
    if not source:
        require_every_translation(style.locale, catalogue)
    require_values_in_every_channel(style, catalogue)
    require_short_sms(style, catalogue)

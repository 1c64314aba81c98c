"""Message text per channel and locale: the renderer the use cases call.

`resolve_locale` picks the locale (`Locale`, else the number's country, else English) and
`render` writes the message in it. The words come from gettext catalogues
(`verify_service/locales/`, see docs/messages.md); they are loaded and checked when this
module is imported, so a broken catalogue stops the service from starting.
"""

from __future__ import annotations

from verify_service.domain.delivery.delivery import RenderedMessage
from verify_service.domain.messages import locale_resolution
from verify_service.domain.messages.catalogues import load_catalogues
from verify_service.domain.messages.message_templates import DO_NOT_SHARE, MessageContent, compose
from verify_service.domain.models import Channel

__all__ = [
    "DO_NOT_SHARE_WARNING",
    "SHIPPED_LOCALES",
    "MessageContent",
    "render",
    "resolve_locale",
]

# Twilio's English sentence (reference notes §6), as the SMS carries it.
DO_NOT_SHARE_WARNING = DO_NOT_SHARE.removeprefix("%(message)s. ")

_CATALOGUES = load_catalogues()
SHIPPED_LOCALES = frozenset(_CATALOGUES)


def resolve_locale(requested: str | None, destination: str, channel: Channel) -> str:
    """The locale of a message to `destination`: `requested` (a validated `Locale`), else
    the phone number's country language if shipped, else English (always for e-mail).
    """
    return locale_resolution.resolve_locale(requested, destination, channel, SHIPPED_LOCALES)


def render(channel: Channel, content: MessageContent, code: str, locale: str) -> RenderedMessage:
    """The message for `channel` in `locale` (a shipped locale). Carries the code: never
    log it.
    """
    catalogue = _CATALOGUES.get(locale)
    if catalogue is None:
        raise ValueError(f"no catalogue for locale {locale!r}")
    return compose(channel, content, code, catalogue.style, catalogue.translations)


def catalogue_text(locale: str, message: str) -> str:
    """`message` (a template of message_templates.py) in the words of a shipped locale."""
    return _CATALOGUES[locale].translations.gettext(message)

"""A message template: its parts per channel and locale, its variables, where it comes from.

The wording is Jinja source restricted to a small language (`syntax.py`); a template is
only built by `checks.build_template`, which refuses anything `syntax` or the save-time
checks refuse, so every `MessageTemplate` can render every start it serves.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

from verify_service.domain.models import Channel

# Twilio's Template resource: `friendly_name` is at most 32 characters.
MAX_TEMPLATE_NAME_LENGTH = 32
# Declared custom variables: at most this many, each at most this long.
MAX_VARIABLES = 10
MAX_VARIABLE_LENGTH = 100
# Source length of one part (an SMS part is checked by its segments, this bounds parsing).
MAX_TEXT_PART_LENGTH = 2_000
MAX_HTML_PART_LENGTH = 20_000


class Part(enum.StrEnum):
    """One piece of wording; a channel needs some of them (`PARTS_OF_CHANNEL`)."""

    SMS = "sms"
    CALL = "call"
    WHATSAPP = "whatsapp"
    EMAIL_SUBJECT = "email_subject"
    EMAIL_HTML = "email_html"
    EMAIL_TEXT = "email_text"

    @property
    def wire_name(self) -> str:
        """How an error names it: `EmailSubject` (`Translations.fr.EmailSubject`)."""
        return "".join(word.capitalize() for word in self.value.split("_"))

    @property
    def max_length(self) -> int:
        return MAX_HTML_PART_LENGTH if self is Part.EMAIL_HTML else MAX_TEXT_PART_LENGTH


# The parts a channel must have for the template to serve it; `email_html` is optional
# (without it the e-mail is plain text).
PARTS_OF_CHANNEL: dict[Channel, tuple[Part, ...]] = {
    Channel.SMS: (Part.SMS,),
    Channel.CALL: (Part.CALL,),
    Channel.WHATSAPP: (Part.WHATSAPP,),
    Channel.EMAIL: (Part.EMAIL_SUBJECT, Part.EMAIL_TEXT),
}


class Source(enum.StrEnum):
    BUILTIN = "builtin"  # the service's own wording (gettext catalogues)
    FILE = "file"  # VERIFY_TEMPLATES_DIR: read-only through the API
    API = "api"  # the extension API (`POST /v2/Templates`), stored in Redis


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """`translations`: locale -> part -> Jinja source. `variables`: declared custom
    variable -> the longest value a start may give it."""

    sid: str
    friendly_name: str
    translations: dict[str, dict[Part, str]]
    default_locale: str
    variables: dict[str, int] = field(default_factory=dict)
    allow_links: bool = False
    source: Source = Source.API
    date_created_ms: int = 0
    date_updated_ms: int = 0

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The channels every locale of the template has the parts of."""
        return tuple(
            channel
            for channel, parts in PARTS_OF_CHANNEL.items()
            if all(
                all(part in translation for part in parts)
                for translation in self.translations.values()
            )
        )

    def serves(self, channel: Channel) -> bool:
        return channel in self.channels

    def locale_for(self, resolved: str) -> str:
        """The template's locale for a message resolved to `resolved` (Locale, else the
        number's country, else English): that locale, else its language without region
        (`pt-BR` -> `pt`), else the template's default locale."""
        if resolved in self.translations:
            return resolved
        language = resolved.split("-", 1)[0]
        if language in self.translations:
            return language
        return self.default_locale


def derived_sid(seed: str) -> str:
    """A stable `HJ` sid from a name (the built-in template, a template file's name)."""
    return "HJ" + hashlib.sha256(seed.encode()).hexdigest()[:32]

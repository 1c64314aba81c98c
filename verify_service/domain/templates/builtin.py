"""The built-in wording, as a template: what `GET /v2/Templates` lists first and what a
start without a template uses.

Its translations are the gettext catalogues' sentences with `{{friendly_name}}` and
`{{code}}` in place of the catalogue's placeholders, for reading; rendering it goes
through the catalogues themselves (domain/messages/messages.py), so the built-in
messages stay byte for byte what they were (PSD2 terms and the do-not-share warning
included).
"""

from __future__ import annotations

from verify_service.domain.messages.message_templates import CALL, CODE, EMAIL_SUBJECT
from verify_service.domain.messages.messages import SHIPPED_LOCALES, catalogue_text
from verify_service.domain.templates.template import MessageTemplate, Part, Source, derived_sid

BUILTIN_TEMPLATE_SID = derived_sid("verify-service:builtin-template")
BUILTIN_TEMPLATE_NAME = "Default (built-in)"

_PLACEHOLDERS = {
    "%(friendly_name)s": "{{friendly_name}}",
    "%(code)s": "{{code}}",
    "%(spoken_code)s": "{{code}}",
}


def _jinja(text: str) -> str:
    for placeholder, variable in _PLACEHOLDERS.items():
        text = text.replace(placeholder, variable)
    return text


def _translation(locale: str) -> dict[Part, str]:
    code, call = _jinja(catalogue_text(locale, CODE)), _jinja(catalogue_text(locale, CALL))
    return {
        Part.SMS: code,
        Part.CALL: call,
        Part.WHATSAPP: code,
        Part.EMAIL_SUBJECT: _jinja(catalogue_text(locale, EMAIL_SUBJECT)),
        Part.EMAIL_TEXT: code,
    }


BUILTIN_TEMPLATE = MessageTemplate(
    sid=BUILTIN_TEMPLATE_SID,
    friendly_name=BUILTIN_TEMPLATE_NAME,
    translations={locale: _translation(locale) for locale in sorted(SHIPPED_LOCALES)},
    default_locale="en",
    source=Source.BUILTIN,
)

"""Save-time checks: a template that passes them can render every start it serves.

`build_template` checks everything a template is made of and is the only way to make one
(the API, template files and the Redis store's reads for a start all go through it; the
list endpoint's `read_listed`, adapters/redis_store/templates/template_store.py, shows
stored templates without checking them again: they were checked at save, and a start
decodes the one it uses with the checks):

- `FriendlyName`: 1-32 characters (Twilio's limit), wire-safe, displayed;
- `Translations`: locales from Twilio's list, parts `sms`, `call`, `whatsapp`,
  `email_subject`, `email_html`, `email_text`, the same parts in every locale;
- each part in the template language (`syntax.py`), known variables only;
- the code exactly once, outside every `{% if %}`, in each part but `email_subject`: a
  subject shows in notifications, mailbox lists and mail servers' logs, where a code must
  not be;
- no control or invisible characters in the literal text (line breaks allowed, not in a
  subject), and no links unless `AllowLinks`;
- the SMS of every locale within the segment budget of the built-in wording
  (domain/messages/catalogue_checks.py), every variable at its longest.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape as xml_escape

from verify_service.domain.errors import InvalidParameter, keyed_parameter
from verify_service.domain.messages.catalogue_checks import (
    WORST_AMOUNT,
    WORST_APP_HASH,
    WORST_CODE,
    WORST_FRIENDLY_NAME,
    WORST_PAYEE,
    WORST_WEBOTP_DOMAIN,
    max_segments,
)
from verify_service.domain.messages.locales import SUPPORTED_LOCALES
from verify_service.domain.messages.message_text import (
    is_link_like,
    is_wire_safe,
    require_displayed,
    require_wire_safe,
)
from verify_service.domain.messages.sms_encoding import sms_size, sms_wire_text
from verify_service.domain.models import MAX_TTL_SECONDS, Channel
from verify_service.domain.templates.html_context import require_safe_html_outputs
from verify_service.domain.templates.html_reading import link_readings
from verify_service.domain.templates.rendering import (
    TemplateValues,
    render_template,
    ttl_minutes,
)
from verify_service.domain.templates.syntax import TemplateSourceError, outline
from verify_service.domain.templates.template import (
    MAX_TEMPLATE_NAME_LENGTH,
    MessageTemplate,
    Part,
    Source,
)
from verify_service.domain.templates.variables import BUILTIN_VARIABLES, require_variables

_BY_LOWER = {locale.lower(): locale for locale in SUPPORTED_LOCALES}
# Twilio refuses a call whose inline TwiML passes 4000 characters (error 32018); the call
# says its text twice (adapters/delivery/providers/twilio.py `spoken_twiml`), with ~150
# characters of markup. A WhatsApp (Messages API) body holds at most 1600 characters.
MAX_CALL_CHARACTERS = 1_900
MAX_WHATSAPP_CHARACTERS = 1_600
_ALLOWED_BREAKS = {Part.EMAIL_HTML: "\n\r\t"}


def require_template_name(value: object, parameter: str = "FriendlyName") -> str:
    if not isinstance(value, str):
        raise InvalidParameter(parameter, "required")
    name = require_wire_safe(value, parameter).strip()
    if not 0 < len(name) <= MAX_TEMPLATE_NAME_LENGTH:
        raise InvalidParameter(parameter, f"1-{MAX_TEMPLATE_NAME_LENGTH} characters")
    return require_displayed(name, parameter)


def build_template(
    *,
    sid: str,
    friendly_name: object,
    translations: object,
    default_locale: object = None,
    variables: object = None,
    allow_links: bool = False,
    source: Source = Source.API,
    date_created_ms: int = 0,
    date_updated_ms: int = 0,
) -> MessageTemplate:
    """A checked template, or InvalidParameter naming the field (`Translations.fr.Sms`)."""
    declared = require_variables({} if variables is None else variables)
    parsed = _translations(translations)
    if default_locale is None:
        default_locale = "en" if "en" in parsed else min(parsed)
    locale = _locale(default_locale, "DefaultLocale")
    if locale not in parsed:
        raise InvalidParameter("DefaultLocale", "not a locale of Translations")
    template = MessageTemplate(
        sid=sid,
        friendly_name=require_template_name(friendly_name),
        translations=parsed,
        default_locale=locale,
        variables=declared,
        allow_links=allow_links,
        source=source,
        date_created_ms=date_created_ms,
        date_updated_ms=date_updated_ms,
    )
    known = BUILTIN_VARIABLES | frozenset(declared)
    for locale_name, parts in parsed.items():
        for part, text in parts.items():
            _check_part(template, f"Translations.{locale_name}.{part.wire_name}", part, text, known)
        if Part.SMS in parts:
            _check_sms_budget(template, locale_name)
        for channel in (Channel.CALL, Channel.WHATSAPP):
            if template.serves(channel):
                _check_longest(template, locale_name, channel)
    return template


def canonical_locale(value: object) -> str | None:
    """The locale of Twilio's list `value` spells (`pt_br` is `pt-BR`), else None."""
    if not isinstance(value, str):
        return None
    return _BY_LOWER.get(value.strip().replace("_", "-").lower())


def _locale(value: object, parameter: str) -> str:
    canonical = canonical_locale(value)
    if canonical is None:
        raise InvalidParameter(parameter, "not a locale of Twilio's list")
    return canonical


def _translations(value: object) -> dict[str, dict[Part, str]]:
    if not isinstance(value, dict) or not value:
        raise InvalidParameter("Translations", 'a JSON object {"en": {"sms": "…"}, …}')
    parsed: dict[str, dict[Part, str]] = {}
    for locale_name, parts in value.items():
        field = keyed_parameter("Translations", locale_name)
        locale = _locale(locale_name, field)
        if locale in parsed:
            raise InvalidParameter(field, "given twice")
        if not isinstance(parts, dict) or not parts:
            raise InvalidParameter(field, 'a JSON object {"sms": "…", "call": "…"}')
        parsed[locale] = {
            _part(name, field): _text(name, text, field) for name, text in parts.items()
        }
        if Part.EMAIL_HTML in parsed[locale] and Part.EMAIL_TEXT not in parsed[locale]:
            raise InvalidParameter(field, "email_html needs email_text (the plain-text part)")
        if (Part.EMAIL_SUBJECT in parsed[locale]) != (Part.EMAIL_TEXT in parsed[locale]):
            raise InvalidParameter(field, "email_subject and email_text go together")
    first, *others = parsed.items()
    for locale, parts in others:
        if set(parts) != set(first[1]):
            raise InvalidParameter(
                f"Translations.{locale}",
                f"the same parts in every locale ({first[0]} has {', '.join(sorted(first[1]))})",
            )
    return parsed


def _part(name: object, field: str) -> Part:
    try:
        return Part(str(name))
    except ValueError:
        raise InvalidParameter(
            keyed_parameter(field, name),
            f"not a part (parts: {', '.join(part.value for part in Part)})",
        ) from None


def _text(name: object, text: object, field: str) -> str:
    part = Part(str(name))
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameter(f"{field}.{part.wire_name}", "a non-empty string")
    if len(text) > part.max_length:
        raise InvalidParameter(f"{field}.{part.wire_name}", f"at most {part.max_length} characters")
    return text


def _check_part(
    template: MessageTemplate, field: str, part: Part, text: str, known: frozenset[str]
) -> None:
    try:
        shape = outline(text, known, html=part is Part.EMAIL_HTML)
        if part is Part.EMAIL_HTML:
            require_safe_html_outputs(text)
    except TemplateSourceError as exc:
        raise InvalidParameter(field, exc.reason) from None
    if part is Part.EMAIL_SUBJECT:
        if shape.code_outputs:
            raise InvalidParameter(field, "no {{ code }} in a subject (notifications show it)")
        if "=?" in "".join(shape.static_text):
            raise InvalidParameter(field, "no MIME encoded words (=?…?=)")
    elif shape.code_outputs != 1 or shape.code_outputs_unconditional != 1:
        raise InvalidParameter(
            field, f"{{{{ code }}}} exactly once, outside {{% if %}} (found {shape.code_outputs})"
        )
    literal = "".join(shape.static_text)
    breaks = _ALLOWED_BREAKS.get(part, "" if part is Part.EMAIL_SUBJECT else "\n")
    # In `email_html`, the characters its references name too (`&#8203;` is a zero-width
    # space to a mail reader, as the literal character the rule refuses).
    readings = link_readings(literal) if part is Part.EMAIL_HTML else (literal,)
    if not all(
        is_wire_safe("".join(char for char in reading if char not in breaks))
        for reading in readings
    ):
        raise InvalidParameter(field, "control or invisible formatting characters")
    # `link_text` (syntax.py) reads `friendly_name`, `code` and `ttl` outside every
    # `{% if %}` as a word ("x": never empty there), so a sentence ending after one
    # (`{{friendly_name}}. Valable`) reads as `x. Valable`, not a spaced-out dot; every other
    # variable (a substitution, `amount`, `payee`, anything under an if) reads as nothing,
    # as it may be empty, so a link split by one is seen joined (`evil{{shop}}.com`: `evil.com`).
    # In `email_html`, as a mail reader decodes it too (`&#46;` is a dot: html_reading.py).
    chunks = (*shape.static_text, shape.link_text)
    if part is Part.EMAIL_HTML:
        chunks = tuple(reading for chunk in chunks for reading in link_readings(chunk))
    if not template.allow_links and any(is_link_like(chunk) for chunk in chunks):
        raise InvalidParameter(field, "no links or web addresses unless AllowLinks")


def _check_sms_budget(template: MessageTemplate, locale: str) -> None:
    """Longest values, then every optional value empty (the other branch of each
    `{% if %}`); each with and without the machine-read lines."""
    longest = {name: "W" * length for name, length in template.variables.items()}
    for substitutions, amount, payee in ((longest, WORST_AMOUNT, WORST_PAYEE), ({}, None, None)):
        for scenario, app_hash, domain in (
            ("every option", WORST_APP_HASH, WORST_WEBOTP_DOMAIN),
            ("text only", None, None),
        ):
            values = TemplateValues(
                WORST_FRIENDLY_NAME,
                WORST_CODE,
                ttl_minutes(MAX_TTL_SECONDS),
                amount=amount,
                payee=payee,
                app_hash=app_hash,
                webotp_domain=domain,
                substitutions=substitutions,
            )
            text = render_template(template, Channel.SMS, locale, values).text
            size = sms_size(sms_wire_text(text))
            allowed = max_segments(scenario, size.encoding)
            if size.segments > allowed:
                raise InvalidParameter(
                    f"Translations.{locale}.Sms",
                    f"the longest SMS ({scenario}) takes {size.segments} {size.encoding} "
                    f"parts, more than {allowed}",
                )


def _check_longest(template: MessageTemplate, locale: str, channel: Channel) -> None:
    """The call or WhatsApp text with every value at its longest within what Twilio sends
    (`MAX_CALL_CHARACTERS`, `MAX_WHATSAPP_CHARACTERS`)."""
    values = TemplateValues(
        WORST_FRIENDLY_NAME,
        WORST_CODE,
        ttl_minutes(MAX_TTL_SECONDS),
        amount=WORST_AMOUNT,
        payee=WORST_PAYEE,
        substitutions={name: "W" * length for name, length in template.variables.items()},
    )
    text = render_template(template, channel, locale, values).text
    size, limit = sent_length(channel, text)
    if size > limit:
        part = Part.CALL if channel is Channel.CALL else Part.WHATSAPP
        raise InvalidParameter(
            f"Translations.{locale}.{part.wire_name}",
            f"the longest {channel.value} text takes {size} characters, more than {limit}",
        )


def sent_length(channel: Channel, text: str) -> tuple[int, int]:
    """(the characters `text` takes as sent, the most that may be sent) for a call (XML
    escaped, as the TwiML carries it) or a WhatsApp message."""
    if channel is Channel.CALL:
        return len(xml_escape(text)), MAX_CALL_CHARACTERS
    return len(text), MAX_WHATSAPP_CHARACTERS


def require_sent_length(channel: Channel, text: str, parameter: str) -> None:
    """A start's own call or WhatsApp text within `sent_length`'s bound (its values may be
    longer as sent than the save check's: `&` is `&amp;` in TwiML)."""
    size, limit = sent_length(channel, text)
    if size > limit:
        raise InvalidParameter(
            parameter, f"the {channel.value} would take {size} characters, more than {limit}"
        )


def template_fields(template: MessageTemplate) -> dict[str, Any]:
    """The fields `build_template` takes, as the template has them (to store, to update)."""
    return {
        "sid": template.sid,
        "friendly_name": template.friendly_name,
        "translations": {
            locale: {part.value: text for part, text in parts.items()}
            for locale, parts in template.translations.items()
        },
        "default_locale": template.default_locale,
        "variables": dict(template.variables),
        "allow_links": template.allow_links,
        "source": template.source,
        "date_created_ms": template.date_created_ms,
        "date_updated_ms": template.date_updated_ms,
    }


def require_sms_within_budget(sent: str, every_option: bool, parameter: str) -> None:
    """A start's own SMS (`sent`: the rendered text, machine lines included) within the
    budget the save check promised. The save check fills variables with their longest
    GSM-7 values; a value outside GSM-7 switches the SMS to UCS-2 (70 characters a part),
    and a filter can lengthen a value (`'ß' | upper` is `SS`), so a start's values are
    checked again here, before anything is written."""
    size = sms_size(sms_wire_text(sent))
    allowed = max_segments("every option" if every_option else "text only", size.encoding)
    if size.segments > allowed:
        raise InvalidParameter(
            parameter,
            f"the SMS would take {size.segments} {size.encoding} parts, more than {allowed}",
        )

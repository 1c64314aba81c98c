"""A template's message for one start: `render_template`.

Values go into the template as text: Jinja syntax in a value is printed, never run, and in
`email_html` every value is HTML-escaped (autoescape). What the service adds on its own
is what today's renderer adds (domain/messages/message_templates.py): for SMS the Android
SMS Retriever lines (`AppHash`) and the WebOTP last line; for a call the code spoken digit
by digit and the locale's voice. Twilio's do-not-share warning is not added to a custom
template: its wording is the template's own business (docs/messages.md, "Templates").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from jinja2 import Template

from verify_service.domain.delivery.delivery import RenderedMessage
from verify_service.domain.messages.catalogues import RIGHT_TO_LEFT, VOICE_LANGUAGE
from verify_service.domain.messages.email_layout import FONT, INK, document
from verify_service.domain.messages.message_templates import (
    APP_HASH_PREFIX,
    SPOKEN_CODE_SEPARATOR,
    MessageContent,
)
from verify_service.domain.messages.messages import render
from verify_service.domain.models import Channel
from verify_service.domain.templates.syntax import environment
from verify_service.domain.templates.template import MessageTemplate, Part, Source


@dataclass(frozen=True, slots=True)
class TemplateValues:
    """What one start puts into its message. Carries the code: never log it."""

    friendly_name: str
    code: str
    ttl_minutes: int
    amount: str | None = None
    payee: str | None = None
    app_hash: str | None = None
    webotp_domain: str | None = None
    do_not_share_warning: bool = False  # the built-in template only
    substitutions: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return "TemplateValues(...)"


def ttl_minutes(ttl_seconds: int) -> int:
    """Twilio's `{{ttl}}`: the code's lifetime in whole minutes, rounded up."""
    return max(1, -(-ttl_seconds // 60))


def render_template(
    template: MessageTemplate, channel: Channel, resolved_locale: str, values: TemplateValues
) -> RenderedMessage:
    """The message of `template` for `channel`, in the template's locale for
    `resolved_locale` (`MessageTemplate.locale_for`). The template serves `channel`."""
    if template.source is Source.BUILTIN:
        content = MessageContent(
            values.friendly_name,
            do_not_share_warning=values.do_not_share_warning,
            amount=values.amount,
            payee=values.payee,
            app_hash=values.app_hash,
            webotp_domain=values.webotp_domain,
        )
        return render(channel, content, values.code, resolved_locale)
    locale = template.locale_for(resolved_locale)
    parts = template.translations[locale]
    context = _context(template, values)
    if channel is Channel.CALL:
        spoken = {**context, "code": SPOKEN_CODE_SEPARATOR.join(values.code)}
        return RenderedMessage(
            channel,
            locale,
            _fill(parts[Part.CALL], spoken),
            voice_language=VOICE_LANGUAGE.get(locale, "en-US"),
        )
    if channel is Channel.EMAIL:
        html = parts.get(Part.EMAIL_HTML)
        text = _fill(parts[Part.EMAIL_TEXT], context)
        subject = _fill(parts[Part.EMAIL_SUBJECT], context)
        return RenderedMessage(
            channel,
            locale,
            text,
            subject=subject,
            html=None
            if html is None
            else _framed(_fill(html, context, html=True), locale, subject, text),
        )
    if channel is Channel.WHATSAPP:
        return RenderedMessage(channel, locale, _fill(parts[Part.WHATSAPP], context))
    return RenderedMessage(channel, locale, _sms(_fill(parts[Part.SMS], context), values))


def _context(template: MessageTemplate, values: TemplateValues) -> dict[str, str]:
    context = dict.fromkeys(template.variables, "")
    context.update(values.substitutions)
    context.update(
        friendly_name=values.friendly_name,
        code=values.code,
        ttl=str(values.ttl_minutes),
        amount=values.amount or "",
        payee=values.payee or "",
    )
    return context


def _sms(text: str, values: TemplateValues) -> str:
    """The lines phones read by machine, as the built-in wording has them."""
    if values.app_hash:
        text = f"{APP_HASH_PREFIX}{text}\n{values.app_hash}"
    if values.webotp_domain:
        text = f"{text}\n@{values.webotp_domain} #{values.code}"
    return text


# An operator's `email_html` that is a whole document (`<!DOCTYPE` or `<html` first) is sent
# as written; a fragment goes into the built-in e-mail's frame (docs/messages.md, "Branded
# e-mail"): language and direction, charset, viewport, colour-scheme metas, the preheader and
# a card at most 600 px wide, so a short `<p>…</p>` renders as well as the built-in e-mail.
_WHOLE_DOCUMENT = re.compile(r"\s*(?:<!doctype|<html[\s>])", re.IGNORECASE)


def _framed(body: str, locale: str, subject: str, text: str) -> str:
    if _WHOLE_DOCUMENT.match(body):
        return body
    return document(
        locale=locale,
        right_to_left=locale in RIGHT_TO_LEFT,
        title=subject,
        preheader=text.splitlines()[0] if text else "",
        body_html=(
            '<tr><td class="vs-cell vs-ink" '
            f'style="padding:24px 32px;font-family:{FONT};color:{INK}">{body}</td></tr>'
        ),
    )


def _fill(source: str, context: Mapping[str, str], *, html: bool = False) -> str:
    return _compiled(source, html).render(context)


@functools.lru_cache(maxsize=4096)
def _compiled(source: str, html: bool) -> Template:
    """Compiling is the slow part (milliseconds): once per source per process."""
    return environment(html).from_string(source)

"""The bytes a provider sends, built strictly: every provider's `encode(request) -> bytes`
uses these, and `deliver` sends exactly what `encode` returns.

The start refuses text a message cannot carry (domain/messages/message_text.py), so none of
these raises for a message the service accepted (for every provider:
tests/integration/test_accepted_content_is_deliverable.py); if one ever did, the message
fails at once as permanent, never as a retry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import urlencode

from email_validator import EmailNotValidError, validate_email

from verify_service.domain.delivery.delivery import (
    DeliveryRequest,
    PermanentDeliveryError,
    RenderedMessage,
)
from verify_service.domain.models import Channel

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"

# XML 1.0 `Char`: what a TwiML document may contain at all.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class UnencodableMessage(PermanentDeliveryError):
    """The message cannot be written in the provider's wire format (no retry can help)."""


def utf8(text: str, provider: str) -> bytes:
    """`text` as UTF-8; a lone surrogate is refused rather than replaced."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnencodableMessage(f"{provider} cannot encode the message as UTF-8") from None


def form_body(form: Mapping[str, str], provider: str) -> bytes:
    """An `application/x-www-form-urlencoded` body, UTF-8 percent-encoded (what `requests`
    would send for the same dict, but refusing rather than replacing)."""
    for value in form.values():
        utf8(value, provider)
    return urlencode(form, encoding="utf-8", errors="strict").encode("ascii")


def json_body(document: Mapping[str, object], provider: str) -> bytes:
    """A compact JSON document in UTF-8, non-ASCII characters as they are."""
    return utf8(json.dumps(document, ensure_ascii=False, separators=(",", ":")), provider)


def xml_document(document: str, provider: str) -> str:
    """`document` if every character is one XML 1.0 allows (TwiML is XML)."""
    if _NOT_XML_CHAR.search(document):
        raise UnencodableMessage(f"{provider} cannot put the message into XML")
    utf8(document, provider)
    return document


def smtp_address(address: str, provider: str) -> str:
    """`address` as plain SMTP carries it: the domain in its IDNA form (`xn--…`). A
    non-ASCII local part (which would need SMTPUTF8) or a line break is refused."""
    if not address.isascii() or "\r" in address or "\n" in address:
        try:
            ascii_form = validate_email(address, check_deliverability=False).ascii_email
        except EmailNotValidError:
            ascii_form = None
        if not ascii_form:
            raise UnencodableMessage(
                f"{provider} cannot write the recipient into the headers in ASCII"
            )
        return ascii_form
    return address


def email_parts(message: RenderedMessage) -> dict[str, str]:
    """An e-mail's `subject` and `html` part, for providers that pass the message on as JSON
    (`body` is its plain-text part); nothing for another channel."""
    if message.channel is not Channel.EMAIL:
        return {}
    parts = {"subject": message.subject, "html": message.html}
    return {key: value for key, value in parts.items() if value is not None}


def channel_options(request: DeliveryRequest) -> dict[str, str]:
    """What a start chose for its channel, for providers that pass it on as JSON: the
    e-mail's `from` and `from_name` (ChannelConfiguration), a WhatsApp message's `from`
    (the service's Whatsapp.From, as the worker allowed it), the call's `send_digits`.
    `from` is one sender per channel, never two: the e-mail From is `message.sender`, the
    WhatsApp sender is `request.whatsapp_sender` (docs/providers.md, `webhook://`)."""
    message = request.message
    email = message.channel is Channel.EMAIL
    whatsapp = message.channel is Channel.WHATSAPP
    options = {
        "from": message.sender if email else request.whatsapp_sender if whatsapp else None,
        "from_name": message.sender_name if email else None,
        "send_digits": message.send_digits,
    }
    return {key: value for key, value in options.items() if value is not None}

"""Message text, in Twilio's default English wording (localised templates come later)."""

from __future__ import annotations

from dataclasses import dataclass

from verify_service.domain.models import Channel

DO_NOT_SHARE_WARNING = (
    "Don’t share this code with anyone; our employees will never ask for the code."
)


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What goes into one message besides the code."""

    friendly_name: str
    do_not_share_warning: bool = False
    amount: str | None = None
    payee: str | None = None
    app_hash: str | None = None


def render_message(channel: Channel, content: MessageContent, code: str) -> str:
    """The message text for `channel`. The result carries the code: never log it."""
    if channel is Channel.CALL:
        spoken = ", ".join(code)
        return f"Your {content.friendly_name} verification code is: {spoken}."
    text = f"Your {content.friendly_name} verification code is: {code}"
    if content.amount is not None and content.payee is not None:
        text += f". Amount: {content.amount}, payee: {content.payee}"
    if content.do_not_share_warning and channel is Channel.SMS:
        text += f". {DO_NOT_SHARE_WARNING}"
    if content.app_hash and channel is Channel.SMS:
        # Android SMS Retriever: the app hash on its own last line (Twilio prefixes "<#> ").
        text = f"<#> {text}\n{content.app_hash}"
    return text

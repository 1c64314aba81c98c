"""`ChannelConfiguration` on a start (Twilio's e-mail shape) and the operator's sender policy.

Twilio: `{"from": "...", "from_name": "...", "template_id": "HJ...", "substitutions": {...}}`,
e-mail only. Every key is checked here, when the start arrives (docs/messages.md,
"Branded e-mail"):

- `from`: an e-mail address the operator allows in `VERIFY_EMAIL_SENDERS` (addresses and
  `@domain` entries); with none allowed, every `from` is refused, since any API client could
  otherwise send as the operator's domain.
- `from_name`: a name (`require_name`: wire-safe, no links, no encoded words, 1-30).
- `template_id`: a template sid (`HJ` + 32 hex digits), the e-mail's `TemplateSid`.
- `substitutions`: an object of string values, the e-mail's `TemplateCustomSubstitutions`.

Any other key, a value of another type, or the object on a channel other than e-mail is a
60200 naming `ChannelConfiguration` (and the key).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from verify_service.domain.destinations import ENCODED_WORD_OPENER
from verify_service.domain.errors import InvalidParameter, keyed_parameter
from verify_service.domain.messages.message_text import require_name, require_wire_safe
from verify_service.domain.models import Channel

PARAMETER = "ChannelConfiguration"
KEYS = ("from", "from_name", "template_id", "substitutions")
_TEMPLATE_SID = re.compile(r"HJ[0-9a-fA-F]{32}")
_MAX_ADDRESS_LENGTH = 254
_MAX_SUBSTITUTIONS = 32
_MAX_SUBSTITUTION_KEY = 64
_MAX_SUBSTITUTION_VALUE = 256


@dataclass(frozen=True, slots=True)
class ChannelConfiguration:
    """The checked keys of a start's `ChannelConfiguration` (all optional)."""

    sender: str | None = None
    sender_name: str | None = None
    template_sid: str | None = None
    substitutions: tuple[tuple[str, str], ...] = ()


def _address(value: str) -> str | None:
    """`value` normalised (domain lower-cased, IDNA checked), or None if not an address."""
    candidate = value.strip()
    if not candidate or len(candidate) > _MAX_ADDRESS_LENGTH or not candidate.isascii():
        return None  # ASCII only: a From header's address must travel without SMTPUTF8
    if ENCODED_WORD_OPENER in candidate:
        return None  # a From header would decode it (`=?utf-8?q?x?=@…`): not as written
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return None
    local, _, domain = str(result.normalized).rpartition("@")
    return f"{local}@{domain.lower()}"


@dataclass(frozen=True, slots=True)
class EmailSenderPolicy:
    """The `From` addresses a start may choose (`VERIFY_EMAIL_SENDERS`): exact addresses and
    whole domains (`@example.com`, that domain only, not its subdomains), in lower case.
    Empty: none."""

    addresses: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> EmailSenderPolicy:
        """A comma list of `user@domain` and `@domain` entries; ValueError names the bad one's
        position (never a secret: these are public addresses, but the message stays short)."""
        addresses: set[str] = set()
        domains: set[str] = set()
        for position, raw in enumerate(text.split(","), start=1):
            entry = raw.strip()
            if not entry:
                continue
            wildcard = entry.partition("@")[0] if "@" in entry else entry.partition(".")[0]
            if wildcard in ("*", "%"):  # `*@d` is a valid address: one mailbox, not the domain
                domain = entry.partition("@")[2] if "@" in entry else entry.partition(".")[2]
                raise ValueError(
                    f"entry {position} is a wildcard: write @{domain} for a whole domain"
                )
            if entry.startswith("@"):
                checked = _address(f"sender{entry}")
                if checked is None:
                    raise ValueError(f"entry {position} is not an @domain")
                domains.add(checked.rpartition("@")[2])
                continue
            checked = _address(entry)
            if checked is None:
                raise ValueError(f"entry {position} is not an e-mail address or an @domain")
            addresses.add(checked.lower())
        return cls(frozenset(addresses), frozenset(domains))

    def allows(self, address: str) -> bool:
        """Compared without case: no mail system here tells `Security@` from `security@`."""
        folded = address.lower()
        return folded in self.addresses or folded.rpartition("@")[2] in self.domains

    def require_allowed(self, value: str) -> str:
        """`value` normalised if the operator allows it as a sender; otherwise 60200 naming
        `ChannelConfiguration.from`."""
        address = _address(value)
        if address is None:
            raise InvalidParameter(
                f"{PARAMETER}.from", "an ASCII e-mail address without =? (a MIME encoded word)"
            )
        if not self.allows(address):
            raise InvalidParameter(
                f"{PARAMETER}.from",
                "a sender the operator allows (VERIFY_EMAIL_SENDERS)",
            )
        return address


NO_EMAIL_SENDERS = EmailSenderPolicy()


def parse_channel_configuration(
    value: Mapping[str, Any], channel: Channel, senders: EmailSenderPolicy
) -> ChannelConfiguration:
    """The checked `ChannelConfiguration` of a start on `channel` (see the module)."""
    if channel is not Channel.EMAIL:
        raise InvalidParameter(PARAMETER, "e-mail only (Channel=email)")
    for key in value:
        if key not in KEYS:
            # The key is named only when it is a plain word: an error never echoes odd text.
            raise InvalidParameter(
                keyed_parameter(PARAMETER, key),
                "an unknown key (from, from_name, template_id, substitutions)",
            )
    sender = _string(value, "from")
    name = _string(value, "from_name")
    template = _string(value, "template_id")
    if template is not None and not _TEMPLATE_SID.fullmatch(template):
        raise InvalidParameter(f"{PARAMETER}.template_id", "a template sid (HJ...)")
    return ChannelConfiguration(
        sender=senders.require_allowed(sender) if sender is not None else None,
        sender_name=require_name(name, f"{PARAMETER}.from_name") if name is not None else None,
        # Template sids are looked up in lower case: `HJABC…` names the template `HJabc…`.
        template_sid=template[:2] + template[2:].lower() if template is not None else None,
        substitutions=_substitutions(value.get("substitutions")),
    )


def _string(value: Mapping[str, Any], key: str) -> str | None:
    item = value.get(key)
    if item is None:
        return None
    if not isinstance(item, str):
        raise InvalidParameter(f"{PARAMETER}.{key}", "a string")
    return item


def _substitutions(value: Any) -> tuple[tuple[str, str], ...]:
    """An object of string values (the template's variables check the names later)."""
    if value is None:
        return ()
    parameter = f"{PARAMETER}.substitutions"
    if not isinstance(value, dict) or len(value) > _MAX_SUBSTITUTIONS:
        raise InvalidParameter(parameter, f"an object of at most {_MAX_SUBSTITUTIONS} strings")
    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        if not isinstance(item, str) or not 0 < len(key) <= _MAX_SUBSTITUTION_KEY:
            raise InvalidParameter(parameter, "string values under names of 1-64 characters")
        if len(item) > _MAX_SUBSTITUTION_VALUE:
            raise InvalidParameter(parameter, f"values of at most {_MAX_SUBSTITUTION_VALUE}")
        pairs.append((key, require_wire_safe(item, parameter)))
    return tuple(sorted(pairs))

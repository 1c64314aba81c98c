"""Validation and normalisation of `To`: E.164 phone numbers or e-mail addresses."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.models import Channel

_MAX_EMAIL_LENGTH = 254
# Numbers whose parse a process keeps: a start reads its number's validity, region, line
# type and country; each costs a metadata search, done once per number (docs/performance.md).
_PARSED_NUMBERS = 4096


@dataclass(frozen=True, slots=True)
class ParsedNumber:
    """A phone number as phonenumbers reads it, once per process (never changed)."""

    number: phonenumbers.PhoneNumber
    region: str | None  # phonenumbers.region_code_for_number
    number_type: int  # phonenumbers.number_type (PhoneNumberType)


@lru_cache(maxsize=_PARSED_NUMBERS)
def parse_number(text: str) -> ParsedNumber | None:
    """`text` parsed as an international number (None: not one), with its region and
    line type: shared by normalisation, number intelligence and locale resolution."""
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    return ParsedNumber(
        number, phonenumbers.region_code_for_number(number), phonenumbers.number_type(number)
    )


def normalize_phone(value: str) -> str:
    """E.164 form of a phone number given with its leading `+`, valid for its region."""
    candidate = value.strip()
    if not candidate.startswith("+"):
        raise InvalidParameter("To", "an E.164 phone number starts with +")
    parsed = parse_number(candidate)
    if parsed is None:
        raise InvalidParameter("To", "not a phone number")
    # phonenumbers.is_valid_number: a region for the number, and a known line type there.
    if parsed.region is None or parsed.number_type == phonenumbers.PhoneNumberType.UNKNOWN:
        raise InvalidParameter("To", "not a valid number for its region")
    return phonenumbers.format_number(parsed.number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    """Normalised e-mail address (syntax only: no DNS look-up)."""
    candidate = value.strip()
    if len(candidate) > _MAX_EMAIL_LENGTH:
        raise InvalidParameter("To", "e-mail address too long")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidParameter("To", "not a valid e-mail address") from exc
    return str(result.normalized)


def normalize_destination(channel: Channel, value: str) -> str:
    """The canonical `To` for a channel: a phone number, or an address for e-mail."""
    if channel is Channel.EMAIL:
        return normalize_email(value)
    return normalize_phone(value)


def normalize_any_destination(value: str) -> str:
    """Canonical `To` when the channel is unknown (a check by `To`)."""
    if "@" in value:
        return normalize_email(value)
    return normalize_phone(value)


def mask_destination(destination: str) -> str:
    """A form safe for logs: country code and last two digits, or the e-mail's domain."""
    if "@" in destination:
        return "•••@" + destination.rsplit("@", 1)[1]
    return destination[:3] + "•" * max(len(destination) - 5, 0) + destination[-2:]


# Digits of a national number a support page never shows: 10^4 guesses per number, at
# `VERIFY_DESTINATION_LOOKUPS_PER_HOUR` (60) a week of look-ups for one support key.
HIDDEN_DIGITS = 4


def display_masked_destination(destination: str) -> str:
    """A form for support staff's pages: enough to confirm with the customer, never the
    whole value. `+14155552671` → `+1 415 •••• 671`; `jane@example.com` → `j•••@example.com`.
    (Logs keep `mask_destination`, which shows less.)"""
    if "@" in destination:
        local, domain = destination.rsplit("@", 1)
        return (local[:1] if len(local) > 1 else "") + "•••@" + domain
    try:
        number = phonenumbers.parse(destination, None)
    except phonenumbers.NumberParseException:
        return mask_destination(destination)
    national = phonenumbers.national_significant_number(number)
    # At most 6 of the national digits, and at least HIDDEN_DIGITS hidden whatever the length:
    # each hidden digit multiplies the look-ups needed to recover the number by ten.
    shown = max(0, min(6, len(national) - HIDDEN_DIGITS))
    head, tail = national[: shown - shown // 2], national[len(national) - shown // 2 :]
    return " ".join(part for part in (f"+{number.country_code}", head, "••••", tail) if part)


# The opening of an RFC 2047 encoded word (`=?charset?q?…?=`), which mail libraries decode
# wherever they read a header, an address's local part included.
ENCODED_WORD_OPENER = "=?"


def require_smtp_address(address: str) -> str:
    """`address` (normalised) if plain SMTP can carry it: a non-ASCII local part needs the
    SMTPUTF8 extension, which relays need not offer, so it is refused (60200), as is an
    encoded word's `=?`; a non-ASCII domain is fine (the SMTP provider sends its IDNA form)."""
    local, _, _ = address.rpartition("@")
    if not local.isascii():
        raise InvalidParameter("To", "an e-mail address with a non-ASCII local part")
    if ENCODED_WORD_OPENER in address:
        # Valid (`=` and `?` are atext), but mail libraries decode an RFC 2047 word in a
        # header: `=?utf-8?q?x?=@example.org` reads back as x@example.org, another mailbox.
        raise InvalidParameter("To", "an e-mail address without =? (a MIME encoded word)")
    return address

"""Twilio-style SIDs: a two-letter prefix and 32 lower-case hex digits."""

from __future__ import annotations

import re
import secrets

SID_PATTERN = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")

# A VE sid carries the verification's storage tag in its first 20 hex digits (80 bits of a
# keyed digest of service and destination), then 12 random hex digits. The tag lets a check
# by VerificationSid find the verification's Redis key without a second pointer key, so a
# check stays one round trip. The tag is keyed with VERIFY_SECRET_KEY, so it does not reveal
# the destination; it does let whoever sees VE sids tell that two were for the same one.
VERIFICATION_TAG_HEX_DIGITS = 20


def new_sid(prefix: str) -> str:
    """A random sid with the given two-letter prefix."""
    return prefix + secrets.token_hex(16)


def is_sid(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and SID_PATTERN.fullmatch(value) is not None


def new_verification_sid(tag: str) -> str:
    """A `VE` sid whose leading digits are the destination's storage tag."""
    random_hex_digits = 32 - VERIFICATION_TAG_HEX_DIGITS
    return "VE" + tag + secrets.token_hex(random_hex_digits // 2)


def verification_tag(verification_sid: str) -> str | None:
    """The storage tag inside a `VE` sid, or None when the sid is malformed."""
    if not is_sid(verification_sid, "VE"):
        return None
    return verification_sid[2 : 2 + VERIFICATION_TAG_HEX_DIGITS]

"""Twilio-style SIDs: a two-letter prefix and 32 lower-case hex digits."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

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


# A VL sid says where its record lives (adapters/redis_store/attempts): the service's locator
# (the last 12 hex digits of its VA sid, which are random), the UTC day it was created in
# (days since the epoch, 6 hex digits), then 14 random hex digits that name it in that day.
# Twilio's wire format for a VL sid is any 32 hex digits, so this is invisible to clients.
ATTEMPT_SERVICE_HEX_DIGITS = 12
ATTEMPT_DAY_HEX_DIGITS = 6
ATTEMPT_KEY_HEX_DIGITS = 32 - ATTEMPT_SERVICE_HEX_DIGITS - ATTEMPT_DAY_HEX_DIGITS
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class AttemptLocation:
    """Where a send attempt's record lives: its service's locator, the UTC day it was
    created in (days since the epoch), and its key in that day (14 hex digits)."""

    service_locator: str
    day: int
    key: str

    @property
    def day_start_ms(self) -> int:
        return self.day * DAY_MS


def service_locator(service_sid: str) -> str:
    """The part of a VA sid that names its attempt history's buckets."""
    return service_sid[-ATTEMPT_SERVICE_HEX_DIGITS:].lower()


def attempt_sid(service_locator_hex: str, day: int, key: str) -> str:
    return f"VL{service_locator_hex}{day:0{ATTEMPT_DAY_HEX_DIGITS}x}{key}"


def new_attempt_sid(service_sid: str, now_ms: int) -> str:
    """A `VL` sid for a send attempt of `service_sid` created at `now_ms`."""
    key = secrets.token_hex(ATTEMPT_KEY_HEX_DIGITS // 2)
    return attempt_sid(service_locator(service_sid), now_ms // DAY_MS, key)


def attempt_location(sid: str) -> AttemptLocation | None:
    """Where the attempt's record lives, or None when `sid` is not a `VL` sid."""
    if not is_sid(sid, "VL"):
        return None
    day_end = 2 + ATTEMPT_SERVICE_HEX_DIGITS + ATTEMPT_DAY_HEX_DIGITS
    return AttemptLocation(
        service_locator=sid[2 : 2 + ATTEMPT_SERVICE_HEX_DIGITS],
        day=int(sid[2 + ATTEMPT_SERVICE_HEX_DIGITS : day_end], 16),
        key=sid[day_end:],
    )

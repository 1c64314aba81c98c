"""Support console staff: roles, user names, passwords and the reasons given for actions.
No I/O: the rules only."""

from __future__ import annotations

import enum
import re

from verify_service.domain.errors import InvalidParameter

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a bound keeps a login request cheap
MAX_REASON_LENGTH = 200
_USER_NAME = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,63}\Z")
# Four digits in a row could be a code or part of a phone number: neither belongs in a
# reason, which is kept in the audit log.
_DIGIT_RUN = re.compile(r"[0-9]{4,}")


class StaffRole(enum.StrEnum):
    """`support` looks verifications up, resends and cancels; `admin` also reads the audit
    log and the API keys (sids and roles)."""

    SUPPORT = "support"
    ADMIN = "admin"


# Preset reasons offered by the console's forms (free text may replace or complete them).
PRESET_REASONS = (
    "Customer did not receive the code",
    "Customer asked for another channel",
    "Customer asked to stop this verification",
    "Suspected fraud or account takeover",
    "Testing on behalf of the customer",
)


def require_user_name(name: str) -> str:
    """Lower-case letters, digits, `.`, `_`, `-`; 1-64 characters, starting with a letter
    or digit."""
    if not _USER_NAME.fullmatch(name):
        raise InvalidParameter("name", "1-64 of a-z 0-9 . _ - (lower case)")
    return name


def require_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidParameter("password", f"at least {MIN_PASSWORD_LENGTH} characters")
    return password


def action_reason(preset: str, details: str) -> str:
    """The reason recorded for a console action: a preset, free text, or both."""
    preset = preset.strip()
    details = " ".join(details.split())
    if preset and preset not in PRESET_REASONS:
        raise InvalidParameter("reason", "one of the listed reasons")
    reason = f"{preset}: {details}" if preset and details else preset or details
    if not reason:
        raise InvalidParameter("reason", "choose a reason or describe it")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidParameter("reason", f"at most {MAX_REASON_LENGTH} characters")
    if _DIGIT_RUN.search(reason):
        raise InvalidParameter("reason", "no codes or numbers (4 digits or more) in a reason")
    return reason

"""Support console staff: roles, user names, passwords and the reasons given for actions.
No I/O: the rules only."""

from __future__ import annotations

import enum
import re
import unicodedata

from verify_service.domain.errors import InvalidParameter

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a bound keeps a login request cheap
MAX_REASON_LENGTH = 200
_USER_NAME = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,63}\Z")
# Four digits in a row could be a code or part of a phone number: neither belongs in a
# reason, which is kept in the audit log.
_DIGIT_RUN = re.compile(r"[0-9]{4,}")


class StaffRole(enum.StrEnum):
    """`support` looks verifications up, resends and cancels, lists an identity's MFA
    factors and deletes one with a reason (never creates one); `admin` also reads the audit
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
# Preset reasons for deleting an MFA factor ("I lost my phone"), in the console's form.
FACTOR_DELETE_REASONS = (
    "Lost phone",
    "New phone",
    "Suspected compromise",
    "Customer asked to remove it",
)
# Unicode categories never accepted in a reason: control characters (a newline could forge
# a line of an exported log, an escape sequence a terminal's display) and invisible format
# characters (bidirectional overrides could make a reason read differently than stored).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


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


def action_reason(preset: str, details: str, presets: tuple[str, ...] = PRESET_REASONS) -> str:
    """The reason recorded for a console action: a preset (one of `presets`), free text,
    or both."""
    preset = preset.strip()
    if preset and preset not in presets:
        raise InvalidParameter("reason", "one of the listed reasons")
    details = _one_line(details, "reason")
    reason = f"{preset}: {details}" if preset and details else preset or details
    if not reason:
        raise InvalidParameter("reason", "choose a reason or describe it")
    return _recordable(reason, "reason")


def stated_reason(text: str, parameter: str = "Reason") -> str:
    """A reason given through the API (`DELETE …/Factors/{YF}?Reason=…`): free text, its
    runs of spaces folded; refused when empty, longer than MAX_REASON_LENGTH, holding a
    control or invisible format character, or four digits in a row. It is recorded in the
    audit log only: never part of a key name, never logged."""
    reason = _one_line(text, parameter)
    if not reason:
        raise InvalidParameter(parameter, "a reason is required")
    return _recordable(reason, parameter)


def _one_line(text: str, parameter: str) -> str:
    """`text` on one line, its runs of spaces folded into one; a control character (a tab
    or a newline included) or an invisible format character refused."""
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in text):
        raise InvalidParameter(parameter, "no control or invisible characters")
    return " ".join(text.split())


def _recordable(reason: str, parameter: str) -> str:
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidParameter(parameter, f"at most {MAX_REASON_LENGTH} characters")
    if _DIGIT_RUN.search(reason):
        raise InvalidParameter(parameter, "no codes or numbers (4 digits or more) in a reason")
    return reason

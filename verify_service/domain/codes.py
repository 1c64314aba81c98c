"""Code generation and the shape rules for codes a caller supplies."""

from __future__ import annotations

import re
import secrets

from verify_service.domain.errors import InvalidParameter

MIN_CODE_LENGTH = 4
MAX_CODE_LENGTH = 10
DEFAULT_CODE_LENGTH = 6

# Twilio accepts 4-10 characters for Code and CustomCode; we allow letters and digits only,
# which is what every SMS/voice template can carry unambiguously.
_CODE_SHAPE = re.compile(r"^[0-9A-Za-z]{4,10}$")


def generate_code(length: int) -> str:
    """A numeric code of `length` digits from the CSPRNG, leading zeros allowed."""
    if not MIN_CODE_LENGTH <= length <= MAX_CODE_LENGTH:
        raise ValueError(f"code length must be {MIN_CODE_LENGTH}-{MAX_CODE_LENGTH}")
    return "".join(str(secrets.randbelow(10)) for _ in range(length))


def require_code_shape(code: str, parameter: str) -> str:
    """Return `code` if it has the shape of a code, else raise 60200 naming `parameter`."""
    if not _CODE_SHAPE.fullmatch(code):
        raise InvalidParameter(parameter, "4-10 letters or digits")
    return code

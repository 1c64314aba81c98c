"""An Entity's `Identity`: Twilio documents it as an opaque id chosen by the customer ("immutable,
not PII, length between 8 and 64 characters … It can only contain dash (-) separated
alphanumeric characters", twilio_verify_v2.yaml). It goes into Redis key names and URLs, so
nothing else is ever accepted."""

from __future__ import annotations

import re

from verify_service.domain.errors import InvalidMfaRequest

MIN_IDENTITY_LENGTH = 8
MAX_IDENTITY_LENGTH = 64
# Alphanumeric runs separated by single dashes: no leading, trailing or doubled dash.
_IDENTITY = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")


def is_identity(value: str) -> bool:
    return (
        MIN_IDENTITY_LENGTH <= len(value) <= MAX_IDENTITY_LENGTH
        and _IDENTITY.fullmatch(value) is not None
    )


def require_identity(value: str) -> str:
    """`value` when it is a valid Identity, else InvalidMfaRequest (60306) naming it."""
    if not is_identity(value):
        raise InvalidMfaRequest(
            "Identity",
            f"{MIN_IDENTITY_LENGTH}-{MAX_IDENTITY_LENGTH} dash-separated alphanumeric characters",
        )
    return value

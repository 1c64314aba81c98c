"""TOTP (RFC 6238) for factors: secrets, the key URI authenticator apps scan, and the
evaluation of a code over the skew window. Codes are computed with pyotp; every step of the
window is computed and compared in constant time (no early exit), and the caller still owns
replay and throttling (the store: docs/mfa.md)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import quote, urlencode

import pyotp

from verify_service.domain.errors import InvalidMfaRequest
from verify_service.domain.mfa.limits import (
    MAX_TOTP_SECRET_BYTES,
    MIN_TOTP_SECRET_BYTES,
    TOTP_SECRET_BYTES,
)
from verify_service.domain.mfa.models import TotpAlgorithm, TotpConfig

_DIGESTS: dict[TotpAlgorithm, Callable[..., object]] = {
    TotpAlgorithm.SHA1: hashlib.sha1,
    TotpAlgorithm.SHA256: hashlib.sha256,
    TotpAlgorithm.SHA512: hashlib.sha512,
}
# pyotp computes 6-10 digits; RFC 4226's code is `truncated % 10**digits`, so a code of
# 3-5 digits is the last digits of the 8-digit one (10**d divides 10**8), zero-padded alike.
_PYOTP_DIGITS = 8


def new_secret() -> str:
    """160 random bits, Base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(TOTP_SECRET_BYTES)).decode("ascii").rstrip("=")


def require_secret(value: str) -> str:
    """A `Binding.Secret` as given (Base32, case-insensitive, padding optional), normalised
    to upper case without padding; 128 to 512 bits. Else 60306 naming it (never quoting it)."""
    text = value.strip().upper().rstrip("=")
    padded = text + "=" * (-len(text) % 8)
    try:
        decoded = base64.b32decode(padded, casefold=False)
    except (binascii.Error, ValueError):
        decoded = b""
    if not MIN_TOTP_SECRET_BYTES <= len(decoded) <= MAX_TOTP_SECRET_BYTES:
        raise InvalidMfaRequest(
            "Binding.Secret",
            f"Base32 of {MIN_TOTP_SECRET_BYTES * 8}-{MAX_TOTP_SECRET_BYTES * 8} bits",
        )
    return text


def _totp(secret: str, config: TotpConfig) -> pyotp.TOTP:
    return pyotp.TOTP(
        secret, digits=_PYOTP_DIGITS, digest=_DIGESTS[config.alg], interval=config.time_step
    )


def code_at(secret: str, config: TotpConfig, step: int) -> str:
    """The code of time step `step` (counter = Unix time // time step)."""
    return _totp(secret, config).generate_otp(step)[-config.code_length :]


def step_at(config: TotpConfig, now_ms: int) -> int:
    return now_ms // 1000 // config.time_step


def matched_step(secret: str, config: TotpConfig, code: str, now_ms: int) -> int | None:
    """The latest time step in [now - skew, now + skew] whose code is `code`, or None.
    Every step is computed and compared (constant time per compare, no early exit)."""
    now_step = step_at(config, now_ms)
    given = code.encode("utf-8")
    totp = _totp(secret, config)  # one for the window: a step's code is generate_otp(step)
    found: int | None = None
    for step in range(now_step - config.skew, now_step + config.skew + 1):
        if step < 0:
            continue
        computed = totp.generate_otp(step)[-config.code_length :]
        if hmac.compare_digest(computed.encode("ascii"), given):
            found = step
    return found


def key_uri(secret: str, issuer: str, account: str, config: TotpConfig) -> str:
    """Google Authenticator's key URI (github.com/google/google-authenticator/wiki/
    Key-Uri-Format): `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=…&
    digits=…&period=…`, every part percent-encoded."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": config.alg.value.upper(),
            "digits": config.code_length,
            "period": config.time_step,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"

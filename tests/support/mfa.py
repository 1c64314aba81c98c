"""Helpers of the MFA tests: a TOTP code for a factor at the clock's time, computed with
pyotp here (the server computes its own), and error capture."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
import redis
from twilio.base.exceptions import TwilioRestException

IDENTITY = "ff483d1f-f591-898a-9942-916050d2ca3f"
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def totp_code(
    secret: str,
    now_ms: int,
    *,
    time_step: int = 30,
    digits: int = 6,
    alg: str = "sha1",
    steps: int = 0,
) -> str:
    """The code of the time step `steps` away from `now_ms`'s."""
    counter = now_ms // 1000 // time_step + steps
    # pyotp's codes have 6-10 digits; a shorter one is the last digits of the 8-digit code.
    code = pyotp.TOTP(secret, digits=8, digest=_DIGESTS[alg], interval=time_step)
    return code.generate_otp(counter)[-digits:]


def other_code(code: str) -> str:
    """A code of the same length that differs in every digit."""
    return "".join(str((int(d) + 1) % 10) for d in code)


def refusal(call: Callable[[], Any]) -> tuple[int, int]:
    with pytest.raises(TwilioRestException) as raised:
        call()
    return raised.value.status, raised.value.code


def refusal_message(call: Callable[[], Any]) -> str:
    with pytest.raises(TwilioRestException) as raised:
        call()
    return str(raised.value.msg)


def age_wrong_code_windows(client: redis.Redis, seconds: int) -> None:
    """Move every wrong-code window's start back by `seconds`, as if that much time had passed.
    The windows are measured in Redis's own time (docs/mfa.md, "Limits"), not the app's
    clock port: a test passes one by rewriting its start in Redis, the app clock untouched."""
    shift = seconds * 1000
    for key in client.scan_iter(match="*:mfa:*:factor:*"):
        if client.hexists(key, "wrong_start_ms"):
            client.hincrby(key, "wrong_start_ms", -shift)
    for key in client.scan_iter(match="*:mfa:*:wrong_codes"):
        entries: list[tuple[bytes, float]] = client.zrange(key, 0, -1, withscores=True)  # type: ignore[assignment]
        if entries:
            client.zadd(key, {member: score - shift for member, score in entries})

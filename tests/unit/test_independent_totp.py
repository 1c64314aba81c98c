"""The test suite's own TOTP implementations (tests/support/totp.py), which the MFA
specifications use instead of the server's pyotp: RFC 6238 as written there and Debian's
oathtool agree with the RFC's Appendix B vectors and with each other."""

from __future__ import annotations

import pytest

from tests.support.totp import (
    ALGORITHMS,
    RFC6238_SEEDS,
    RFC6238_VECTORS,
    base32,
    oathtool,
    rfc6238,
)

VECTORS = [
    pytest.param(alg, at, row[1 + index], id=f"{alg}-T{at}")
    for row in RFC6238_VECTORS
    for index, alg in enumerate(ALGORITHMS)
    for at in [row[0]]
]


@pytest.mark.parametrize(("alg", "at", "expected"), VECTORS)
def test_both_implementations_give_the_rfc_6238_appendix_b_codes(
    alg: str, at: int, expected: str
) -> None:
    secret = base32(RFC6238_SEEDS[alg])
    assert rfc6238(secret, at, 30, 8, alg) == expected
    assert oathtool(secret, at, 30, 8, alg) == expected


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("time_step", [20, 30, 60])
@pytest.mark.parametrize("digits", [6, 7, 8])
def test_rfc_6238_as_written_here_agrees_with_oathtool(
    alg: str, time_step: int, digits: int
) -> None:
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    for at in (0, 1_796_292_000, 1_796_292_019, 1_796_292_059, 4_102_444_800):
        assert rfc6238(secret, at, time_step, digits, alg) == oathtool(
            secret, at, time_step, digits, alg
        )


def test_shorter_codes_are_the_last_digits_of_the_eight_digit_code() -> None:
    """RFC 4226 5.3: the code is the truncated value modulo 10^digits, so a 3-digit code is
    the last three digits of the 8-digit one (which oathtool confirms)."""
    secret = base32(RFC6238_SEEDS["sha1"])
    eight = oathtool(secret, 59, 30, 8, "sha1")
    for digits in (3, 4, 5):
        assert rfc6238(secret, 59, 30, digits, "sha1") == eight[-digits:]

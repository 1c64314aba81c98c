"""MFA domain rules without I/O: the Identity format, TOTP codes of every length (pyotp
gives 6-10 digits; 3-5 are the last digits of the 8-digit code, RFC 4226 §5.3), the skew
window, secrets and the key URI."""

from __future__ import annotations

import pytest

from verify_service.domain.errors import InvalidMfaRequest
from verify_service.domain.mfa import totp
from verify_service.domain.mfa.identity import is_identity
from verify_service.domain.mfa.models import (
    Challenge,
    ChallengeStatus,
    FactorType,
    TotpAlgorithm,
    TotpConfig,
)

# RFC 6238 Appendix B: the SHA-1 seed "12345678901234567890", T = 59 s, 8 digits: 94287082.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(
    ("identity", "valid"),
    [
        ("ff483d1ff591898a9942916050d2ca3f", True),
        ("user-1234", True),
        ("a" * 8, True),
        ("a" * 64, True),
        ("a" * 7, False),
        ("a" * 65, False),
        ("user--1234", False),
        ("-user1234", False),
        ("user1234-", False),
        ("user_1234", False),
        ("user.1234", False),
        ("usér12345", False),
        ("user1234\n", False),
    ],
)
def test_identity_is_8_to_64_dash_separated_alphanumerics(identity: str, valid: bool) -> None:
    assert is_identity(identity) is valid


def test_the_rfc_6238_sha1_vector() -> None:
    config = TotpConfig(time_step=30, skew=0, code_length=8, alg=TotpAlgorithm.SHA1)
    assert totp.code_at(RFC_SECRET, config, 59 // 30) == "94287082"


@pytest.mark.parametrize("length", [3, 4, 5, 6, 7, 8])
def test_a_shorter_code_is_the_tail_of_the_8_digit_one(length: int) -> None:
    config = TotpConfig(time_step=30, skew=0, code_length=length, alg=TotpAlgorithm.SHA1)
    assert totp.code_at(RFC_SECRET, config, 1) == "94287082"[-length:]


def test_the_latest_matching_step_in_the_window_is_found() -> None:
    config = TotpConfig(time_step=30, skew=1, code_length=6, alg=TotpAlgorithm.SHA256)
    now_ms = 1_700_000_000_000
    step = totp.step_at(config, now_ms)
    for offset in (-1, 0, 1):
        code = totp.code_at(RFC_SECRET, config, step + offset)
        assert totp.matched_step(RFC_SECRET, config, code, now_ms) == step + offset
    far = totp.code_at(RFC_SECRET, config, step + 2)
    assert totp.matched_step(RFC_SECRET, config, far, now_ms) is None


def test_a_new_secret_is_160_random_bits_in_base32() -> None:
    first, second = totp.new_secret(), totp.new_secret()
    assert len(first) == 32
    assert first != second
    assert totp.require_secret(first) == first


@pytest.mark.parametrize("secret", ["", "JBSWY3DP", "not-base32!", "A" * 200])
def test_a_given_secret_must_be_base32_of_128_to_512_bits(secret: str) -> None:
    with pytest.raises(InvalidMfaRequest) as raised:
        totp.require_secret(secret)
    assert raised.value.parameter == "Binding.Secret"
    assert secret not in str(raised.value) or not secret


def test_the_key_uri_encodes_issuer_and_account() -> None:
    config = TotpConfig(time_step=60, skew=1, code_length=8, alg=TotpAlgorithm.SHA512)
    uri = totp.key_uri("ABC", "Acme & Co", "alice:phone?", config)
    assert uri == (
        "otpauth://totp/Acme%20%26%20Co:alice%3Aphone%3F?secret=ABC&issuer=Acme%20%26%20Co"
        "&algorithm=SHA512&digits=8&period=60"
    )


def test_a_pending_challenge_reads_expired_from_its_expiration_date() -> None:
    challenge = Challenge(
        sid="YC" + "0" * 32,
        service_sid="VA" + "0" * 32,
        entity_sid="YE" + "0" * 32,
        identity="user-1234",
        factor_sid="YF" + "0" * 32,
        factor_type=FactorType.TOTP,
        created_ms=0,
        updated_ms=0,
        expires_ms=1000,
    )
    assert challenge.status_at(999) is ChallengeStatus.PENDING
    assert challenge.status_at(1000) is ChallengeStatus.EXPIRED

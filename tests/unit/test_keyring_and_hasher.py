"""Purpose-bound keys from VERIFY_SECRET_KEY, and argon2id over the keyed code MAC."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from verify_service.adapters.argon2_hasher import (
    DIGEST_BYTES,
    PROFILES,
    SALT_BYTES,
    Argon2CodeHasher,
)
from verify_service.domain.keyring import MIN_SECRET_KEY_BYTES, Keyring

SECRET = b"unit-test-secret-key-of-at-least-32-bytes"
OTHER_SECRET = b"another-unit-test-secret-key-32-bytes-long"
SID = "VE" + "0123456789abcdef" * 2
OTHER_SID = "VE" + "fedcba9876543210" * 2
SALT = bytes(range(SALT_BYTES))
OTHER_SALT = bytes(reversed(range(SALT_BYTES)))


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring.from_secret(SECRET)


@pytest.fixture(scope="module")
def hasher(keyring: Keyring) -> Argon2CodeHasher:
    return Argon2CodeHasher(keyring, PROFILES["otp-2m"])


# -- Keyring ------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 16, MIN_SECRET_KEY_BYTES - 1])
def test_secret_shorter_than_32_bytes_is_refused(length: int) -> None:
    """A short VERIFY_SECRET_KEY would make every derived key guessable."""
    assert MIN_SECRET_KEY_BYTES == 32
    with pytest.raises(ValueError, match="32 bytes"):
        Keyring.from_secret(b"k" * length)


def test_secret_of_exactly_32_bytes_is_accepted() -> None:
    """32 bytes is the minimum, and it is enough."""
    assert Keyring.from_secret(b"k" * 32).code_hmac_key


def test_derived_keys_differ_per_purpose(keyring: Keyring) -> None:
    """No key serves two roles: code MAC, destination tag and at-rest encryption differ."""
    keys = [
        keyring.code_hmac_key,
        keyring.destination_tag_key,
        keyring.destination_encryption_key,
    ]
    assert len(set(keys)) == 3
    assert all(len(key) == 32 for key in keys)
    assert SECRET not in keys


def test_derived_keys_are_deterministic_and_depend_on_the_secret(keyring: Keyring) -> None:
    """The same secret gives the same keys (every process agrees); another gives others."""
    again = Keyring.from_secret(SECRET)
    other = Keyring.from_secret(OTHER_SECRET)
    assert again == keyring
    assert other.code_hmac_key != keyring.code_hmac_key
    assert other.destination_tag_key != keyring.destination_tag_key
    assert other.destination_encryption_key != keyring.destination_encryption_key


def test_code_mac_is_hmac_sha256_of_sid_then_code(keyring: Keyring) -> None:
    """The MAC input is verification_sid || code under the code key (DESIGN: Codes)."""
    expected = hmac.new(keyring.code_hmac_key, (SID + "123456").encode(), hashlib.sha256)
    assert keyring.code_mac(SID, "123456") == expected.digest()


def test_code_mac_binds_the_verification_sid(keyring: Keyring) -> None:
    """The same code under another verification gives another MAC (no cross-use)."""
    assert keyring.code_mac(SID, "123456") != keyring.code_mac(OTHER_SID, "123456")


def test_code_mac_differs_per_code(keyring: Keyring) -> None:
    """Different codes of one verification have different MACs."""
    assert keyring.code_mac(SID, "123456") != keyring.code_mac(SID, "123457")


def test_code_mac_depends_on_the_secret(keyring: Keyring) -> None:
    """Without VERIFY_SECRET_KEY the MAC cannot be recomputed from a Redis dump."""
    other = Keyring.from_secret(OTHER_SECRET)
    assert keyring.code_mac(SID, "123456") != other.code_mac(SID, "123456")


def test_destination_tag_is_keyed_and_per_service(keyring: Keyring) -> None:
    """The storage tag depends on service, destination and secret, and has the asked length."""
    service, other_service = "VA" + "1" * 32, "VA" + "2" * 32
    tag = keyring.destination_tag(service, "+14155552671", 20)
    assert len(tag) == 20
    assert all(c in "0123456789abcdef" for c in tag)
    assert tag == keyring.destination_tag(service, "+14155552671", 20)
    assert tag != keyring.destination_tag(other_service, "+14155552671", 20)
    assert tag != keyring.destination_tag(service, "+14155552672", 20)
    assert tag != Keyring.from_secret(OTHER_SECRET).destination_tag(service, "+14155552671", 20)


# -- Argon2CodeHasher ---------------------------------------------------------------------


def test_otp_2m_profile_is_argon2id_with_2_mib() -> None:
    """The small-machine profile the tests use: one pass over 2 MiB."""
    profile = PROFILES["otp-2m"]
    assert (profile.time_cost, profile.memory_cost_kib, profile.parallelism) == (1, 2048, 1)


def test_new_salt_is_random_sixteen_bytes_after_the_key_id(hasher: Argon2CodeHasher) -> None:
    """Each verification gets its own salt, which names the ring key its codes use."""
    salts = {hasher.new_salt() for _ in range(20)}
    assert len(salts) == 20
    assert all(salt.startswith(b"k0:") and len(salt) == 3 + SALT_BYTES for salt in salts)


def test_digest_is_deterministic_for_same_sid_code_and_salt(hasher: Argon2CodeHasher) -> None:
    """Checking recomputes the digest, so the same inputs must give the same bytes."""
    first = hasher.digest(SID, "123456", SALT)
    assert first == hasher.digest(SID, "123456", SALT)
    assert len(first) == DIGEST_BYTES


def test_digest_is_not_the_code_mac_itself(hasher: Argon2CodeHasher, keyring: Keyring) -> None:
    """Redis holds argon2id(MAC), never the MAC or the code."""
    digest = hasher.digest(SID, "123456", SALT)
    assert digest != keyring.code_mac(SID, "123456")
    assert b"123456" not in digest


@pytest.mark.parametrize(
    ("sid", "code", "salt"),
    [
        (SID, "123456", OTHER_SALT),
        (OTHER_SID, "123456", SALT),
        (SID, "123457", SALT),
        (SID, "1234567", SALT),
    ],
    ids=["other salt", "other sid", "other code", "longer code"],
)
def test_digest_differs_when_any_input_differs(
    hasher: Argon2CodeHasher, sid: str, code: str, salt: bytes
) -> None:
    """Salt, verification sid and code all enter the digest."""
    assert hasher.digest(sid, code, salt) != hasher.digest(SID, "123456", SALT)


def test_matches_any_of_several_stored_digests(hasher: Argon2CodeHasher) -> None:
    """Every code sent during a verification's life stays valid (one digest per send)."""
    codes = ["111111", "222222", "333333"]
    digests = [hasher.digest(SID, code, SALT) for code in codes]
    for code in codes:
        assert hasher.matches(SID, code, SALT, digests)


@pytest.mark.parametrize(
    ("sid", "code", "salt"),
    [
        (SID, "444444", SALT),
        (OTHER_SID, "222222", SALT),
        (SID, "222222", OTHER_SALT),
    ],
    ids=["code never sent", "code of another verification", "wrong salt"],
)
def test_matches_is_false_for_anything_else(
    hasher: Argon2CodeHasher, sid: str, code: str, salt: bytes
) -> None:
    """A code that produced none of the digests does not match."""
    digests = [hasher.digest(SID, c, SALT) for c in ("111111", "222222", "333333")]
    assert not hasher.matches(sid, code, salt, digests)


def test_matches_is_false_without_stored_digests(hasher: Argon2CodeHasher) -> None:
    """No digest, no match."""
    assert not hasher.matches(SID, "123456", SALT, [])


def test_matches_is_false_with_another_secret_key(hasher: Argon2CodeHasher) -> None:
    """Digests made under one VERIFY_SECRET_KEY do not verify under another."""
    digests = [hasher.digest(SID, "123456", SALT)]
    other = Argon2CodeHasher(Keyring.from_secret(OTHER_SECRET), PROFILES["otp-2m"])
    assert not other.matches(SID, "123456", SALT, digests)


def test_matches_compares_every_digest_in_constant_time(
    hasher: Argon2CodeHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No early exit: each stored digest is compared with hmac.compare_digest."""
    digests = [hasher.digest(SID, c, SALT) for c in ("111111", "222222", "333333")]
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("verify_service.adapters.argon2_hasher.hmac.compare_digest", spy)
    assert hasher.matches(SID, "111111", SALT, digests)
    assert [stored for _, stored in calls] == digests

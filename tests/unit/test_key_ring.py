"""The key ring: `VERIFY_SECRET_KEYS` parsing (errors name the entry, never a secret), the
one-key ring of `VERIFY_SECRET_KEY`, and values carrying the id of the key that made them."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from verify_service.adapters.argon2_hasher import PROFILES, Argon2CodeHasher
from verify_service.adapters.destination_cipher import DestinationCipher, key_id_of
from verify_service.domain.keyring import LEGACY_KEY_ID, Keyring, KeyRingError, parse_ring
from verify_service.settings import ConfigError, Settings

A = "ring-test-secret-a-at-least-32-bytes-long-0001"
B = "ring-test-secret-b-at-least-32-bytes-long-0002"
SID = "VE" + "0" * 32


def env(**overrides: str) -> dict[str, str]:
    base = {
        "VERIFY_REDIS_URL": "redis://127.0.0.1:6390/0",
        "VERIFY_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
        "VERIFY_AUTH_TOKEN": "ring-test-auth-token-0123",
    }
    return {**base, **overrides}


def test_the_first_key_is_the_primary_and_the_rest_follow_in_order() -> None:
    settings = Settings.from_env(env(VERIFY_SECRET_KEYS=f"k2:{B}, k1:{A}"))
    assert settings.key_ring() == [("k2", B.encode()), ("k1", A.encode())]
    assert settings.secret_key == B.encode()
    assert Keyring(settings.key_ring()).ids == ("k2", "k1")


def test_verify_secret_key_is_the_one_key_ring_k0() -> None:
    settings = Settings.from_env(env(VERIFY_SECRET_KEY=A))
    assert settings.key_ring() == [(LEGACY_KEY_ID, A.encode())]
    assert LEGACY_KEY_ID == "k0"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (A, "entry 1 is not id:secret"),
        (f"k1:{A},{B}", "entry 2 is not id:secret"),
        (f"k 1:{A}", "entry 1: a key id is 1-16"),
        (f":{A}", "entry 1: a key id is 1-16"),
        (f"{'k' * 17}:{A}", "entry 1: a key id is 1-16"),
        (f"k1:{A},k1:{B}", "key id k1 appears twice"),
        ("k1:short-secret", "key k1 needs at least 32 bytes"),
        (f"k1:{A},k2:{A}", "two key ids have the same secret"),
        (f"k1:{A},", "entry 2 is not id:secret"),
    ],
)
def test_a_malformed_ring_is_a_config_error_that_names_no_secret(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env(VERIFY_SECRET_KEYS=value))
    message = str(raised.value)
    assert message.startswith("VERIFY_SECRET_KEYS: ")
    assert problem in message
    for secret in (A, B, "short-secret"):
        assert secret not in message


def test_setting_both_variables_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_env(env(VERIFY_SECRET_KEY=A, VERIFY_SECRET_KEYS=f"k1:{B}"))


def test_an_empty_ring_is_refused() -> None:
    with pytest.raises(KeyRingError):
        Keyring([])
    assert parse_ring(f"a_b-9:{A}") == [("a_b-9", A.encode())]


def test_a_sealed_value_names_its_key_and_opens_under_any_ring_holding_it() -> None:
    old = DestinationCipher({"k1": b"1" * 32}, "k1")
    both = DestinationCipher({"k2": b"2" * 32, "k1": b"1" * 32}, "k2")
    new = DestinationCipher({"k2": b"2" * 32}, "k2")
    sealed = old.seal("+14155552671", b"ctx")
    assert key_id_of(sealed) == "k1"
    assert both.open(sealed, b"ctx") == "+14155552671"
    assert new.open(sealed, b"ctx") is None
    assert not new.can_open(sealed)
    resealed = both.reseal(sealed, b"ctx")
    assert resealed is not None
    assert key_id_of(resealed) == "k2"
    assert new.open(resealed, b"ctx") == "+14155552671"
    assert both.reseal(resealed, b"ctx") is None  # already under the primary


def test_a_value_sealed_before_key_ids_opens_as_k0() -> None:
    """The bare `nonce ‖ ciphertext` an older release wrote is read with the `k0` key."""
    key = b"0" * 32
    bare = DestinationCipher(key).seal("+14155552671", b"ctx").split(b":", 1)[1]
    assert DestinationCipher({"k2": b"2" * 32, "k0": key}, "k2").open(bare, b"ctx") == (
        "+14155552671"
    )


@pytest.mark.parametrize("lookalike", [b"ab:", b"k2:"], ids=["off-the-ring", "the-primary"])
def test_a_value_from_before_key_ids_whose_nonce_looks_like_a_prefix_is_a_k0_value(
    lookalike: bytes,
) -> None:
    """About 1 in 1 024 bare `nonce ‖ ciphertext` values start with `<id>:` by chance. The
    prefix is only a hint: the key that opens it (AES-GCM authenticates) names it, so it is
    counted, opened and resealed as the `k0` value it is, even when the look-alike id is
    the primary's."""
    key = b"0" * 32
    legacy = lookalike + b"\x07" * 9
    bare = legacy + AESGCM(key).encrypt(legacy, b"+14155552671", b"ctx")
    assert key_id_of(bare) == lookalike[:-1].decode()  # what the prefix alone suggests
    ring = DestinationCipher({"k2": b"2" * 32, "k0": key}, "k2")
    assert ring.open(bare, b"ctx") == "+14155552671"
    assert ring.key_id(bare, b"ctx") == LEGACY_KEY_ID
    resealed = ring.reseal(bare, b"ctx")
    assert resealed is not None
    assert ring.key_id(resealed, b"ctx") == "k2"
    assert DestinationCipher({"k2": b"2" * 32}, "k2").open(resealed, b"ctx") == "+14155552671"
    assert DestinationCipher({"k2": b"2" * 32}, "k2").key_id(bare, b"ctx") == key_id_of(bare)


def test_a_salt_from_before_key_ids_is_read_as_k0_by_its_length_whatever_its_bytes() -> None:
    """A bare salt is exactly 16 bytes and a salt with an id is longer, so a legacy salt that
    starts with `ab:` is still a `k0` salt: its right code matches on a ring with k0."""
    profile = PROFILES["otp-2m"]
    legacy = Argon2CodeHasher(Keyring([(LEGACY_KEY_ID, A.encode())]), profile)
    both = Argon2CodeHasher(Keyring([("k2", B.encode()), (LEGACY_KEY_ID, A.encode())]), profile)
    salt = b"ab:" + b"\x07" * 13
    digest = legacy.digest(SID, "123456", salt)
    assert both.matches(SID, "123456", salt, [digest])
    assert not both.matches(SID, "654321", salt, [digest])


def test_a_code_is_checked_under_the_key_its_verification_started_with() -> None:
    """The salt names the key: a verification started on "k1" is checked on "k2,k1", and
    no code matches once k1 is off the ring."""
    profile = PROFILES["otp-2m"]
    old = Argon2CodeHasher(Keyring([("k1", A.encode())]), profile)
    both = Argon2CodeHasher(Keyring([("k2", B.encode()), ("k1", A.encode())]), profile)
    new = Argon2CodeHasher(Keyring([("k2", B.encode())]), profile)
    salt = old.new_salt()
    assert salt.startswith(b"k1:")
    digest = old.digest(SID, "123456", salt)
    assert both.matches(SID, "123456", salt, [digest])
    assert not new.matches(SID, "123456", salt, [digest])

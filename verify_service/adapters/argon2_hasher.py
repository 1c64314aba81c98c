"""argon2id over HMAC-SHA256(secret, sid || code): what Redis holds instead of a code.

Profiles were measured on the target machine (2 cores, see docs/performance.md). The input
is already a keyed MAC, so argon2id only has to make each guess expensive for someone who
stole both a Redis dump and VERIFY_SECRET_KEY, within a verification's short lifetime.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw

from verify_service.domain.keyring import LEGACY_KEY_ID, Keyring

SALT_BYTES = 16
DIGEST_BYTES = 32


@dataclass(frozen=True, slots=True)
class Argon2Profile:
    """argon2id cost parameters (RFC 9106 §3.1: t = passes, m = KiB, p = lanes)."""

    name: str
    time_cost: int
    memory_cost_kib: int
    parallelism: int = 1


PROFILES = {
    profile.name: profile
    for profile in (
        # Default: ~4 ms per hash on the reference machine.
        Argon2Profile("otp-8m", time_cost=1, memory_cost_kib=8192),
        # OWASP's argon2id minimum for passwords (m=19 MiB, t=2): ~22 ms per hash.
        Argon2Profile("otp-19m", time_cost=2, memory_cost_kib=19456),
        # Small machines: ~1 ms per hash.
        Argon2Profile("otp-2m", time_cost=1, memory_cost_kib=2048),
    )
}
DEFAULT_PROFILE = "otp-8m"


def salt_key_id(salt: bytes) -> str:
    """The key id a salt names; a bare 16-byte salt is from before key ids (`k0`)."""
    if len(salt) == SALT_BYTES:
        return LEGACY_KEY_ID
    return salt[: -SALT_BYTES - 1].decode("ascii", "replace")


class Argon2CodeHasher:
    """Implements the `CodeHasher` port."""

    def __init__(self, keyring: Keyring, profile: Argon2Profile) -> None:
        self._keyring = keyring
        self._profile = profile

    @property
    def profile(self) -> Argon2Profile:
        return self._profile

    def new_salt(self) -> bytes:
        """`<key id>:` + 16 random bytes: the salt carries the id of the key the codes are
        MAC'd under, so a verification started before a rotation is still checked under its
        own key while that key is on the ring (no extra field, no extra command)."""
        return self._keyring.primary_id.encode("ascii") + b":" + os.urandom(SALT_BYTES)

    def digest(self, verification_sid: str, code: str, salt: bytes) -> bytes:
        return hash_secret_raw(
            secret=self._keyring.code_mac(verification_sid, code, salt_key_id(salt)),
            salt=salt,
            time_cost=self._profile.time_cost,
            memory_cost=self._profile.memory_cost_kib,
            parallelism=self._profile.parallelism,
            hash_len=DIGEST_BYTES,
            type=Type.ID,
        )

    def matches(
        self, verification_sid: str, code: str, salt: bytes, digests: Sequence[bytes]
    ) -> bool:
        # One argon2 run per check: every code of a verification shares its salt, so the
        # candidate is hashed once and compared with each stored digest, all of them.
        candidate = self.digest(verification_sid, code, salt)
        found = False
        for stored in digests:
            found |= hmac.compare_digest(candidate, stored)
        return found

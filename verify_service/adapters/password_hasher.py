"""Staff passwords: argon2-cffi's `PasswordHasher` (argon2id, RFC 9106's low-memory
profile by default: t=3, m=64 MiB, p=4). The encoded hash carries its parameters, so a hash
made under older ones is recognised (`needs_rehash`) and replaced at the next sign-in."""

from __future__ import annotations

import secrets
import threading

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

# Decoy hashes by parameters, built once per process (see `decoy_hash`).
_DECOYS: dict[tuple[object, ...], str] = {}
_DECOYS_LOCK = threading.Lock()


class Argon2PasswordHasher:
    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def decoy_hash(self) -> str:
        """The hash of a random password under these parameters, which an unknown user name
        is compared with so that it costs what a wrong password does. Built once per
        process and set of parameters (the app asks for it at start-up)."""
        hasher = self._hasher
        parameters = (
            hasher.time_cost,
            hasher.memory_cost,
            hasher.parallelism,
            hasher.hash_len,
            hasher.salt_len,
            hasher.type,
        )
        with _DECOYS_LOCK:
            decoy = _DECOYS.get(parameters)
            if decoy is None:
                decoy = _DECOYS[parameters] = self.hash(secrets.token_urlsafe(16))
        return decoy

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

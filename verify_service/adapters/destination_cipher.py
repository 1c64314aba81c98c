"""Destinations at rest are encrypted (AES-256-GCM), so a Redis dump shows no phone number."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class DestinationCipher:
    """Encrypts a `To` bound to the key it is stored under (the associated data)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, destination: str, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, destination.encode("utf-8"), context)

    def open(self, sealed: bytes, context: bytes) -> str | None:
        """The destination, or None when it was sealed under another key (the secret
        changed since) or under another key name."""
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, ciphertext, context).decode("utf-8")
        except InvalidTag:
            return None

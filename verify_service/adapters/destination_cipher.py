"""Values at rest are encrypted (AES-256-GCM) under a key ring, so a Redis dump shows no
phone number, and each sealed value names the key that sealed it.

Stored form: `<key id> ":" <12-byte nonce> <ciphertext and 16-byte tag>`. A value sealed
before key ids (`<nonce><ciphertext>`, no prefix) is opened with the `k0` key when it is on
the ring (docs/key-rotation.md); since its random nonce may look like a prefix, a value the
named key does not open is tried whole under `k0` (AES-GCM authenticates, so trying is safe).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from verify_service.domain.keyring import LEGACY_KEY_ID

_NONCE_BYTES = 12
_PREFIX = re.compile(rb"^([A-Za-z0-9_-]{1,16}):")


def key_id_of(sealed: bytes) -> str:
    """The id a sealed value's prefix names (`k0` without one). Unauthenticated: about 1 in
    1 024 values from before key ids has a random nonce that looks like a prefix; what
    counts or reseals uses `DestinationCipher.key_id`, which opens the value."""
    found = _PREFIX.match(sealed)
    return found.group(1).decode("ascii") if found else LEGACY_KEY_ID


class DestinationCipher:
    """Encrypts a `To` (or a job) bound to what it is stored under (the associated data).

    `keys`: key id → AES key, and `primary` the id that seals; a bare key is the one-key
    ring `k0`."""

    def __init__(self, keys: bytes | Mapping[str, bytes], primary: str = LEGACY_KEY_ID) -> None:
        ring = {LEGACY_KEY_ID: keys} if isinstance(keys, bytes) else dict(keys)
        self._aeads = {key_id: AESGCM(key) for key_id, key in ring.items()}
        self.primary = primary if isinstance(keys, Mapping) else LEGACY_KEY_ID
        self._primary_aead = self._aeads[self.primary]

    def seal(self, destination: str, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._primary_aead.encrypt(nonce, destination.encode("utf-8"), context)
        return self.primary.encode("ascii") + b":" + nonce + sealed

    def open(self, sealed: bytes, context: bytes) -> str | None:
        """The destination, or None when it was sealed under a key not on the ring (or
        under another key name)."""
        found = _PREFIX.match(sealed)
        if found is not None:
            aead = self._aeads.get(found.group(1).decode("ascii"))
            opened = _decrypt(aead, sealed[found.end() :], context)
            if opened is not None:
                return opened
        # A value from before key ids (whose random nonce may even look like a prefix).
        return _decrypt(self._aeads.get(LEGACY_KEY_ID), sealed, context)

    def key_id(self, sealed: bytes, context: bytes) -> str:
        """The id of the ring key that opens the value (AES-GCM authenticates, so trying is
        safe): the one its prefix names, else `k0` for a value from before key ids whose
        random nonce merely looks like a prefix. A value no ring key opens is counted under
        the id its prefix names (`k0` without one)."""
        found = _PREFIX.match(sealed)
        if found is not None:
            named = found.group(1).decode("ascii")
            if _decrypt(self._aeads.get(named), sealed[found.end() :], context) is not None:
                return named
        if _decrypt(self._aeads.get(LEGACY_KEY_ID), sealed, context) is not None:
            return LEGACY_KEY_ID
        return key_id_of(sealed)

    def can_open(self, sealed: bytes) -> bool:
        """Whether the key the value names is on this ring (without opening it)."""
        return key_id_of(sealed) in self._aeads

    def reseal(self, sealed: bytes, context: bytes) -> bytes | None:
        """The value sealed again under the primary; None when it is under the primary
        already or cannot be opened (the caller skips it)."""
        found = _PREFIX.match(sealed)
        if found is not None and found.group(1).decode("ascii") == self.primary:
            opened = _decrypt(self._primary_aead, sealed[found.end() :], context)
            if opened is not None:
                return None  # under the primary already (not a legacy nonce that looks so)
        plain = self.open(sealed, context)
        return None if plain is None else self.seal(plain, context)


def _decrypt(aead: AESGCM | None, sealed: bytes, context: bytes) -> str | None:
    if aead is None:
        return None
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    try:
        return aead.decrypt(nonce, ciphertext, context).decode("utf-8")
    except (InvalidTag, ValueError):
        return None

"""Keys derived from VERIFY_SECRET_KEY, one per purpose, so no key serves two roles."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

MIN_SECRET_KEY_BYTES = 32


def _derive(secret: bytes, label: bytes) -> bytes:
    # HMAC-SHA256 as a PRF keyed by the server secret (HKDF-Expand with a single block).
    return hmac.new(secret, label + b"\x01", hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Keyring:
    """Purpose-bound keys. Construct with `Keyring.from_secret`."""

    code_hmac_key: bytes
    destination_tag_key: bytes
    destination_encryption_key: bytes
    outbox_encryption_key: bytes
    identifier_tag_key: bytes = b""
    audit_chain_key: bytes = b""
    api_key_secret_key: bytes = b""

    @classmethod
    def from_secret(cls, secret: bytes) -> Keyring:
        if len(secret) < MIN_SECRET_KEY_BYTES:
            raise ValueError(f"the secret key needs at least {MIN_SECRET_KEY_BYTES} bytes")
        return cls(
            code_hmac_key=_derive(secret, b"verify-service/code-hmac/v1"),
            destination_tag_key=_derive(secret, b"verify-service/destination-tag/v1"),
            destination_encryption_key=_derive(secret, b"verify-service/destination-at-rest/v1"),
            outbox_encryption_key=_derive(secret, b"verify-service/outbox-at-rest/v1"),
            identifier_tag_key=_derive(secret, b"verify-service/identifier-tag/v1"),
            audit_chain_key=_derive(secret, b"verify-service/audit-chain/v1"),
            api_key_secret_key=_derive(secret, b"verify-service/api-key-secret/v1"),
        )

    def code_mac(self, verification_sid: str, code: str) -> bytes:
        """HMAC-SHA256(key, verification_sid || code): the input argon2id hashes.

        The sid has a fixed length (34), so the concatenation is unambiguous.
        """
        message = verification_sid.encode("ascii") + code.encode("utf-8")
        return hmac.new(self.code_hmac_key, message, hashlib.sha256).digest()

    def destination_tag(self, service_sid: str, destination: str, hex_digits: int) -> str:
        """A keyed digest of (service, destination): names the verification's storage slot."""
        message = service_sid.encode("ascii") + b"\x00" + destination.encode("utf-8")
        digest = hmac.new(self.destination_tag_key, message, hashlib.sha256).hexdigest()
        return digest[:hex_digits]

    def identifier_tag(self, purpose: str, value: str) -> str:
        """A keyed digest (96 bits, hex) naming a personal value in a Redis key: a safe-listed
        number, a client IP, a rate-limit value. Redis never holds the value itself."""
        message = purpose.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self.identifier_tag_key, message, hashlib.sha256).hexdigest()[:24]

    def api_key_digest(self, key_sid: str, secret: str) -> bytes:
        """HMAC-SHA256(key, key_sid || 0x00 || secret): what Redis holds of an API key's
        secret. The secret is 256 random bits, so a keyed hash is enough (no argon2: there is
        nothing to brute-force), and binding the sid stops a digest being copied to another
        key."""
        message = key_sid.encode("ascii") + b"\x00" + secret.encode("utf-8")
        return hmac.new(self.api_key_secret_key, message, hashlib.sha256).digest()

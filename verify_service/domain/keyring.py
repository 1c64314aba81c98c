"""The key ring: secret keys with ids, and the purpose-bound keys derived from each.

`VERIFY_SECRET_KEYS="k2:<secret>,k1:<secret>"`: the first key (the primary) signs and
seals; every key verifies and unseals. `VERIFY_SECRET_KEY=<secret>` is the one-key ring
`k0:<secret>` (`LEGACY_KEY_ID`), and values written before key ids existed are read as `k0`
values, so an upgrade keeps them (docs/key-rotation.md).

Each purpose (code MAC, destination tag, at-rest encryption, API-key MAC, audit chain …)
derives its own key from a ring entry, and the derivation does not depend on the id: the
same secret gives the same keys under any id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

MIN_SECRET_KEY_BYTES = 32
LEGACY_KEY_ID = "k0"
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


class KeyRingError(ValueError):
    """A malformed ring. The message names the entry by position or id, never a secret."""


def _derive(secret: bytes, label: bytes) -> bytes:
    # HMAC-SHA256 as a PRF keyed by the server secret (HKDF-Expand with a single block).
    return hmac.new(secret, label + b"\x01", hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class PurposeKeys:
    """The keys one ring entry gives, one per purpose, so no key serves two roles."""

    code_hmac_key: bytes
    destination_tag_key: bytes
    destination_encryption_key: bytes
    outbox_encryption_key: bytes
    identifier_tag_key: bytes
    audit_chain_key: bytes
    api_key_secret_key: bytes
    # Wraps what a reseal must re-MAC (an API key's proof, a safe-listed number).
    wrap_key: bytes
    console_search_key: bytes
    # Seals a TOTP factor's secret (AES-256-GCM, bound to its service and factor sids).
    factor_secret_key: bytes
    # MACs the MFA activity log's chain: its own key, so neither log's entries (or whole
    # chain) can pass for the other's (docs/audit-log.md, "Two logs").
    mfa_activity_chain_key: bytes
    # Signs webhook events (Twilio's X-Twilio-Signature): its first 16 bytes, as 32 hex
    # characters, are the token a receiver validates with (docs/webhooks.md, "Signing").
    webhook_signing_key: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> PurposeKeys:
        if len(secret) < MIN_SECRET_KEY_BYTES:
            raise KeyRingError(f"the secret key needs at least {MIN_SECRET_KEY_BYTES} bytes")
        return cls(
            code_hmac_key=_derive(secret, b"verify-service/code-hmac/v1"),
            destination_tag_key=_derive(secret, b"verify-service/destination-tag/v1"),
            destination_encryption_key=_derive(secret, b"verify-service/destination-at-rest/v1"),
            outbox_encryption_key=_derive(secret, b"verify-service/outbox-at-rest/v1"),
            identifier_tag_key=_derive(secret, b"verify-service/identifier-tag/v1"),
            audit_chain_key=_derive(secret, b"verify-service/audit-chain/v1"),
            api_key_secret_key=_derive(secret, b"verify-service/api-key-secret/v1"),
            wrap_key=_derive(secret, b"verify-service/reseal-wrap/v1"),
            console_search_key=_derive(secret, b"verify-service/console-search/v1"),
            factor_secret_key=_derive(secret, b"verify-service/factor-secret/v1"),
            mfa_activity_chain_key=_derive(secret, b"verify-service/mfa-activity-chain/v1"),
            webhook_signing_key=_derive(secret, b"verify-service/webhook-signing/v1"),
        )


def parse_ring(text: str) -> list[tuple[str, bytes]]:
    """`id:secret[,id:secret…]` → [(id, secret)], primary first. Errors never quote a
    secret: an entry is named by its position, or by its id once that is known."""
    entries: list[tuple[str, bytes]] = []
    for position, raw in enumerate(text.split(","), start=1):
        item = raw.strip()
        key_id, colon, secret = item.partition(":")
        if not colon:
            raise KeyRingError(f"entry {position} is not id:secret")
        if not KEY_ID.fullmatch(key_id):
            raise KeyRingError(f"entry {position}: a key id is 1-16 of A-Z a-z 0-9 _ -")
        if any(key_id == seen for seen, _ in entries):
            raise KeyRingError(f"key id {key_id} appears twice")
        encoded = secret.encode("utf-8")
        if len(encoded) < MIN_SECRET_KEY_BYTES:
            raise KeyRingError(f"key {key_id} needs at least {MIN_SECRET_KEY_BYTES} bytes")
        entries.append((key_id, encoded))
    if any(secret == other for i, (_, secret) in enumerate(entries) for _, other in entries[:i]):
        raise KeyRingError("two key ids have the same secret")
    return entries


class Keyring:
    """The ring. Signing and sealing use the primary; `keys(key_id)` verifies and unseals.

    The primary's purpose keys are readable on the ring itself (`keyring.code_hmac_key` …),
    as before key ids."""

    __slots__ = ("_by_id", "_ids", "_nobodys_key", "primary")

    def __init__(self, entries: Sequence[tuple[str, bytes]]) -> None:
        if not entries:
            raise KeyRingError("the key ring is empty")
        self._ids = tuple(key_id for key_id, _ in entries)
        self._by_id = {key_id: PurposeKeys.from_secret(secret) for key_id, secret in entries}
        self.primary = self._by_id[self._ids[0]]
        # Stands in for a key id not on the ring: random, held by no one, never stored.
        self._nobodys_key = secrets.token_bytes(32)

    @classmethod
    def from_secret(cls, secret: bytes) -> Keyring:
        """The one-key ring of `VERIFY_SECRET_KEY`: its id is `k0`."""
        return cls([(LEGACY_KEY_ID, secret)])

    @property
    def primary_id(self) -> str:
        return self._ids[0]

    @property
    def ids(self) -> tuple[str, ...]:
        """Key ids, primary first."""
        return self._ids

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Keyring) and self._ids == other._ids and self._by_id == other._by_id
        )

    def __hash__(self) -> int:
        return hash(self._ids)

    def by_purpose(self, purpose: str) -> dict[str, bytes]:
        """One purpose's key per id, primary first (`by_purpose("audit_chain_key")`)."""
        if purpose not in PurposeKeys.__dataclass_fields__:
            raise KeyError(purpose)
        return {key_id: getattr(self._by_id[key_id], purpose) for key_id in self._ids}

    def keys(self, key_id: str) -> PurposeKeys | None:
        """The keys of one ring entry, or None when the id is not on the ring."""
        return self._by_id.get(key_id)

    @property
    def code_hmac_key(self) -> bytes:
        return self.primary.code_hmac_key

    @property
    def destination_tag_key(self) -> bytes:
        return self.primary.destination_tag_key

    @property
    def destination_encryption_key(self) -> bytes:
        return self.primary.destination_encryption_key

    @property
    def outbox_encryption_key(self) -> bytes:
        return self.primary.outbox_encryption_key

    @property
    def identifier_tag_key(self) -> bytes:
        return self.primary.identifier_tag_key

    @property
    def audit_chain_key(self) -> bytes:
        return self.primary.audit_chain_key

    @property
    def api_key_secret_key(self) -> bytes:
        return self.primary.api_key_secret_key

    def webhook_signing_token(self, key_id: str | None = None) -> str:
        """The token events are signed with (the primary's, or `key_id`'s): 32 hex
        characters, shaped like an auth token, for Twilio's RequestValidator."""
        keys = self._by_id[key_id or self.primary_id]
        return keys.webhook_signing_key[:16].hex()

    # -- code MAC ------------------------------------------------------------------------

    def code_mac(self, verification_sid: str, code: str, key_id: str | None = None) -> bytes:
        """HMAC-SHA256(key, verification_sid || code): the input argon2id hashes. Under the
        primary unless `key_id` names another entry (the verification's own key).

        The sid has a fixed length (34), so the concatenation is unambiguous. An id not on
        the ring gives a MAC under a key nobody has: no code matches it.
        """
        keys = self.primary if key_id is None else self._by_id.get(key_id)
        key = keys.code_hmac_key if keys is not None else self._nobodys_key
        message = verification_sid.encode("ascii") + code.encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).digest()

    # -- keyed digests of identifiers (primary only: they age out) -------------------------

    def destination_tag(self, service_sid: str, destination: str, hex_digits: int) -> str:
        """A keyed digest of (service, destination): names the verification's storage slot."""
        message = service_sid.encode("ascii") + b"\x00" + destination.encode("utf-8")
        digest = hmac.new(self.primary.destination_tag_key, message, hashlib.sha256).hexdigest()
        return digest[:hex_digits]

    def destination_tags(self, service_sid: str, destination: str, hex_digits: int) -> set[str]:
        """`destination_tag` under every key on the ring: what verifications started before a
        rotation are named by (the attempt history's search by destination)."""
        message = service_sid.encode("ascii") + b"\x00" + destination.encode("utf-8")
        return {
            hmac.new(keys.destination_tag_key, message, hashlib.sha256).hexdigest()[:hex_digits]
            for keys in self._by_id.values()
        }

    def identifier_tag(self, purpose: str, value: str, key_id: str | None = None) -> str:
        """A keyed digest (96 bits, hex) naming a personal value in a Redis key: a safe-listed
        number, a client IP, a rate-limit value. Redis never holds the value itself."""
        keys = self.primary if key_id is None else self._by_id[key_id]
        message = purpose.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(keys.identifier_tag_key, message, hashlib.sha256).hexdigest()[:24]

    # -- API keys --------------------------------------------------------------------------

    def api_key_digest(self, key_sid: str, secret: str) -> bytes:
        """The pre-ring digest `HMAC(k_api[k0], key_sid || 0x00 || secret)`, still accepted
        for keys created before key ids (see `api_key_proof` for today's)."""
        keys = self._by_id.get(LEGACY_KEY_ID, self.primary)
        message = key_sid.encode("ascii") + b"\x00" + secret.encode("utf-8")
        return hmac.new(keys.api_key_secret_key, message, hashlib.sha256).digest()

    @staticmethod
    def api_key_proof(key_sid: str, secret: str) -> bytes:
        """P = SHA-256(key_sid || 0x00 || secret): unkeyed, so it survives a rotation. The
        secret is 256 random bits, so P reveals nothing that can be brute-forced."""
        return hashlib.sha256(key_sid.encode("ascii") + b"\x00" + secret.encode("utf-8")).digest()

    def api_key_mac(self, key_id: str | None, proof: bytes) -> bytes | None:
        """HMAC(k_api[key_id], P): what Redis holds to check a key; None off the ring."""
        keys = self._by_id.get(key_id or "")
        if keys is None:
            return None
        return hmac.new(keys.api_key_secret_key, proof, hashlib.sha256).digest()

    def primary_api_key_mac(self, proof: bytes) -> bytes:
        """HMAC(k_api[primary], P)."""
        return hmac.new(self.primary.api_key_secret_key, proof, hashlib.sha256).digest()

    # -- wrapping what a reseal must read back -----------------------------------------------

    def wrap(self, key_id: str, purpose: str, label: str, value: bytes) -> bytes:
        """`value` XOR a pad HMAC(k_wrap[key_id], purpose 0x00 label 0x00 counter).

        Used only where `label` determines `value` (a key sid and its proof; a digest of
        the number and the number), so a pad never covers two values: deterministic
        encryption, like SIV with the label as its synthetic IV. `unwrap` is the same."""
        keys = self._by_id[key_id]
        pad = b""
        counter = 0
        while len(pad) < len(value):
            block = f"{purpose}\x00{label}\x00{counter}".encode()
            pad += hmac.new(keys.wrap_key, block, hashlib.sha256).digest()
            counter += 1
        return bytes(a ^ b for a, b in zip(value, pad, strict=False))

    def unwrap(self, key_id: str, purpose: str, label: str, value: bytes) -> bytes | None:
        if key_id not in self._by_id:
            return None
        return self.wrap(key_id, purpose, label, value)

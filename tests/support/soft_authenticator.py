"""A software passkey authenticator at the process edge: what a browser and its authenticator
would send for `navigator.credentials.create()` / `.get()` (WebAuthn §6.1, `none` attestation,
ES256), built from the options the server returned. Lets the integration tests and the
fuzzer reach every refusal without a browser; the Chromium tests cover the real thing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40
AAGUID = bytes(16)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass
class SoftCredential:
    credential_id: bytes
    rp_id: str
    user_handle: bytes
    key: ec.EllipticCurvePrivateKey
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """Makes credentials and assertions. `origin` is where the "page" runs; `user_verified`
    whether the authenticator verified the user; `counter_step` how much the sign count
    moves per use (0: an authenticator without a counter)."""

    origin: str
    user_verified: bool = True
    counter_step: int = 1
    credentials: list[SoftCredential] = field(default_factory=list)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def _flags(self) -> int:
        return UP | (UV if self.user_verified else 0)

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        again: SoftCredential | None = None,
        credential_id: bytes | None = None,
        cose: bytes | None = None,
    ) -> dict[str, Any]:
        """The JSON of `navigator.credentials.create({publicKey})` for `options`
        (`{"publicKey": …}` as the server gave it). A forger's choices: `again` attests an
        existing credential (its id and key) once more, `credential_id` the id to attest,
        `cose` the public key bytes (a junk key)."""
        public_key = options["publicKey"]
        rp = rp_id or public_key["rp"]["id"]
        if again is not None:
            credential = again
        else:
            credential = SoftCredential(
                credential_id or os.urandom(32),
                rp,
                unb64url(public_key["user"]["id"]),
                ec.generate_private_key(ec.SECP256R1()),
                self.counter_step,
            )
            self.credentials.append(credential)
        numbers = credential.key.public_key().public_numbers()
        cose = cose or cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        credential_id = credential.credential_id
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags() | AT])
            + struct.pack(">I", credential.sign_count)
            + AAGUID
            + struct.pack(">H", len(credential_id))
            + credential_id
            + cose
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", public_key["challenge"], origin)
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "authenticatorAttachment": "platform",
            "type": "public-key",
            "response": {
                "attestationObject": b64url(attestation),
                "clientDataJSON": b64url(client_data),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        credential: SoftCredential | None = None,
        *,
        origin: str | None = None,
        sign_count: int | None = None,
    ) -> dict[str, Any]:
        """The JSON of `navigator.credentials.get({publicKey})` with `credential` (the last
        made by default); `sign_count` forces the counter (a cloned authenticator)."""
        public_key = options["publicKey"]
        used = credential or self.credentials[-1]
        used.sign_count = used.sign_count + self.counter_step if sign_count is None else sign_count
        auth_data = (
            hashlib.sha256(used.rp_id.encode()).digest()
            + bytes([self._flags()])
            + struct.pack(">I", used.sign_count)
        )
        client_data = self._client_data("webauthn.get", public_key["challenge"], origin)
        signature = used.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(used.credential_id),
            "rawId": b64url(used.credential_id),
            "authenticatorAttachment": "platform",
            "type": "public-key",
            "response": {
                "authenticatorData": b64url(auth_data),
                "clientDataJSON": b64url(client_data),
                "signature": b64url(signature),
                "userHandle": b64url(used.user_handle),
            },
        }

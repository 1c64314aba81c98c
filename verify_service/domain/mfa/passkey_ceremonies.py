"""WebAuthn ceremonies with `webauthn` (py_webauthn): the options a browser passes to
`navigator.credentials.create()` / `.get()`, and the checks of what it sends back.

Pure computation: the use cases (application/mfa/passkeys.py) find the ceremony by the
challenge inside `clientDataJSON`, consume it atomically, and record the result.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import decode_credential_public_key, decoded_public_key_to_cryptography
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorAttachment,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from verify_service.domain.errors import InvalidMfaRequest, InvalidParameter
from verify_service.domain.json_input import nested_at_most, parse_json
from verify_service.domain.mfa.passkey_config import AuthenticatorAttachment as Attachment
from verify_service.domain.mfa.passkey_config import PasskeyConfig, Requirement
from verify_service.domain.mfa.passkey_errors import PasskeyRefused

# Twilio's options (twilio_verify_v2.yaml, createPasskeys) carry `timeout: 600000`: a ceremony
# (registration or sign-in) can be answered for ten minutes, then it is gone.
CEREMONY_TIMEOUT_MS = 600_000
CHALLENGE_BYTES = 32  # WebAuthn §13.4.3: at least 16 random bytes
# ES256 first (every authenticator), then EdDSA and RS256 (Windows Hello).
SUPPORTED_ALGORITHMS = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)
_TRANSPORTS = frozenset(transport.value for transport in AuthenticatorTransport)
# Open sign-ins (docs/mfa.md, "Passkeys", "What is checked"): pending passkeys challenges
# per identity (50, the figure of the pending TOTP challenges' bound), and open discoverable
# sign-ins per service (each a login page shown in the last 10 minutes and not yet answered:
# 10 000 is ~17 page views a second; each open one is ~300 bytes of Redis).
MAX_PENDING_PASSKEY_CHALLENGES = 50
MAX_OPEN_DISCOVERABLE_CEREMONIES = 10_000
MAX_CREDENTIAL_FIELD_CHARS = 16_384  # an attestation object with a certificate chain fits
# A credential id is at most 1023 bytes (WebAuthn §4 "Credential ID"; §7.1 step 23 refuses a
# longer one): 1364 base64url characters.
MAX_CREDENTIAL_ID_BYTES = 1023
MAX_CREDENTIAL_ID_CHARS = -(-MAX_CREDENTIAL_ID_BYTES // 3) * 4
# RS256 keys below 2048 bits are refused (NIST SP 800-131A: 112-bit security at least).
MIN_RSA_KEY_BITS = 2048
# A browser's clientDataJSON is a flat object (type, challenge, origin, crossOrigin,
# topOrigin…) with at most one object inside (the legacy tokenBinding): anything nested
# deeper is refused before it is parsed, so it can never exhaust the parser's stack.
MAX_CLIENT_DATA_DEPTH = 2


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """A verified passkey factor's credential, as the assertion check needs it."""

    credential_id: str  # base64url
    public_key: str  # base64url of the COSE key
    sign_count: int
    transports: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RegisteredCredential:
    credential_id: str  # base64url
    public_key: str  # base64url of the COSE key
    sign_count: int
    transports: tuple[str, ...]
    aaguid: str
    user_verified: bool


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(value: str) -> bytes:
    """Strict base64url (padding optional); ValueError on anything else."""
    if not isinstance(value, str) or not value.isascii():
        raise ValueError("not base64url")
    padded = value + "=" * (-len(value) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def ceremony_tag(challenge: bytes) -> str:
    """The look-up name of a ceremony: SHA-256 of its challenge (hex), so a key name holds
    neither the challenge nor anything the caller chose."""
    return hashlib.sha256(challenge).hexdigest()


def _requirement(value: Requirement) -> UserVerificationRequirement:
    return UserVerificationRequirement(value.value)


def registration_options(
    config: PasskeyConfig,
    *,
    entity_sid: str,
    user_name: str,
    challenge: bytes,
    exclude: list[StoredCredential],
) -> dict[str, Any]:
    """`options` of a new passkeys factor: `{"publicKey": PublicKeyCredentialCreationOptions}`
    with `user.id` the base64url entity sid, as Twilio's."""
    attachment = config.authenticator_attachment.value
    options = generate_registration_options(
        rp_id=config.relying_party_id,
        rp_name=config.relying_party_name,
        user_id=entity_sid.encode("ascii"),
        user_name=user_name,
        user_display_name=user_name,
        challenge=challenge,
        timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            authenticator_attachment=None
            if attachment == "any"
            else AuthenticatorAttachment(attachment),
            resident_key=ResidentKeyRequirement(config.discoverable_credentials.value),
            require_resident_key=config.discoverable_credentials is Requirement.REQUIRED,
            user_verification=_requirement(config.user_verification),
        ),
        exclude_credentials=[_descriptor(credential) for credential in exclude],
        supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
    )
    public_key: dict[str, Any] = json.loads(options_to_json(options))
    public_key.setdefault("excludeCredentials", [])
    return {"publicKey": public_key}


def authentication_options(
    *,
    rp_id: str,
    challenge: bytes,
    allow: list[StoredCredential],
    user_verification: Requirement,
) -> dict[str, Any]:
    """`options` of a passkeys challenge: `{"publicKey": PublicKeyCredentialRequestOptions}`;
    an empty `allowCredentials` lets the browser offer any discoverable passkey of the RP."""
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=[_descriptor(credential) for credential in allow],
        user_verification=_requirement(user_verification),
    )
    public_key: dict[str, Any] = json.loads(options_to_json(options))
    public_key.setdefault("allowCredentials", [])
    return {"publicKey": public_key}


def _descriptor(credential: StoredCredential) -> PublicKeyCredentialDescriptor:
    return PublicKeyCredentialDescriptor(
        id=from_b64url(credential.credential_id),
        transports=[AuthenticatorTransport(t) for t in credential.transports if t in _TRANSPORTS]
        or None,
    )


def challenge_of(credential: dict[str, Any]) -> bytes:
    """The challenge inside a browser response's `clientDataJSON` (how a ceremony is found:
    the request names no factor or challenge sid). 60306 naming the field on anything else."""
    response = credential.get("response")
    if not isinstance(response, dict):
        raise InvalidMfaRequest("response", "the credential's response object")
    raw = response.get("clientDataJSON")
    if not isinstance(raw, str) or not raw or len(raw) > MAX_CREDENTIAL_FIELD_CHARS:
        raise InvalidMfaRequest("response.clientDataJSON", "base64url client data")
    try:
        text = from_b64url(raw).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise InvalidMfaRequest("response.clientDataJSON", "base64url client data") from None
    if not nested_at_most(text, MAX_CLIENT_DATA_DEPTH):
        raise InvalidMfaRequest("response.clientDataJSON", "a flat JSON object")
    try:
        client_data = parse_json(text, "response.clientDataJSON")
    except InvalidParameter as exc:  # a key twice: which `challenge` would py_webauthn read?
        raise InvalidMfaRequest(exc.parameter, exc.reason) from None
    try:
        challenge = from_b64url(client_data["challenge"])
    except (ValueError, KeyError, TypeError):
        raise InvalidMfaRequest("response.clientDataJSON", "base64url client data") from None
    if len(challenge) != CHALLENGE_BYTES:
        raise InvalidMfaRequest("response.clientDataJSON", "not a challenge of this service")
    return challenge


def require_credential_shape(credential: dict[str, Any], fields: tuple[str, ...]) -> None:
    """The fields every check reads, as strings of sane size (60306 naming the first bad)."""
    for name in ("id", "rawId"):
        value = credential.get(name)
        if not isinstance(value, str) or not value or len(value) > MAX_CREDENTIAL_ID_CHARS:
            raise InvalidMfaRequest(name, "the credential id, base64url, at most 1023 bytes")
    kind = credential.get("type", "public-key")
    if kind not in (None, "public-key"):
        raise InvalidMfaRequest("type", "public-key")
    response = credential.get("response")
    if not isinstance(response, dict):
        raise InvalidMfaRequest("response", "the credential's response object")
    for name in fields:
        value = response.get(name)
        if not isinstance(value, str) or not value or len(value) > MAX_CREDENTIAL_FIELD_CHARS:
            raise InvalidMfaRequest(f"response.{name}", "base64url")
    transports = response.get("transports")
    if transports is not None and (
        not isinstance(transports, list) or not all(isinstance(t, str) for t in transports)
    ):
        raise InvalidMfaRequest("response.transports", "a list of transports")


def _normalised(credential: dict[str, Any]) -> dict[str, Any]:
    """What py_webauthn parses: `type` defaults to `public-key` (the spec's default), and
    the optional `authenticatorAttachment` is dropped when not one it knows."""
    body = dict(credential)
    body["type"] = body.get("type") or "public-key"
    if body.get("authenticatorAttachment") not in ("platform", "cross-platform"):
        body.pop("authenticatorAttachment", None)
    return body


def require_attachment(credential: dict[str, Any], wanted: Attachment) -> None:
    """The browser's `authenticatorAttachment` (`platform` or `cross-platform`), when it
    reports one, must be the factor's: a factor created for `platform` authenticators is
    not registered or answered by a roaming key the browser says it used (docs/mfa.md)."""
    reported = credential.get("authenticatorAttachment")
    if (
        wanted is not Attachment.ANY
        and reported in ("platform", "cross-platform")
        and reported != wanted.value
    ):
        raise PasskeyRefused(
            f"authenticatorAttachment is {reported}; this factor takes {wanted.value}"
            " authenticators"
        )


def check_registration(
    credential: dict[str, Any], *, challenge: bytes, config: PasskeyConfig
) -> RegisteredCredential:
    """Verify an attestation (`navigator.credentials.create()`'s result): challenge, origin
    among the config's, RP id hash, user presence, user verification when `required`, and a
    supported algorithm. PasskeyRefused with the reason otherwise."""
    require_credential_shape(credential, ("attestationObject", "clientDataJSON"))
    require_attachment(credential, config.authenticator_attachment)
    try:
        verified = verify_registration_response(
            credential=_normalised(credential),
            expected_challenge=challenge,
            expected_rp_id=config.relying_party_id,
            expected_origin=list(config.origins),
            require_user_verification=config.user_verification is Requirement.REQUIRED,
            supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
        )
    except WebAuthnException as exc:
        raise PasskeyRefused(_reason(exc)) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise PasskeyRefused("the registration response is malformed") from None
    if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise PasskeyRefused("the credential id is longer than 1023 bytes")
    if not hmac.compare_digest(verified.credential_id, from_b64url(credential["rawId"])):
        raise PasskeyRefused("the credential id is not the attested credential's")
    require_usable_key(verified.credential_public_key)
    transports = credential["response"].get("transports") or []
    return RegisteredCredential(
        credential_id=b64url(verified.credential_id),
        public_key=b64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=tuple(t for t in transports if t in _TRANSPORTS),
        aaguid=verified.aaguid,
        user_verified=verified.user_verified,
    )


def check_assertion(
    credential: dict[str, Any],
    *,
    challenge: bytes,
    rp_id: str,
    origins: tuple[str, ...],
    stored: StoredCredential,
    require_user_verification: bool,
) -> int:
    """Verify an assertion (`navigator.credentials.get()`'s result) against the stored
    credential: challenge, origin, RP id hash, user presence (and verification when
    required), signature, and a sign count above the stored one unless both are 0 (WebAuthn
    §6.1.1: a lower one means a cloned authenticator). Returns the new sign count."""
    require_credential_shape(credential, ("authenticatorData", "clientDataJSON", "signature"))
    try:
        verified = verify_authentication_response(
            credential=_normalised(credential),
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=list(origins),
            credential_public_key=from_b64url(stored.public_key),
            credential_current_sign_count=stored.sign_count,
            require_user_verification=require_user_verification,
        )
    except WebAuthnException as exc:
        raise PasskeyRefused(_reason(exc)) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise PasskeyRefused("the authentication response is malformed") from None
    return int(verified.new_sign_count)


def require_usable_key(cose_key: bytes) -> None:
    """The attested public key decodes to a key of its algorithm (py_webauthn's decoding, and
    `cryptography`'s, which checks that an EC point is on its curve): ES256 on P-256, EdDSA on
    Ed25519, RS256 of at least 2048 bits. Anything else could never verify a signature, or
    too weakly: refused at registration rather than stored."""
    try:
        decoded = decode_credential_public_key(cose_key)
        key = decoded_public_key_to_cryptography(decoded)
    except (WebAuthnException, ValueError, TypeError, KeyError, IndexError, OverflowError):
        raise PasskeyRefused("the credential public key is not a valid key") from None
    alg = decoded.alg
    if alg == COSEAlgorithmIdentifier.ECDSA_SHA_256:
        usable = isinstance(key, EllipticCurvePublicKey) and isinstance(key.curve, SECP256R1)
    elif alg == COSEAlgorithmIdentifier.EDDSA:
        usable = isinstance(key, Ed25519PublicKey)
    elif alg == COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256:
        usable = isinstance(key, RSAPublicKey) and key.key_size >= MIN_RSA_KEY_BITS
    else:
        usable = False
    if not usable:
        raise PasskeyRefused(
            "the credential public key is not ES256 on P-256, EdDSA on Ed25519"
            f" or RS256 of at least {MIN_RSA_KEY_BITS} bits"
        )


# The refusal texts (docs/security.md: an error names the failed check, never a value from
# the request). py_webauthn's messages that hold no value pass as they are, but only those
# listed here (`_FIXED`, compared whole, " See __cause__…" cut); those that quote a value are
# replaced by a fixed text (`_QUOTING`, by their start); any other message (a new py_webauthn
# version, an attestation format's own checks) becomes GENERIC_REASON.
_FIXED = frozenset(
    {
        "id and raw_id were not equivalent",
        "clientDataJSON was malformed.",
        "Client data challenge was not expected challenge",
        "attestationObject was malformed.",
        "authenticatorData was malformed.",
        "Unexpected RP ID hash",
        "User presence was required, but was not present during attestation",
        "User was not present during authentication",
        "User verification is required but user was not verified during attestation",
        "User verification is required but user was not verified during authentication",
        "Authenticator did not provide attested credential data",
        "Authenticator did not provide a credential ID",
        "Authenticator did not provide a credential public key",
        "Authenticator did not provide an AAGUID",
        "malformed attestation type",
        "None attestation had unexpected attestation statement",
        "Attestation statement could not be verified",
        "Could not verify authentication signature",
        "Credential response had unexpected userHandle",
    }
)
_QUOTING = (
    ("Unexpected client data origin", "the origin is not one of the relying party's origins"),
    ("Unexpected client data type", "the client data is of the other ceremony"),
    ("Unexpected credential type", "the credential type is not public-key"),
    ("Unexpected token_binding status", "the token binding status is not supported"),
    ("Unsupported credential public key alg", "the key's algorithm is not ES256, EdDSA or RS256"),
    ("Unsupported attestation type", "the attestation format is not supported"),
    ("Response sign count", "the sign counter did not increase (a cloned authenticator?)"),
)
GENERIC_REASON = "the response failed a WebAuthn check"


def _reason(exc: WebAuthnException) -> str:
    """The text of the check py_webauthn refused with: one of `_FIXED`, a `_QUOTING`
    replacement, else GENERIC_REASON; never a key, a challenge or a value from the response."""
    message = str(exc).split(" See __cause__")[0].strip()
    if message in _FIXED:
        return message.rstrip(".")
    for prefix, reason in _QUOTING:
        if message.startswith(prefix):
            return reason
    return GENERIC_REASON

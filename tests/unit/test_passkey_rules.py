"""Passkey config rules and WebAuthn checks (domain/mfa/passkey_*.py), without I/O: the
software authenticator plays the browser."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.support.soft_authenticator import SoftAuthenticator, b64url
from verify_service.domain.errors import InvalidMfaRequest, InvalidParameter
from verify_service.domain.mfa.passkey_ceremonies import (
    CEREMONY_TIMEOUT_MS,
    StoredCredential,
    authentication_options,
    challenge_of,
    check_assertion,
    check_registration,
    registration_options,
)
from verify_service.domain.mfa.passkey_config import (
    AuthenticatorAttachment,
    PasskeyConfig,
    Requirement,
    resolve_passkey_config,
    validate_passkey_settings,
)
from verify_service.domain.mfa.passkey_errors import PasskeyRefused
from verify_service.domain.service import Service

ORIGIN = "https://login.example.com"
SERVICE = Service(
    sid="VA" + "0" * 32,
    friendly_name="Acme",
    date_created_ms=0,
    date_updated_ms=0,
    passkeys_relying_party_id="example.com",
    passkeys_relying_party_origins=(ORIGIN,),
)
ENTITY_SID = "YE" + "1" * 32
CHALLENGE = bytes(range(32))


def config(**changes: Any) -> PasskeyConfig:
    return dataclasses.replace(resolve_passkey_config(None, SERVICE), **changes)


def test_config_defaults_come_from_the_service_settings() -> None:
    """No request config: the service's RP id and origins, its name, `any`/`preferred`."""
    resolved = resolve_passkey_config(None, SERVICE)
    assert resolved.as_wire() == {
        "relying_party": {"id": "example.com", "name": "Acme", "origins": [ORIGIN]},
        "authenticator_attachment": "any",
        "discoverable_credentials": "preferred",
        "user_verification": "preferred",
    }


def test_request_config_wins_over_the_service_settings() -> None:
    """Each part of the request's config replaces the service's."""
    resolved = resolve_passkey_config(
        {
            "relying_party": {
                "id": "acme.test",
                "name": "Acme Login",
                "origins": ["https://acme.test"],
            },
            "authenticator_attachment": "platform",
            "discoverable_credentials": "required",
            "user_verification": "required",
        },
        SERVICE,
    )
    assert resolved.relying_party_id == "acme.test"
    assert resolved.origins == ("https://acme.test",)
    assert resolved.authenticator_attachment is AuthenticatorAttachment.PLATFORM
    assert resolved.user_verification is Requirement.REQUIRED


@pytest.mark.parametrize(
    ("service_changes", "requested", "parameter"),
    [
        ({"passkeys_relying_party_id": None}, None, "config.relying_party.id"),
        ({"passkeys_relying_party_origins": None}, None, "config.relying_party.origins"),
        ({}, {"relying_party": {"id": "https://example.com"}}, "config.relying_party.id"),
        ({}, {"relying_party": {"origins": ["https://evil.test"]}}, "config.relying_party.origins"),
        (
            {},
            {"relying_party": {"origins": ["http://example.com"]}},
            "config.relying_party.origins",
        ),
        ({}, {"relying_party": {"origins": "https://example.com"}}, "config.relying_party.origins"),
        ({}, {"user_verification": "always"}, "config.user_verification"),
        ({}, {"authenticator_attachment": 3}, "config.authenticator_attachment"),
        ({}, {"relying_party": []}, "config.relying_party"),
        (
            {"passkeys_relying_party_origins": ("ftp://example.com",)},
            None,
            "Passkeys.RelyingParty.Origins",
        ),
    ],
)
def test_a_missing_or_bad_relying_party_is_a_60306_naming_the_setting(
    service_changes: dict[str, Any], requested: dict[str, Any] | None, parameter: str
) -> None:
    """Nothing is guessed: the parameter (or service setting) to fix is named."""
    service = dataclasses.replace(SERVICE, **service_changes)
    with pytest.raises(InvalidMfaRequest) as refused:
        resolve_passkey_config(requested, service)
    assert refused.value.parameter == parameter


def test_localhost_over_http_is_an_allowed_origin() -> None:
    """`http://localhost:<port>` is a secure context (development, the browser tests)."""
    resolved = resolve_passkey_config(
        {"relying_party": {"id": "localhost", "origins": ["http://localhost:8443/"]}}, SERVICE
    )
    assert resolved.origins == ("http://localhost:8443",)


def test_service_settings_are_checked_when_set() -> None:
    """Passkeys.* on a Service: normalised, and refused with 60200 naming the setting."""
    changes: dict[str, Any] = {
        "passkeys_relying_party_id": "Example.COM",
        "passkeys_user_verification": "Required",
        "passkeys_authenticator_attachment": "",
    }
    validate_passkey_settings(changes)
    assert changes == {
        "passkeys_relying_party_id": "example.com",
        "passkeys_user_verification": "required",
        "passkeys_authenticator_attachment": None,
    }
    with pytest.raises(InvalidParameter) as refused:
        validate_passkey_settings({"passkeys_discoverable_credentials": "maybe"})
    assert refused.value.parameter == "Passkeys.DiscoverableCredentials"


def test_creation_options_follow_twilio_and_the_config() -> None:
    """user.id is the base64url entity sid; timeout 600000; attestation none; excluded ids."""
    excluded = StoredCredential(b64url(b"old"), b64url(b"key"), 3, ("internal",))
    options = registration_options(
        config(authenticator_attachment=AuthenticatorAttachment.PLATFORM),
        entity_sid=ENTITY_SID,
        user_name="Ada's laptop",
        challenge=CHALLENGE,
        exclude=[excluded],
    )["publicKey"]
    assert options["rp"] == {"name": "Acme", "id": "example.com"}
    assert options["user"] == {
        "id": b64url(ENTITY_SID.encode()),
        "name": "Ada's laptop",
        "displayName": "Ada's laptop",
    }
    assert options["challenge"] == b64url(CHALLENGE)
    assert options["timeout"] == CEREMONY_TIMEOUT_MS == 600_000
    assert options["attestation"] == "none"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert options["excludeCredentials"] == [
        {"id": b64url(b"old"), "type": "public-key", "transports": ["internal"]}
    ]
    assert options["authenticatorSelection"] == {
        "authenticatorAttachment": "platform",
        "residentKey": "preferred",
        "requireResidentKey": False,
        "userVerification": "preferred",
    }


def _registered(authenticator: SoftAuthenticator, checked: PasskeyConfig) -> StoredCredential:
    options = registration_options(
        checked, entity_sid=ENTITY_SID, user_name="Ada", challenge=CHALLENGE, exclude=[]
    )
    credential = authenticator.create(options)
    assert challenge_of(credential) == CHALLENGE
    registered = check_registration(credential, challenge=CHALLENGE, config=checked)
    return StoredCredential(
        registered.credential_id, registered.public_key, registered.sign_count, ()
    )


def _assert(
    authenticator: SoftAuthenticator, stored: StoredCredential, *, required: bool = False, **kw: Any
) -> int:
    options = authentication_options(
        rp_id="example.com",
        challenge=CHALLENGE,
        allow=[stored],
        user_verification=Requirement.PREFERRED,
    )
    return check_assertion(
        authenticator.get(options, **kw),
        challenge=CHALLENGE,
        rp_id="example.com",
        origins=(ORIGIN,),
        stored=stored,
        require_user_verification=required,
    )


def test_a_registration_and_a_sign_in_pass_every_check() -> None:
    """The counter moves from 1 (registration) to 2 (first sign-in)."""
    authenticator = SoftAuthenticator(ORIGIN)
    stored = _registered(authenticator, config())
    assert stored.sign_count == 1
    assert _assert(authenticator, stored) == 2


def test_a_registration_from_an_origin_not_configured_is_refused() -> None:
    authenticator = SoftAuthenticator("https://evil.test")
    with pytest.raises(PasskeyRefused, match="origin"):
        _registered(authenticator, config())


def test_a_registration_for_another_rp_id_is_refused() -> None:
    """The authenticator data's RP id hash must be the config's RP id's."""
    checked = config()
    options = registration_options(
        checked, entity_sid=ENTITY_SID, user_name="Ada", challenge=CHALLENGE, exclude=[]
    )
    credential = SoftAuthenticator(ORIGIN).create(options, rp_id="login.example.com")
    with pytest.raises(PasskeyRefused, match="RP ID"):
        check_registration(credential, challenge=CHALLENGE, config=checked)


def test_user_verification_is_enforced_only_when_required() -> None:
    authenticator = SoftAuthenticator(ORIGIN, user_verified=False)
    stored = _registered(authenticator, config())  # preferred: accepted without UV
    with pytest.raises(PasskeyRefused, match="verif"):
        _registered(authenticator, config(user_verification=Requirement.REQUIRED))
    with pytest.raises(PasskeyRefused, match="verif"):
        _assert(authenticator, stored, required=True)


def test_a_sign_count_at_or_below_the_stored_one_is_refused() -> None:
    """WebAuthn §6.1.1: a counter that did not increase means a cloned authenticator."""
    authenticator = SoftAuthenticator(ORIGIN)
    stored = dataclasses.replace(_registered(authenticator, config()), sign_count=5)
    with pytest.raises(PasskeyRefused, match="sign counter"):
        _assert(authenticator, stored, sign_count=5)
    assert _assert(authenticator, stored, sign_count=6) == 6


def test_authenticators_without_a_counter_stay_at_zero() -> None:
    """Both 0 is allowed (many platform authenticators keep no counter)."""
    authenticator = SoftAuthenticator(ORIGIN, counter_step=0)
    stored = _registered(authenticator, config())
    assert stored.sign_count == 0
    assert _assert(authenticator, stored) == 0


def test_a_forged_signature_is_refused() -> None:
    authenticator = SoftAuthenticator(ORIGIN)
    stored = _registered(authenticator, config())
    other = SoftAuthenticator(ORIGIN)
    _registered(other, config())
    other.credentials[-1].credential_id = authenticator.credentials[-1].credential_id
    with pytest.raises(PasskeyRefused):
        _assert(other, stored)


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"response": "x"},
        {"response": {"clientDataJSON": "%%%"}},
        {"response": {"clientDataJSON": b64url(b"not json")}},
        {"response": {"clientDataJSON": b64url(b'{"challenge": 3}')}},
        {"response": {"clientDataJSON": b64url(b'{"challenge": "c2hvcnQ"}')}},
        {"response": {"clientDataJSON": ["a"]}},
    ],
)
def test_garbage_client_data_is_a_60306(credential: dict[str, Any]) -> None:
    with pytest.raises(InvalidMfaRequest):
        challenge_of(credential)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c["response"].update(attestationObject=b64url(b"\xa1\x00")),
        lambda c: c["response"].update(attestationObject="!!"),
        lambda c: c.update(rawId=b64url(b"other")),
        lambda c: c.update(id=7),
        lambda c: c.update(type="password"),
        lambda c: c["response"].update(transports="usb"),
    ],
)
def test_a_malformed_registration_is_refused_never_raised(mangle: Any) -> None:
    """Whatever the bytes, a 60306 (InvalidMfaRequest or PasskeyRefused), never a crash."""
    checked = config()
    options = registration_options(
        checked, entity_sid=ENTITY_SID, user_name="Ada", challenge=CHALLENGE, exclude=[]
    )
    credential = SoftAuthenticator(ORIGIN).create(options)
    mangle(credential)
    with pytest.raises((PasskeyRefused, InvalidMfaRequest)):
        check_registration(credential, challenge=CHALLENGE, config=checked)

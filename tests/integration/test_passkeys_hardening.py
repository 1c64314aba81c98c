"""The passkeys review's findings, each through the routes on a real Redis: forged responses
(junk keys, oversized or swapped credential ids, nested client data), the service's
`Passkeys.*` settings reaching existing factors and checked when set, host names and display
names, refusal texts that never echo the request, one credential for two entities at once,
and the bounds on open sign-ins. The routes' ordinary behaviour: test_passkeys_api.py."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import cbor2
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from flask import Flask

from tests.conftest import Api
from tests.integration.test_passkeys_api import (
    IDENTITY,
    ORIGIN,
    PASSKEY_SETTINGS,
    Passkeys,
    refused,
)
from tests.support.fakes import FixedClock
from tests.support.soft_authenticator import SoftAuthenticator, b64url
from verify_service.domain.mfa.passkey_ceremonies import (
    _FIXED,
    _QUOTING,
    CEREMONY_TIMEOUT_MS,
    GENERIC_REASON,
    MAX_PENDING_PASSKEY_CHALLENGES,
)

OTHER = "aa483d1ff591898a9942916050d2ca3f"
OLD_ORIGIN = "https://old.acme.test"


@pytest.fixture
def service(api: Api) -> str:
    return api.create_service(**PASSKEY_SETTINGS)


@pytest.fixture
def passkeys(api: Api, service: str) -> Passkeys:
    return Passkeys(api.client, api.headers, service)


@pytest.fixture
def device() -> SoftAuthenticator:
    return SoftAuthenticator(ORIGIN)


def _at_once(app: Flask, passkeys: Passkeys, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """The calls (route, body) posted by as many threads released together."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = []

    def post(route: str, body: dict[str, Any]) -> None:
        client = Passkeys(app.test_client(), passkeys.headers, "")
        client.base = passkeys.base
        barrier.wait()
        answers.append(client.post(route, body))

    threads = [threading.Thread(target=post, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _factors(api: Api, service: str, identity: str) -> list[dict[str, Any]]:
    body = api.get(f"/v2/Services/{service}/Entities/{identity}/Factors").json
    assert body is not None
    factors: list[dict[str, Any]] = body["factors"]
    return factors


# F8: the credential id -----------------------------------------------------------------


def test_a_credential_id_of_1023_bytes_is_accepted_and_1024_refused(passkeys: Passkeys) -> None:
    device = SoftAuthenticator(ORIGIN)
    created = passkeys.create_factor().json
    assert created is not None
    ok = passkeys.verify(device.create(created["options"], credential_id=os.urandom(1023)))
    assert ok.status_code == 200, ok.json
    created = passkeys.create_factor().json
    assert created is not None
    refused(
        passkeys.verify(device.create(created["options"], credential_id=os.urandom(1024))),
        400,
        60306,
        "1023 bytes",
    )


def test_an_id_other_than_the_attested_credentials_is_refused(
    api: Api, passkeys: Passkeys, service: str
) -> None:
    created = passkeys.create_factor().json
    assert created is not None
    attestation = SoftAuthenticator(ORIGIN).create(created["options"])
    attestation["id"] = attestation["rawId"] = b64url(os.urandom(32))
    refused(passkeys.verify(attestation), 400, 60306, "not the attested credential's")
    assert _factors(api, service, IDENTITY)[0]["status"] == "unverified"


# F4: the attested public key -----------------------------------------------------------


def _rsa_cose(bits: int) -> bytes:
    numbers = rsa.generate_private_key(65537, bits).public_key().public_numbers()
    return cbor2.dumps(
        {1: 3, 3: -257, -1: numbers.n.to_bytes(bits // 8, "big"), -2: numbers.e.to_bytes(3, "big")}
    )


def _p384_as_es256() -> bytes:
    numbers = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    return cbor2.dumps(
        {1: 2, 3: -7, -1: 2, -2: numbers.x.to_bytes(48, "big"), -3: numbers.y.to_bytes(48, "big")}
    )


JUNK_KEYS = {
    "unknown curve": cbor2.dumps({1: 2, 3: -7, -1: 99, -2: b"\0" * 32, -3: b"\0" * 32}),
    "huge curve id": cbor2.dumps({1: 2, 3: -7, -1: 4155550123, -2: b"\0" * 32, -3: b"\0" * 32}),
    "P-256 point off the curve": cbor2.dumps({1: 2, 3: -7, -1: 1, -2: b"\0" * 32, -3: b"\1" * 32}),
    "ES256 on P-384": _p384_as_es256(),
    "OKP on another curve": cbor2.dumps({1: 1, 3: -8, -1: 4155550123, -2: b"\0" * 32}),
    "RSA with e=1": cbor2.dumps({1: 3, 3: -257, -1: b"\xff" * 256, -2: b"\x01"}),
    "RSA of 1024 bits": _rsa_cose(1024),
    "unknown key type": cbor2.dumps({1: 99, 3: -7}),
}


@pytest.mark.parametrize("cose", JUNK_KEYS.values(), ids=JUNK_KEYS.keys())
def test_a_junk_or_weak_public_key_is_refused_at_registration(
    api: Api, passkeys: Passkeys, service: str, cose: bytes
) -> None:
    created = passkeys.create_factor().json
    assert created is not None
    attestation = SoftAuthenticator(ORIGIN).create(created["options"], cose=cose)
    refused(passkeys.verify(attestation), 400, 60306, "passkey refused: ")
    assert _factors(api, service, IDENTITY)[0]["status"] == "unverified"


def test_eddsa_and_rsa_2048_keys_are_registered(passkeys: Passkeys) -> None:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    for cose in (cbor2.dumps({1: 1, 3: -8, -1: 6, -2: raw}), _rsa_cose(2048)):
        created = passkeys.create_factor().json
        assert created is not None
        response = passkeys.verify(SoftAuthenticator(ORIGIN).create(created["options"], cose=cose))
        assert response.status_code == 200, response.json


# F1: clientDataJSON nested beyond the parser's stack -----------------------------------


@pytest.mark.parametrize("route", ["VerifyFactor", "ApproveChallenge"])
def test_client_data_nested_deeper_than_a_browsers_is_refused(
    passkeys: Passkeys, device: SoftAuthenticator, route: str
) -> None:
    """A flat object (one object inside, the legacy tokenBinding, at most) or 60306."""
    passkeys.register(device)
    for raw in (b"[" * 5000, b'{"challenge":' + b"[" * 5000 + b"]" * 5000 + b"}", b"[[[1]]]"):
        body = {
            "id": "AAAA",
            "rawId": "AAAA",
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(raw),
                "attestationObject": "AAAA",
                "authenticatorData": "AAAA",
                "signature": "AAAA",
            },
        }
        refused(passkeys.post(route, body), 400, 60306, "clientDataJSON (a flat JSON object)")


# F2: the service's current settings reach existing factors ------------------------------


def test_an_origin_removed_from_the_service_is_refused_for_existing_passkeys(
    api: Api, passkeys: Passkeys, service: str
) -> None:
    api.post(
        f"/v2/Services/{service}", **{"Passkeys.RelyingParty.Origins": f"{ORIGIN},{OLD_ORIGIN}"}
    )
    device = SoftAuthenticator(OLD_ORIGIN)
    passkeys.register(device)  # the factor's config holds both origins
    assert (
        api.post(f"/v2/Services/{service}", **{"Passkeys.RelyingParty.Origins": ORIGIN}).status_code
        == 200
    )
    for body in ({"identity": IDENTITY}, {}):
        challenge = passkeys.challenge(**body).json
        assert challenge is not None
        refused(passkeys.approve(device.get(challenge["options"])), 400, 60306, "origin")
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    approved = passkeys.approve(device.get(challenge["options"], origin=ORIGIN))
    assert approved.status_code == 200, approved.json


def test_user_verification_required_by_the_service_reaches_existing_passkeys(
    api: Api, passkeys: Passkeys, service: str
) -> None:
    device = SoftAuthenticator(ORIGIN, user_verified=False)
    passkeys.register(device)  # `preferred`: registered without user verification
    assert (
        api.post(f"/v2/Services/{service}", **{"Passkeys.UserVerification": "required"}).status_code
        == 200
    )
    for body in ({"identity": IDENTITY}, {}):
        challenge = passkeys.challenge(**body).json
        assert challenge is not None
        assert challenge["options"]["publicKey"]["userVerification"] == "required"
        refused(passkeys.approve(device.get(challenge["options"])), 400, 60306, "User verification")
    device.user_verified = True
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    assert passkeys.approve(device.get(challenge["options"])).status_code == 200


@pytest.mark.parametrize(
    ("parameter", "named"),
    [
        ("Config.RelyingParty.Origins", "Config.RelyingParty.Origins"),
        ("Config.UserVerification", "Config.UserVerification"),
        ("Config.TimeStep", "Config"),
        ("Config.ada@example.com", "Config"),
    ],
)
def test_a_config_parameter_on_a_passkey_factor_update_is_refused_naming_it(
    api: Api,
    passkeys: Passkeys,
    device: SoftAuthenticator,
    service: str,
    parameter: str,
    named: str,
) -> None:
    factor = passkeys.register(device)
    path = f"/v2/Services/{service}/Entities/{IDENTITY}/Factors/{factor['sid']}"
    response = api.post(path, **{parameter: "30"})
    refused(response, 400, 60306, f"Invalid request: {named} (")
    assert "ada@example.com" not in json.dumps(response.json)
    assert api.post(path, FriendlyName="Ada's phone").status_code == 200  # a name still changes


# F6, F7: the relying party's settings, checked when set ---------------------------------


@pytest.mark.parametrize(
    "origins",
    [
        "http://login.acme.test",  # http only for localhost
        "javascript:alert(1)",
        "https://evil.example",  # not on the RP id
        ",".join(f"https://{i}.acme.test" for i in range(11)),  # at most 10
        "https://" + "x" * 20_000 + ".acme.test",
        "https://ex\x00.acme.test",
    ],
)
def test_the_services_origins_are_checked_when_set(api: Api, origins: str) -> None:
    response = api.client.post(
        "/v2/Services",
        data={
            "FriendlyName": "Acme",
            "Passkeys.RelyingParty.Id": "acme.test",
            "Passkeys.RelyingParty.Origins": origins,
        },
        headers=api.headers,
    )
    refused(response, 400, 60200, "Passkeys.RelyingParty.Origins")
    message = response.json["message"]  # type: ignore[index]
    assert "evil" not in message
    assert "x" * 50 not in message


def test_changing_the_services_rp_id_checks_its_stored_origins(api: Api, service: str) -> None:
    refused(
        api.post(f"/v2/Services/{service}", **{"Passkeys.RelyingParty.Id": "other.test"}),
        400,
        60200,
        "Passkeys.RelyingParty.Origins",
    )
    updated = api.post(
        f"/v2/Services/{service}",
        **{
            "Passkeys.RelyingParty.Id": "other.test",
            "Passkeys.RelyingParty.Origins": "https://other.test:443",
        },
    )
    assert updated.status_code == 200, updated.json
    assert updated.json["passkeys"]["relying_party"]["origins"] == ["https://other.test"]  # type: ignore[index]


def test_international_hosts_are_kept_in_their_idna_form(api: Api) -> None:
    service = api.create_service(
        **{
            "Passkeys.RelyingParty.Id": "bücher.example",
            "Passkeys.RelyingParty.Origins": "https://login.bücher.example",
        }
    )
    passkeys = Passkeys(api.client, api.headers, service)
    created = passkeys.create_factor().json
    assert created is not None
    assert created["config"]["relying_party"]["id"] == "xn--bcher-kva.example"
    assert created["config"]["relying_party"]["origins"] == ["https://login.xn--bcher-kva.example"]
    device = SoftAuthenticator("https://login.xn--bcher-kva.example")  # as a browser writes it
    assert passkeys.verify(device.create(created["options"])).status_code == 200


@pytest.mark.parametrize(
    "config",
    [
        {"relying_party": {"origins": ["https://ex\x00.acme.test"]}},
        {"relying_party": {"origins": ["https://login.acme.test\u3002"]}},
        {"relying_party": {"origins": ["https://log in.acme.test"]}},
        {"relying_party": {"id": "acme\x00.test"}},
        {"relying_party": {"name": "Ac\x00me"}},
        {"relying_party": {"name": "Acme\u202eemcA"}},
        {"relying_party": {"name": "Ac\nme"}},
    ],
)
def test_control_characters_and_non_hosts_in_a_factors_config_are_refused(
    passkeys: Passkeys, config: dict[str, Any]
) -> None:
    refused(passkeys.create_factor(config=config), 400, 60306, "config.relying_party.")


def test_control_characters_in_names_shown_by_the_browser_are_refused(
    api: Api, passkeys: Passkeys, service: str
) -> None:
    refused(
        api.post(f"/v2/Services/{service}", **{"Passkeys.RelyingParty.Name": "Ac\x00me"}),
        400,
        60200,
        "Passkeys.RelyingParty.Name",
    )
    refused(
        passkeys.post("Factors", {"friendly_name": "Ada\u202e", "identity": IDENTITY}),
        400,
        60306,
        "friendly_name",
    )


# F5: refusals name the check, never a value of the request -----------------------------


def test_refusal_texts_come_from_the_fixed_list_and_echo_nothing(passkeys: Passkeys) -> None:
    """Forged attestations whose py_webauthn messages would quote the request (a format, an
    origin, a type) or come from an attestation format's checks."""
    marker = "ada.lovelace@example.com"
    allowed = {m.rstrip(".") for m in _FIXED} | {text for _, text in _QUOTING} | {GENERIC_REASON}
    seen = []
    for fmt, statement in ((marker, {}), ("packed", {"alg": -7, "sig": marker.encode()})):
        created = passkeys.create_factor().json
        assert created is not None
        attestation = SoftAuthenticator(ORIGIN).create(created["options"])
        data = cbor2.loads(
            __import__("base64").urlsafe_b64decode(
                attestation["response"]["attestationObject"] + "=="
            )
        )
        data["fmt"], data["attStmt"] = fmt, statement
        attestation["response"]["attestationObject"] = b64url(cbor2.dumps(data))
        seen.append(passkeys.verify(attestation))
    created = passkeys.create_factor().json
    assert created is not None
    seen.append(passkeys.verify(SoftAuthenticator(f"https://{marker}").create(created["options"])))
    for response in seen:
        assert response.status_code == 400
        message = response.json["message"]  # type: ignore[index]
        assert marker not in message
        assert message.removeprefix("Invalid request: passkey refused: ") in allowed, message


def test_a_json_key_that_is_not_a_parameter_name_is_never_echoed(passkeys: Passkeys) -> None:
    response = passkeys.client.post(
        f"{passkeys.base}/Factors",
        data='{"ada.lovelace@example.com +44 20 7946 0000": "\\ud800"}',
        headers={**passkeys.headers, "Content-Type": "application/json"},
    )
    refused(response, 400, 60200, "Invalid parameter: body")
    assert "ada" not in response.json["message"]  # type: ignore[index]


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "javascript:ada@example.com", "https://[::1"]
)
def test_an_origin_refusal_does_not_repeat_the_origin(passkeys: Passkeys, origin: str) -> None:
    response = passkeys.create_factor(config={"relying_party": {"origins": [origin]}})
    refused(response, 400, 60306, "config.relying_party.origins")
    message = response.json["message"]  # type: ignore[index]
    for part in ("evil", "ada", "::1"):
        assert part not in message


# F3: one credential, two entities, at once ----------------------------------------------


def test_one_credential_verified_for_two_entities_at_once_is_registered_once(
    app: Flask, api: Api, passkeys: Passkeys, service: str
) -> None:
    """The index entry is claimed by compare-and-set before the factor is verified: of two
    VerifyFactor calls racing with one credential, exactly one wins, every time."""
    for attempt in range(12):
        identities = (f"{IDENTITY[:-2]}{attempt:02d}", f"{OTHER[:-2]}{attempt:02d}")
        options = []
        for identity in identities:
            created = passkeys.create_factor(identity=identity).json
            assert created is not None
            options.append(created["options"])
        device = SoftAuthenticator(ORIGIN)
        first = device.create(options[0])
        second = device.create(options[1], again=device.credentials[0])
        answers = _at_once(app, passkeys, [("VerifyFactor", first), ("VerifyFactor", second)])
        codes = [answer.status_code for answer in answers]
        assert sorted(codes) == [200, 400], (attempt, codes)
        statuses = sorted(_factors(api, service, i)[0]["status"] for i in identities)
        assert statuses == ["unverified", "verified"]


def test_a_credential_whose_factor_was_deleted_registers_again(
    api: Api, passkeys: Passkeys, device: SoftAuthenticator, service: str
) -> None:
    factor = passkeys.register(device)
    assert (
        api.client.delete(
            f"/v2/Services/{service}/Entities/{IDENTITY}/Factors/{factor['sid']}",
            headers=api.headers,
        ).status_code
        == 204
    )
    created = passkeys.create_factor(identity=OTHER).json
    assert created is not None
    again = device.create(created["options"], again=device.credentials[0])
    assert passkeys.verify(again).status_code == 200
    refused(passkeys.verify(again), 404, 20404)  # its ceremony is used


def test_a_credential_registered_is_refused_for_another_entity(
    api: Api, passkeys: Passkeys, device: SoftAuthenticator, service: str
) -> None:
    passkeys.register(device)
    created = passkeys.create_factor(identity=OTHER).json
    assert created is not None
    again = device.create(created["options"], again=device.credentials[0])
    refused(passkeys.verify(again), 400, 60306, "already registered")
    assert _factors(api, service, OTHER)[0]["status"] == "unverified"


# S1: open sign-ins are bounded ----------------------------------------------------------


def test_pending_passkey_challenges_per_identity_are_bounded(
    passkeys: Passkeys, device: SoftAuthenticator, clock: FixedClock
) -> None:
    passkeys.register(device)
    first = None
    for _ in range(MAX_PENDING_PASSKEY_CHALLENGES):
        response = passkeys.challenge(identity=IDENTITY)
        assert response.status_code == 201, response.json
        first = first or response.json
    assert first is not None
    clock.advance(60)
    full = passkeys.challenge(identity=IDENTITY)
    refused(full, 429, 60306, "pending passkey challenges")
    assert full.headers["Retry-After"] == str(CEREMONY_TIMEOUT_MS // 1000 - 60)  # the first's
    assert passkeys.approve(device.get(first["options"])).status_code == 200  # one answered
    assert passkeys.challenge(identity=IDENTITY).status_code == 201
    refused(passkeys.challenge(identity=IDENTITY), 429, 60306)
    clock.advance(CEREMONY_TIMEOUT_MS / 1000 - 60)  # every one expired
    assert passkeys.challenge(identity=IDENTITY).status_code == 201


def test_open_discoverable_sign_ins_per_service_are_bounded_exactly(
    app: Flask,
    passkeys: Passkeys,
    device: SoftAuthenticator,
    service: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "verify_service.application.mfa.passkey_factors.MAX_OPEN_DISCOVERABLE_CEREMONIES", 5
    )
    passkeys.register(device)
    answers = _at_once(app, passkeys, [("Challenges", {})] * 12)
    assert sorted(r.status_code for r in answers) == [201] * 5 + [429] * 7
    full = passkeys.challenge()
    refused(full, 429, 60306, "discoverable")
    assert full.headers["Retry-After"] == str(CEREMONY_TIMEOUT_MS // 1000)
    opened = next(r.json for r in answers if r.status_code == 201)
    assert passkeys.approve(device.get(opened["options"])).status_code == 200
    assert passkeys.challenge().status_code == 201  # the answered one left the count
    refused(passkeys.challenge(), 429, 60306)
    clock.advance(CEREMONY_TIMEOUT_MS / 1000)
    assert passkeys.challenge().status_code == 201  # expired ones no longer count


# S2: what a ceremony keeps ---------------------------------------------------------------


def test_a_ceremony_record_holds_no_challenge(
    passkeys: Passkeys, device: SoftAuthenticator, service: str, redis_client: redis.Redis
) -> None:
    passkeys.register(device)
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    sent = challenge["options"]["publicKey"]["challenge"]
    (key,) = redis_client.keys(f"it:mfa:{{mfa:{service}}}:pk:ceremony:*")
    record = {k.decode(): v.decode() for k, v in redis_client.hgetall(key).items()}
    assert "challenge" not in record
    assert all(sent not in value for value in record.values())
    assert passkeys.approve(device.get(challenge["options"])).status_code == 200

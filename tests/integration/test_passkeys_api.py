"""The `/Passkeys/*` routes in-process on a real Redis, with a software authenticator as the
browser and the clock moved by hand: registration, sign-in (by identity and discoverable),
single use, expiry, origin, RP id, user verification, sign counter, malformed bodies,
permissions and the audit trail. The Chromium specs are in tests/e2e/test_passkeys_browser.py."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Api
from tests.integration.test_api_keys import basic, create_key
from tests.integration.test_audit_log import KEYS as AUDIT
from tests.integration.test_audit_log import stored
from tests.support.fakes import FixedClock
from tests.support.soft_authenticator import SoftAuthenticator, b64url
from verify_service.adapters.redis_store.keys import AuditKeys
from verify_service.app import create_app
from verify_service.application.audit.audit import MFA_ACTIVITY_LOG
from verify_service.domain.mfa.passkey_ceremonies import CEREMONY_TIMEOUT_MS
from verify_service.settings import Settings

ORIGIN = "https://login.acme.test"
IDENTITY = "ff483d1ff591898a9942916050d2ca3f"
PASSKEY_SETTINGS = {
    "Passkeys.RelyingParty.Id": "acme.test",
    "Passkeys.RelyingParty.Name": "Acme",
    "Passkeys.RelyingParty.Origins": ORIGIN,
}


ACTIVITY = AuditKeys("it", MFA_ACTIVITY_LOG)


def mfa_entries(redis_client: redis.Redis, keys: AuditKeys) -> list[tuple[str, str, str]]:
    return [
        (e["action"], e["target"], e["outcome"])
        for _, e in stored(redis_client, keys)
        if e["action"].startswith("mfa.")
    ]


class Passkeys:
    """The four routes as JSON posts (what the SDK sends), with given credentials."""

    def __init__(self, client: FlaskClient, headers: dict[str, str], service_sid: str) -> None:
        self.client = client
        self.headers = headers
        self.base = f"/v2/Services/{service_sid}/Passkeys"

    def post(self, path: str, body: Any) -> TestResponse:
        return self.client.post(f"{self.base}/{path}", json=body, headers=self.headers)

    def create_factor(self, identity: str = IDENTITY, **body: Any) -> TestResponse:
        return self.post("Factors", {"friendly_name": "Ada's laptop", "identity": identity, **body})

    def verify(self, credential: dict[str, Any]) -> TestResponse:
        return self.post("VerifyFactor", credential)

    def challenge(self, **body: Any) -> TestResponse:
        return self.post("Challenges", body)

    def approve(self, credential: dict[str, Any]) -> TestResponse:
        return self.post("ApproveChallenge", credential)

    def register(
        self, authenticator: SoftAuthenticator, identity: str = IDENTITY
    ) -> dict[str, Any]:
        created = self.create_factor(identity)
        assert created.status_code == 201, created.json
        verified = self.verify(authenticator.create(created.json["options"]))  # type: ignore[index]
        assert verified.status_code == 200, verified.json
        body: dict[str, Any] = verified.json  # type: ignore[assignment]
        return body


@pytest.fixture
def service(api: Api) -> str:
    return api.create_service(**PASSKEY_SETTINGS)


@pytest.fixture
def passkeys(api: Api, service: str) -> Passkeys:
    return Passkeys(api.client, api.headers, service)


@pytest.fixture
def device() -> SoftAuthenticator:
    return SoftAuthenticator(ORIGIN)


def refused(response: TestResponse, status: int, code: int, words: str = "") -> None:
    assert response.status_code == status, response.json
    body = response.json
    assert body is not None
    assert body["code"] == code, body
    assert words in body["message"], body["message"]
    assert set(body) == {"code", "message", "more_info", "status"}


def test_register_verify_and_sign_in(passkeys: Passkeys, device: SoftAuthenticator) -> None:
    """Create → unverified with creation options; verify → verified; challenge → approved."""
    created = passkeys.create_factor()
    assert created.status_code == 201
    factor = created.json
    assert factor is not None
    assert (factor["status"], factor["factor_type"], factor["identity"]) == (
        "unverified",
        "passkeys",
        IDENTITY,
    )
    assert factor["sid"].startswith("YF")
    assert factor["entity_sid"].startswith("YE")
    public_key = factor["options"]["publicKey"]
    assert public_key["rp"] == {"name": "Acme", "id": "acme.test"}
    assert public_key["user"]["id"] == b64url(factor["entity_sid"].encode())
    assert public_key["timeout"] == 600_000
    assert public_key["excludeCredentials"] == []
    assert factor["config"]["relying_party"]["origins"] == [ORIGIN]

    verified = passkeys.verify(device.create(factor["options"]))
    assert verified.status_code == 200, verified.json
    assert verified.json is not None
    assert (verified.json["sid"], verified.json["status"]) == (factor["sid"], "verified")
    assert "options" not in verified.json
    assert verified.json["metadata"] == {"aaguid": "00000000-0000-0000-0000-000000000000"}

    challenge = passkeys.challenge(identity=IDENTITY)
    assert challenge.status_code == 201, challenge.json
    assert challenge.json is not None
    assert challenge.json["status"] == "pending"
    allowed = challenge.json["options"]["publicKey"]["allowCredentials"]
    assert [c["id"] for c in allowed] == [b64url(device.credentials[-1].credential_id)]

    approved = passkeys.approve(device.get(challenge.json["options"]))
    assert approved.status_code == 200, approved.json
    assert approved.json is not None
    assert approved.json["sid"] == challenge.json["sid"]
    assert (approved.json["status"], approved.json["factor_sid"]) == ("approved", factor["sid"])
    assert approved.json["date_responded"] is not None


def test_the_reported_authenticator_attachment_must_be_the_factors(
    api: Api, device: SoftAuthenticator
) -> None:
    """`authenticatorAttachment` in a response is the browser's word for the authenticator it
    used: on a factor made for `cross-platform` ones, a `platform` answer is refused naming
    it (registration and sign-in); one that says nothing, or the right kind, is taken."""
    service = api.create_service(
        **PASSKEY_SETTINGS, **{"Passkeys.AuthenticatorAttachment": "cross-platform"}
    )
    passkeys = Passkeys(api.client, api.headers, service)
    created = passkeys.create_factor()
    assert created.status_code == 201, created.json
    options = created.json["options"]  # type: ignore[index]
    refused(passkeys.verify(device.create(options)), 400, 60306, "authenticatorAttachment")

    created = passkeys.create_factor()
    silent = device.create(created.json["options"])  # type: ignore[index]
    del silent["authenticatorAttachment"]
    assert passkeys.verify(silent).status_code == 200
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    refused(
        passkeys.approve(device.get(challenge["options"])), 400, 60306, "authenticatorAttachment"
    )
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    roaming = {**device.get(challenge["options"]), "authenticatorAttachment": "cross-platform"}
    assert passkeys.approve(roaming).json["status"] == "approved"  # type: ignore[index]


def test_a_second_passkey_excludes_the_first(passkeys: Passkeys, device: SoftAuthenticator) -> None:
    passkeys.register(device)
    second = passkeys.create_factor()
    excluded = second.json["options"]["publicKey"]["excludeCredentials"]  # type: ignore[index]
    assert [c["id"] for c in excluded] == [b64url(device.credentials[-1].credential_id)]


def test_a_discoverable_sign_in_finds_the_passkey_by_its_credential(
    passkeys: Passkeys, device: SoftAuthenticator
) -> None:
    """No identity: empty allowCredentials; the answer names the entity once approved."""
    factor = passkeys.register(device)
    challenge = passkeys.challenge()
    assert challenge.status_code == 201, challenge.json
    assert challenge.json is not None
    assert challenge.json["options"]["publicKey"]["allowCredentials"] == []
    assert (challenge.json["identity"], challenge.json["entity_sid"]) == ("", "")
    approved = passkeys.approve(device.get(challenge.json["options"]))
    assert approved.status_code == 200, approved.json
    assert approved.json is not None
    assert (approved.json["identity"], approved.json["entity_sid"]) == (
        IDENTITY,
        factor["entity_sid"],
    )
    assert approved.json["status"] == "approved"


def test_a_discoverable_sign_in_needs_the_user_handle_of_the_passkeys_entity(
    passkeys: Passkeys, device: SoftAuthenticator
) -> None:
    passkeys.register(device)
    challenge = passkeys.challenge().json
    assert challenge is not None
    assertion = device.get(challenge["options"])
    assertion["response"]["userHandle"] = b64url(b"YE" + b"0" * 32)
    refused(passkeys.approve(assertion), 400, 60306, "user handle")


def test_a_replayed_registration_or_assertion_is_refused(
    passkeys: Passkeys, device: SoftAuthenticator
) -> None:
    """Each ceremony answers once: the same response posted again is 404/20404."""
    created = passkeys.create_factor().json
    assert created is not None
    attestation = device.create(created["options"])
    assert passkeys.verify(attestation).status_code == 200
    refused(passkeys.verify(attestation), 404, 20404, "already used")
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    assertion = device.get(challenge["options"])
    assert passkeys.approve(assertion).status_code == 200
    refused(passkeys.approve(assertion), 404, 20404, "already used")


def test_concurrent_answers_to_one_challenge_approve_exactly_once(
    app: Flask, passkeys: Passkeys, device: SoftAuthenticator
) -> None:
    passkeys.register(device)
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    assertion = device.get(challenge["options"])
    statuses: list[int] = []

    def answer() -> None:
        client = Passkeys(app.test_client(), passkeys.headers, challenge["service_sid"])
        statuses.append(client.approve(assertion).status_code)

    threads = [threading.Thread(target=answer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [404] * 7


def test_an_old_assertion_against_a_fresh_challenge_is_refused(
    passkeys: Passkeys, device: SoftAuthenticator
) -> None:
    """Its clientDataJSON holds the old challenge: no pending ceremony has it."""
    passkeys.register(device)
    first = passkeys.challenge(identity=IDENTITY).json
    assert first is not None
    old = device.get(first["options"])
    assert passkeys.approve(old).status_code == 200
    passkeys.challenge(identity=IDENTITY)
    refused(passkeys.approve(old), 404, 20404)


def test_ceremonies_expire_by_the_clock(
    passkeys: Passkeys, device: SoftAuthenticator, clock: FixedClock
) -> None:
    """Past the options' timeout a registration or a sign-in is 403/60323, and gone after."""
    created = passkeys.create_factor().json
    assert created is not None
    clock.advance(CEREMONY_TIMEOUT_MS / 1000)
    attestation = device.create(created["options"])
    refused(passkeys.verify(attestation), 403, 60323, "expired")
    refused(passkeys.verify(attestation), 404, 20404)

    passkeys.register(device)
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    clock.advance(CEREMONY_TIMEOUT_MS / 1000 - 1)
    in_time = passkeys.challenge(identity=IDENTITY).json
    assert in_time is not None
    clock.advance(1)
    refused(passkeys.approve(device.get(challenge["options"])), 403, 60323)
    assert passkeys.approve(device.get(in_time["options"])).status_code == 200


def test_an_origin_not_configured_is_refused(passkeys: Passkeys) -> None:
    """The check is named; the response's origin is not echoed (nor the configured ones)."""
    created = passkeys.create_factor().json
    assert created is not None
    phishing = SoftAuthenticator("https://login.acme-security.test")
    response = passkeys.verify(phishing.create(created["options"]))
    refused(response, 400, 60306, "the origin is not one of the relying party's origins")
    assert "acme-security" not in response.get_data(as_text=True)  # never echoed


def test_an_assertion_for_another_rp_id_is_refused(
    passkeys: Passkeys, device: SoftAuthenticator
) -> None:
    passkeys.register(device)
    device.credentials[-1].rp_id = "login.acme.test"  # signs another RP id's hash
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    refused(passkeys.approve(device.get(challenge["options"])), 400, 60306, "RP ID")


def test_a_lower_sign_count_is_refused_and_the_challenge_denied(
    api: Api, passkeys: Passkeys, device: SoftAuthenticator
) -> None:
    """A cloned authenticator: the counter went back. The stored count is unchanged."""
    passkeys.register(device)
    for _ in range(3):
        challenge = passkeys.challenge(identity=IDENTITY).json
        assert challenge is not None
        assert passkeys.approve(device.get(challenge["options"])).status_code == 200
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    clone = device.get(challenge["options"], sign_count=2)
    refused(passkeys.approve(clone), 400, 60306, "sign counter")
    fetched = api.get(
        f"/v2/Services/{challenge['service_sid']}/Entities/{IDENTITY}/Challenges/{challenge['sid']}"
    )
    assert fetched.json is not None
    assert fetched.json["status"] == "denied"
    again = passkeys.challenge(identity=IDENTITY).json
    assert again is not None
    assert passkeys.approve(device.get(again["options"], sign_count=5)).status_code == 200


def test_user_verification_is_enforced_when_required(passkeys: Passkeys) -> None:
    unverified = SoftAuthenticator(ORIGIN, user_verified=False)
    created = passkeys.create_factor(config={"user_verification": "required"}).json
    assert created is not None
    assert created["options"]["publicKey"]["authenticatorSelection"]["userVerification"] == (
        "required"
    )
    refused(passkeys.verify(unverified.create(created["options"])), 400, 60306, "verif")


def test_a_service_without_a_relying_party_names_the_setting(api: Api) -> None:
    bare = Passkeys(api.client, api.headers, api.create_service())
    refused(bare.create_factor(), 400, 60306, "Passkeys.RelyingParty.Id")
    refused(bare.challenge(), 400, 60306, "Passkeys.RelyingParty.Id")
    with_id = Passkeys(
        api.client, api.headers, api.create_service(**{"Passkeys.RelyingParty.Id": "acme.test"})
    )
    refused(with_id.create_factor(), 400, 60306, "Passkeys.RelyingParty.Origins")


def test_a_challenge_for_an_identity_without_passkeys_is_refused(passkeys: Passkeys) -> None:
    refused(passkeys.challenge(identity=IDENTITY), 400, 60306, "identity")
    passkeys.create_factor()  # unverified: not usable for a sign-in
    refused(passkeys.challenge(identity=IDENTITY), 400, 60306, "identity")


MALFORMED: list[Any] = [
    [],
    "x",
    None,
    {"response": None},
    {"response": {"clientDataJSON": "!!!"}},
    {"id": 1, "rawId": {}, "response": {"clientDataJSON": [1]}},
    {"id": "a", "rawId": "a", "response": {"clientDataJSON": b64url(b"{}")}},
    {"id": "a", "rawId": "a", "response": {"attestationObject": "a", "clientDataJSON": "e30"}},
    {"id": "a" * 20_000, "rawId": "a", "response": {}},
    {"id": "\ud800", "rawId": "a", "response": {}},
    # clientDataJSON nested deeper than Python's parser recurses (was a 500 RecursionError)
    *(
        {
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
        for raw in (b"[" * 5000, b'{"challenge":' + b"[" * 5000 + b"]" * 5000 + b"}")
    ),
]


MALFORMED_CHALLENGES: list[Any] = [
    [],
    "x",
    {"identity": 7},
    {"identity": "a/b/../c-0123456789"},
    {"identity": IDENTITY, "factor_sid": "YF1"},
    {"factor_sid": "YF" + "0" * 32},
    {"identity": ["a"]},
]


@pytest.mark.parametrize(
    ("path", "body"),
    [(path, body) for path in ("VerifyFactor", "ApproveChallenge", "Factors") for body in MALFORMED]
    + [("Challenges", body) for body in MALFORMED_CHALLENGES],
)
def test_malformed_bodies_are_twilio_shaped_400s(passkeys: Passkeys, path: str, body: Any) -> None:
    """Never a 500 nor a stack trace: 400 with 60306 (or 60200 for a non-object body)."""
    response = passkeys.post(path, body)
    assert response.status_code == 400, response.json
    assert response.json is not None
    assert response.json["code"] in (60200, 60306)
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "body", ["[" * 30_000 + "]" * 30_000, '{"a":' * 10_000 + "1" + "}" * 10_000]
)
def test_json_nested_beyond_the_parsers_stack_is_a_400(passkeys: Passkeys, body: str) -> None:
    """A 64 KiB body can nest deeper than Python's JSON parser recurses: 60200, not a 500."""
    response = passkeys.client.post(
        f"{passkeys.base}/Challenges",
        data=body,
        headers={**passkeys.headers, "Content-Type": "application/json"},
    )
    refused(response, 400, 60200, "body")


def test_a_form_encoded_body_is_refused(passkeys: Passkeys) -> None:
    response = passkeys.client.post(
        f"{passkeys.base}/Factors", data={"friendly_name": "x"}, headers=passkeys.headers
    )
    refused(response, 400, 60306, "JSON")


def test_a_mangled_attestation_of_a_real_ceremony_is_refused_and_burns_it(
    passkeys: Passkeys, device: SoftAuthenticator
) -> None:
    created = passkeys.create_factor().json
    assert created is not None
    attestation = device.create(created["options"])
    intact = json.loads(json.dumps(attestation))
    attestation["response"]["attestationObject"] = b64url(b"\xa1\x00\x00")
    refused(passkeys.verify(attestation), 400, 60306, "attestationObject was malformed")
    refused(passkeys.verify(intact), 404, 20404)  # the ceremony was used by the refused one


def test_support_may_not_enrol_or_answer(
    api: Api, app: Flask, service: str, device: SoftAuthenticator
) -> None:
    """Support staff never create factors nor answer challenges (403/20003)."""
    key = create_key(api, role="support", name="helpdesk")
    staff = Passkeys(app.test_client(), basic(key["sid"], key["secret"]), service)
    refused(staff.create_factor(), 403, 20003)
    refused(staff.challenge(identity=IDENTITY), 403, 20003)
    backend_key = create_key(api, role="backend", name="app")
    backend = Passkeys(app.test_client(), basic(backend_key["sid"], backend_key["secret"]), service)
    backend.register(device)


def test_every_call_is_audited_with_the_sids_it_touched(
    passkeys: Passkeys, device: SoftAuthenticator, redis_client: redis.Redis, service: str
) -> None:
    factor = passkeys.register(device)
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    assertion = device.get(challenge["options"])
    passkeys.approve(assertion)
    passkeys.approve(assertion)  # a replay: refused, audited too
    entity, factor_sid = factor["entity_sid"], factor["sid"]
    # A registration in the audit log, a sign-in in the MFA activity log.
    assert mfa_entries(redis_client, AUDIT) == [
        ("mfa.factor.create", f"{service}/{entity}/{factor_sid}", "ok"),
        ("mfa.factor.verify", f"{service}/{entity}/{factor_sid}", "ok"),
    ]
    assert mfa_entries(redis_client, ACTIVITY) == [
        ("mfa.challenge.create", f"{service}/{entity}/{challenge['sid']}", "ok"),
        (
            "mfa.challenge.answer",
            f"{service}/{entity}/{factor_sid}/{challenge['sid']}",
            "ok",
        ),
        ("mfa.challenge.answer", service, "20404"),
    ]
    log = json.dumps(stored(redis_client)) + json.dumps(stored(redis_client, ACTIVITY))
    assert device.credentials[-1].credential_id.hex() not in log
    assert challenge["options"]["publicKey"]["challenge"] not in log


def test_a_refused_answer_names_the_challenge_it_denied(
    passkeys: Passkeys, device: SoftAuthenticator, redis_client: redis.Redis, service: str
) -> None:
    """Finding F9: the request names no sid, yet the refusal denies a challenge: its entry
    names that challenge (`VA…/YE…/YC…`), not the service alone."""
    factor = passkeys.register(device)
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    assertion = device.get(challenge["options"])
    assertion["response"]["signature"] = b64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    assert passkeys.approve(assertion).status_code == 400
    fetched = passkeys.client.get(
        f"/v2/Services/{service}/Entities/{IDENTITY}/Challenges/{challenge['sid']}",
        headers=passkeys.headers,
    ).json
    assert fetched is not None
    assert fetched["status"] == "denied"
    action, target, outcome = mfa_entries(redis_client, ACTIVITY)[-1]
    assert (action, outcome) == ("mfa.challenge.answer", "60306")
    assert target.startswith(f"{service}/{factor['entity_sid']}/")
    assert target.endswith(f"/{challenge['sid']}")


def test_concurrent_sign_ins_with_one_counter_value_approve_exactly_once(
    app: Flask, passkeys: Passkeys, device: SoftAuthenticator
) -> None:
    """Two challenges answered at once with the same sign count (a clone racing the real
    authenticator): the count is compared and set in one step, so one is refused."""
    passkeys.register(device)
    assertions = []
    for _ in range(6):
        challenge = passkeys.challenge(identity=IDENTITY).json
        assert challenge is not None
        assertions.append(device.get(challenge["options"], sign_count=7))
    statuses: list[int] = []

    def answer(assertion: dict[str, Any]) -> None:
        client = Passkeys(app.test_client(), passkeys.headers, "")
        client.base = passkeys.base
        statuses.append(client.approve(assertion).status_code)

    threads = [threading.Thread(target=answer, args=(a,)) for a in assertions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [400] * 5


def test_passkey_factors_are_listed_and_deleted_with_the_entitys_factors(
    api: Api, passkeys: Passkeys, device: SoftAuthenticator, service: str
) -> None:
    """Through /Entities/{Identity}/Factors: type passkeys, its config, never the key."""
    factor = passkeys.register(device)
    listed = api.get(f"/v2/Services/{service}/Entities/{IDENTITY}/Factors").json
    assert listed is not None
    [shown] = listed["factors"]
    assert (shown["sid"], shown["factor_type"], shown["status"]) == (
        factor["sid"],
        "passkeys",
        "verified",
    )
    assert shown["config"] == factor["config"]
    assert "public_key" not in json.dumps(shown)
    deleted = api.client.delete(
        f"/v2/Services/{service}/Entities/{IDENTITY}/Factors/{factor['sid']}", headers=api.headers
    )
    assert deleted.status_code == 204
    challenge = passkeys.challenge()
    assert challenge.json is not None
    refused(passkeys.approve(device.get(challenge.json["options"])), 400, 60306, "not registered")


def test_an_assertion_posted_to_verify_factor_leaves_the_sign_in_pending(
    passkeys: Passkeys, device: SoftAuthenticator
) -> None:
    """A ceremony answers only its own route: the sign-in can still be approved."""
    passkeys.register(device)
    challenge = passkeys.challenge(identity=IDENTITY).json
    assert challenge is not None
    assertion = device.get(challenge["options"])
    assert passkeys.verify(assertion).status_code == 400  # no attestationObject
    assertion["response"]["attestationObject"] = assertion["response"]["authenticatorData"]
    refused(passkeys.verify(assertion), 404, 20404)
    assert passkeys.approve(assertion).status_code == 200


def test_deleting_the_service_deletes_its_passkey_look_ups(
    api: Api, passkeys: Passkeys, device: SoftAuthenticator, service: str, redis_client: redis.Redis
) -> None:
    passkeys.register(device)
    assert redis_client.keys(f"it:mfa:{{mfa:{service}}}:pk:credentials")
    assert api.client.delete(f"/v2/Services/{service}", headers=api.headers).status_code == 204
    assert redis_client.keys(f"it:mfa:*{service}*") == []


def test_passkeys_work_on_the_embedded_store(clock: FixedClock) -> None:
    """No VERIFY_REDIS_URL: the same passkey scripts on fakeredis, register to sign-in,
    a replay refused."""
    settings = Settings.from_env({})
    app = create_app(settings, clock=clock)
    embedded = Api(app.test_client())
    embedded.headers = basic(settings.account_sid, settings.auth_token)
    passkeys = Passkeys(
        embedded.client, embedded.headers, embedded.create_service(**PASSKEY_SETTINGS)
    )
    device = SoftAuthenticator(ORIGIN)
    passkeys.register(device)
    challenge = passkeys.challenge().json
    assert challenge is not None
    assertion = device.get(challenge["options"])
    assert passkeys.approve(assertion).status_code == 200
    refused(passkeys.approve(assertion), 404, 20404)

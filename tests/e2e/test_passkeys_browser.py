"""Passkeys end to end in Debian's Chromium (`/usr/bin/chromium`, never a downloaded browser)
with the DevTools virtual authenticator, and the official twilio SDK (9.13) as the relying
party's backend: register → verify → sign in, and the refusals (an origin not configured,
a replayed assertion, a counter that went back, user verification required but not done,
a ceremony past its timeout by the server's clock).

The page is an application's sign-in page at `http://localhost:<free port>` (a secure
context), answered by Playwright (tests/support/passkey_browser.py). Set
`PASSKEY_SCREENSHOTS_DIR=docs/screenshots` to refresh the screenshot docs/mfa.md shows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.verify.v2.service.approve_challenge import ApproveChallengeList
from twilio.rest.verify.v2.service.new_challenge import NewChallengeList
from twilio.rest.verify.v2.service.new_factor import NewFactorList
from twilio.rest.verify.v2.service.new_verify_factor import NewVerifyFactorList

from tests.e2e.conftest import CHROMIUM
from tests.support.fakes import FixedClock
from tests.support.flask_sdk_json import sdk_client
from tests.support.passkey_browser import PasskeyPage, open_passkey_page
from tests.support.processes import free_port
from verify_service.domain.mfa.passkey_ceremonies import CEREMONY_TIMEOUT_MS

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

IDENTITY = "ada-lovelace-0001"
ORIGIN = f"http://localhost:{free_port()}"


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    created = browser.new_context(viewport={"width": 900, "height": 640})
    yield created
    created.close()


@pytest.fixture
def page(context: Any) -> PasskeyPage:
    return open_passkey_page(context, ORIGIN)


def new_service(sdk: Client, **settings: Any) -> Any:
    """A service whose relying party is this page's origin (Passkeys.* settings)."""
    return sdk.verify.v2.services.create(
        friendly_name="Acme",
        passkeys_relying_party_id="localhost",
        passkeys_relying_party_name="Acme",
        passkeys_relying_party_origins=ORIGIN,
        **settings,
    )


def create_factor(sdk: Client, service_sid: str, **config: Any) -> Any:
    request = NewFactorList.CreateNewPasskeysFactorRequest(
        {"friendly_name": "Ada's laptop", "identity": IDENTITY, "config": config or None}
    )
    return sdk.verify.v2.services(service_sid).new_factors.create(request)


def verify_factor(sdk: Client, service_sid: str, credential: dict[str, Any]) -> Any:
    request = NewVerifyFactorList.VerifyPasskeysFactorRequest(credential)
    return sdk.verify.v2.services(service_sid).new_verify_factors.update(request)


def create_challenge(sdk: Client, service_sid: str, identity: str | None = IDENTITY) -> Any:
    request = NewChallengeList.CreatePasskeysChallengeRequest({"identity": identity})
    return sdk.verify.v2.services(service_sid).new_challenge().create(request)


def approve(sdk: Client, service_sid: str, credential: dict[str, Any]) -> Any:
    request = ApproveChallengeList.ApprovePasskeysChallengeRequest(credential)
    return sdk.verify.v2.services(service_sid).approve_challenge.update(request)


def created(result: dict[str, Any]) -> dict[str, Any]:
    """The credential the browser made or used (the test fails with the browser's error)."""
    assert "credential" in result, result
    credential: dict[str, Any] = result["credential"]
    return credential


def register(sdk: Client, service_sid: str, page: PasskeyPage) -> Any:
    factor = create_factor(sdk, service_sid)
    verified = verify_factor(sdk, service_sid, created(page.register(factor.options)))
    assert verified.status == "verified"
    return verified


def refusal(call: Any) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as refused:
        call()
    return refused.value


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PASSKEY_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_register_verify_and_sign_in_with_a_passkey(
    twilio: Client, page: PasskeyPage, shots: Path
) -> None:
    """The whole flow through the SDK and Chromium, by identity and discoverable; the
    factor is listed with the entity's factors, verified, and its last use recorded."""
    service = new_service(twilio)
    factor = create_factor(twilio, service.sid)
    assert (factor.status, factor.factor_type) == ("unverified", "passkeys")
    assert factor.options["publicKey"]["rp"] == {"name": "Acme", "id": "localhost"}

    credential = created(page.register(factor.options))
    verified = verify_factor(twilio, service.sid, credential)
    assert (verified.sid, verified.status) == (factor.sid, "verified")
    page.note(f"Backend: factor {verified.sid} verified", "ok")

    challenge = create_challenge(twilio, service.sid)
    assert challenge.status == "pending"
    assert [c["id"] for c in challenge.options["publicKey"]["allowCredentials"]] == [
        credential["id"]
    ]
    approved = approve(twilio, service.sid, created(page.sign_in(challenge.options)))
    assert (approved.sid, approved.status, approved.factor_sid) == (
        challenge.sid,
        "approved",
        factor.sid,
    )
    page.note(f"Backend: challenge {approved.sid} approved", "ok")

    discoverable = create_challenge(twilio, service.sid, identity=None)
    assert discoverable.options["publicKey"]["allowCredentials"] == []
    label = "Signed in with a passkey, no user name typed (discoverable)"
    signed_in = approve(twilio, service.sid, created(page.sign_in(discoverable.options, label)))
    assert (signed_in.status, signed_in.identity) == ("approved", IDENTITY)
    page.note(f"Backend: {signed_in.identity} signed in ({signed_in.sid})", "ok")

    [listed] = twilio.verify.v2.services(service.sid).entities(IDENTITY).factors.list()
    assert (listed.sid, listed.factor_type, listed.status) == (factor.sid, "passkeys", "verified")
    assert listed.config["relying_party"]["origins"] == [ORIGIN]
    assert listed.metadata["date_last_approved"]
    page.note(
        f"Backend, the identity's factors: “{listed.friendly_name}”, {listed.factor_type},"
        f" {listed.status}, origins {', '.join(listed.config['relying_party']['origins'])},"
        f" last approved {listed.metadata['date_last_approved']}",
        "ok",
    )
    page.page.screenshot(path=str(shots / "passkeys-sign-in.png"))


def test_a_credential_made_on_an_origin_not_configured_is_refused(
    twilio: Client, context: Any
) -> None:
    """A look-alike page on another origin (another port here) makes a credential with the
    real options: VerifyFactor refuses it (clientDataJSON's origin), 400/60306."""
    service = new_service(twilio)
    factor = create_factor(twilio, service.sid)
    elsewhere = open_passkey_page(context, f"http://localhost:{free_port()}")
    credential = created(elsewhere.register(factor.options))
    refused = refusal(lambda: verify_factor(twilio, service.sid, credential))
    assert (refused.status, refused.code) == (400, 60306)
    assert "origin" in refused.msg


def test_a_replayed_assertion_is_refused(twilio: Client, page: PasskeyPage) -> None:
    """The same sign-in posted twice: the second finds no pending challenge, 404/20404;
    an old assertion against a fresh challenge likewise."""
    service = new_service(twilio)
    register(twilio, service.sid, page)
    challenge = create_challenge(twilio, service.sid)
    assertion = created(page.sign_in(challenge.options))
    assert approve(twilio, service.sid, assertion).status == "approved"
    replayed = refusal(lambda: approve(twilio, service.sid, assertion))
    assert (replayed.status, replayed.code) == (404, 20404)
    create_challenge(twilio, service.sid)
    again = refusal(lambda: approve(twilio, service.sid, assertion))
    assert (again.status, again.code) == (404, 20404)


def test_a_sign_counter_that_went_back_is_refused(twilio: Client, page: PasskeyPage) -> None:
    """The authenticator's credential is put back with a lower signCount (what a cloned
    key would send): refused 400/60306 and the challenge reads denied."""
    service = new_service(twilio)
    register(twilio, service.sid, page)
    for _ in range(2):
        challenge = create_challenge(twilio, service.sid)
        approve(twilio, service.sid, created(page.sign_in(challenge.options)))
    [credential] = page.credentials()
    assert credential["signCount"] == 3
    page.replace_credential(credential, signCount=1)
    challenge = create_challenge(twilio, service.sid)
    cloned = created(page.sign_in(challenge.options))
    refused = refusal(lambda: approve(twilio, service.sid, cloned))
    assert (refused.status, refused.code) == (400, 60306)
    assert "sign counter" in refused.msg
    fetched = twilio.verify.v2.services(service.sid).entities(IDENTITY).challenges(challenge.sid)
    assert fetched.fetch().status == "denied"


def test_user_verification_required_is_enforced(twilio: Client, context: Any) -> None:
    """`user_verification: required` and an authenticator that cannot verify its user (a
    page that downgraded the option to get past the browser): 400/60306."""
    service = new_service(twilio, passkeys_user_verification="required")
    page = open_passkey_page(context, ORIGIN, user_verification=False)
    factor = create_factor(twilio, service.sid)
    public_key = factor.options["publicKey"]
    assert public_key["authenticatorSelection"]["userVerification"] == "required"
    as_sent = page.register(factor.options)
    assert "credential" not in as_sent  # Chromium itself refuses: the user was not verified
    downgraded = {
        "publicKey": {
            **public_key,
            "authenticatorSelection": {
                **public_key["authenticatorSelection"],
                "userVerification": "discouraged",
            },
        }
    }
    credential = created(page.register(downgraded))
    refused = refusal(lambda: verify_factor(twilio, service.sid, credential))
    assert (refused.status, refused.code) == (400, 60306)
    assert "verif" in refused.msg


def test_a_ceremony_past_its_timeout_is_refused_by_the_servers_clock(
    app: Flask, clock: FixedClock, page: PasskeyPage
) -> None:
    """The SDK on the in-process app, whose clock the test moves: a registration answered
    after the options' timeout is 403/60323, then gone (404/20404); one in time works."""
    sdk = sdk_client(app.test_client())
    service = new_service(sdk)
    late = create_factor(sdk, service.sid)
    clock.advance(CEREMONY_TIMEOUT_MS / 1000)
    credential = created(page.register(late.options))
    expired = refusal(lambda: verify_factor(sdk, service.sid, credential))
    assert (expired.status, expired.code) == (403, 60323)
    gone = refusal(lambda: verify_factor(sdk, service.sid, credential))
    assert (gone.status, gone.code) == (404, 20404)
    verified = register(sdk, service.sid, page)
    challenge = create_challenge(sdk, service.sid)
    clock.advance(CEREMONY_TIMEOUT_MS / 1000 - 1)
    approved = approve(sdk, service.sid, created(page.sign_in(challenge.options)))
    assert (approved.status, approved.factor_sid) == ("approved", verified.sid)

""" "I lost my phone" in a real browser: Playwright driving Debian's Chromium against the real
server under gunicorn. The application enrols TOTP factors through the official SDK; support
looks the identity up, sees the factors (never a secret), deletes one with a reason, and an
admin finds the delete in the audit log. Support keys cannot enrol or challenge.

Screenshots go to a temporary folder; `CONSOLE_SCREENSHOTS_DIR=docs/screenshots` refreshes
`console-factors.png` and `console-factors-phone.png`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from twilio.base.exceptions import TwilioRestException

from tests.e2e.conftest import CHROMIUM, server_env, twilio_client
from tests.e2e.test_console_browser import (
    ADMIN_PASSWORD,
    DESKTOP,
    SUPPORT_PASSWORD,
    api,
    cli,
    screenshot,
)
from tests.support.processes import ApiServer, RedisServer

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
pytest.importorskip("playwright.sync_api")

PREFIX = "cf"  # this server's keys, apart from the other end-to-end servers'
IDENTITY = "ff483d1f-f591-898a-9942-916050d2ca3f"
OTHER_IDENTITY = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def factors_env(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    outbox = tmp_path_factory.mktemp("factors-outbox") / "outbox.jsonl"
    return {
        **server_env(redis_server.url, outbox),
        "VERIFY_REDIS_KEY_PREFIX": PREFIX,
        "VERIFY_CONSOLE_SECURE_COOKIE": "false",  # http://127.0.0.1 (loopback only then)
    }


@pytest.fixture(scope="module")
def factors_server(
    factors_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    server = ApiServer(factors_env, workers=1)
    server.start(tmp_path_factory.mktemp("factors-logs") / "server.log")
    yield server
    server.stop()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def enrol(client: Any, service: str, identity: str, name: str, *, verify: bool) -> Any:
    """The application's enrolment through the SDK: a TOTP factor, verified with a code
    from the secret it returned once (a verification is the factor's first use)."""
    factor = (
        client.verify.v2.services(service)
        .entities(identity)
        .new_factors.create(friendly_name=name, factor_type="totp")
    )
    if verify:
        code = pyotp.TOTP(factor.binding["secret"]).now()
        verified = (
            client.verify.v2.services(service)
            .entities(identity)
            .factors(factor.sid)
            .update(auth_payload=code)
        )
        assert verified.status == "verified"
    return factor


def sign_in(page: Any, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    assert page.url == f"{base}/search"


def look_up(page: Any, base: str, service: str, identity: str) -> None:
    page.goto(f"{base}/factors")
    page.select_option("#service", service)
    page.fill("#identity", identity)
    page.click("#factors-search button[type=submit]")
    page.wait_for_selector("#factors")  # the answer's page, not the form's


def test_support_deletes_a_lost_phones_factor_in_the_browser(
    factors_server: ApiServer, factors_env: dict[str, str], browser: Any, shots: Path
) -> None:
    """Support signs in, looks the identity up, sees its factors (a verified one, one just
    created: no secret anywhere in the HTML), deletes the phone's with "Lost phone" after
    the confirmation page and sees it gone; the admin's audit page shows the delete and its
    reason; a forged form aimed at another service's factor changes nothing."""
    cli(factors_env, "user", "add", "sam", "--role", "support", "--password-stdin",
        password=SUPPORT_PASSWORD)  # fmt: skip
    cli(factors_env, "user", "add", "ada", "--role", "admin", "--password-stdin",
        password=ADMIN_PASSWORD)  # fmt: skip
    app = twilio_client(factors_server.url)
    service = app.verify.v2.services.create(friendly_name="Acme Bank").sid
    other_service = app.verify.v2.services.create(friendly_name="Other shop").sid
    phone = enrol(app, service, IDENTITY, "Jane's iPhone", verify=True)
    laptop = enrol(app, service, IDENTITY, "Work laptop (1Password)", verify=True)
    just_created = enrol(app, service, IDENTITY, "New phone", verify=False)
    theirs = enrol(app, other_service, OTHER_IDENTITY, "Someone else's", verify=True)
    secrets = [f.binding["secret"] for f in (phone, laptop, just_created, theirs)]
    uris = [f.binding["uri"] for f in (phone, laptop, just_created, theirs)]
    seen: list[str] = []

    page = browser.new_page(viewport=DESKTOP)
    base = f"{factors_server.url}/console"
    sign_in(page, base, "sam", SUPPORT_PASSWORD)
    page.click("text=MFA factors")
    assert page.url == f"{base}/factors"
    look_up(page, base, service, IDENTITY)
    assert page.url == f"{base}/factors"  # a POST: the identity is in no URL
    rows = page.locator("table.factors tbody tr")
    assert rows.count() == 3
    names = page.locator("table.factors td.factor-name").all_inner_texts()
    assert names == ["Jane's iPhone", "Work laptop (1Password)", "New phone"]
    statuses = page.locator("table.factors td[data-label=Status]").all_inner_texts()
    assert statuses == ["verified", "verified", "unverified"]
    assert set(page.locator("table.factors td[data-label=Type]").all_inner_texts()) == {"totp"}
    # A verification or a sign-in is a factor's use; the factor just created has none.
    last_used = page.locator("table.factors td[data-label='Last used']").all_inner_texts()
    assert [text.endswith(" UTC") for text in last_used] == [True, True, False]
    assert last_used[2] == "never"
    seen.append(page.content())
    screenshot(page, shots, "factors")

    # Delete the lost phone's factor: the confirmation page first.
    page.click(f"#factor-{phone.sid} button[type=submit]")
    page.wait_for_selector("#confirm-delete")
    assert page.locator("h1").inner_text() == "Delete this factor?"
    assert "Jane's iPhone" in page.locator(".facts").inner_text()
    seen.append(page.content())
    page.select_option("#delete-reason", "Lost phone")
    page.click("#delete-form button[type=submit]")
    assert f"The factor {phone.sid} was deleted." in page.locator(".notice").inner_text()
    assert page.locator(f"#factor-{phone.sid}").count() == 0
    assert page.locator("table.factors tbody tr").count() == 2
    seen.append(page.content())
    with pytest.raises(TwilioRestException) as gone:
        app.verify.v2.services(service).entities(IDENTITY).factors(phone.sid).fetch()
    assert gone.value.status == 404

    # A forged form: the laptop's delete form pointed at another service's factor.
    page.click(f"#factor-{laptop.sid} button[type=submit]")
    page.locator("#delete-form input[name=factor]").evaluate(
        "(input, sid) => { input.value = sid; }", theirs.sid
    )
    page.select_option("#delete-reason", "Suspected compromise")
    page.click("#delete-form button[type=submit]")
    assert "not one of this identity" in page.locator(".error").inner_text()
    kept = app.verify.v2.services(other_service).entities(OTHER_IDENTITY).factors(theirs.sid)
    assert kept.fetch().status == "verified"
    assert page.locator("table.factors tbody tr").count() == 2
    seen.append(page.content())

    # The admin's audit log shows the delete, its reason and target.
    page.click("header button.link")
    sign_in(page, base, "ada", ADMIN_PASSWORD)
    page.goto(f"{base}/audit")
    page.fill("#action", "mfa.factor.delete")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url(re.compile(r"action=mfa\.factor\.delete"))
    rows = page.locator("table.audit tbody tr")
    texts = rows.all_inner_texts()
    assert any("Lost phone" in text and phone.sid in text and "sam" in text for text in texts)
    seen.append(page.content())

    for html in seen:
        for value in secrets + uris:
            assert value not in html
        assert "otpauth" not in html


def test_a_support_key_cannot_enrol_or_challenge_through_the_sdk(
    factors_server: ApiServer,
) -> None:
    """A `support` API key through the official SDK: 403 (20003) for a new factor and for a
    challenge; it lists the factors (no binding), and deletes one only with a reason, which
    it sends with the SDK's generic request call (`delete()` sends no parameter)."""
    admin = twilio_client(factors_server.url)
    service = admin.verify.v2.services.create(friendly_name="Acme Bank").sid
    factor = enrol(admin, service, IDENTITY, "Phone", verify=True)
    key = api(factors_server, "/v2/Keys", FriendlyName="helpdesk", Role="support")
    support = twilio_client(factors_server.url, key["sid"], key["secret"])
    entity = support.verify.v2.services(service).entities(IDENTITY)

    with pytest.raises(TwilioRestException) as refused:
        entity.new_factors.create(friendly_name="attacker", factor_type="totp")
    assert (refused.value.status, refused.value.code) == (403, 20003)
    with pytest.raises(TwilioRestException) as refused:
        entity.challenges.create(factor_sid=factor.sid, auth_payload="123456")
    assert (refused.value.status, refused.value.code) == (403, 20003)

    listed = entity.factors.list()
    assert [item.sid for item in listed] == [factor.sid]
    assert all(getattr(item, "binding", None) is None for item in listed)

    with pytest.raises(TwilioRestException) as refused:
        entity.factors(factor.sid).delete()
    assert (refused.value.status, refused.value.code) == (400, 60306)
    assert "Reason" in refused.value.msg
    url = f"{factors_server.url}/v2/Services/{service}/Entities/{IDENTITY}/Factors/{factor.sid}"
    deleted = support.request("DELETE", url, params={"Reason": "Lost phone"})
    assert deleted.status_code == 204, deleted.text
    assert entity.factors.list() == []

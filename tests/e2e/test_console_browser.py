"""The support console in a real browser: Playwright driving Debian's Chromium
(`/usr/bin/chromium`, installed by `.ci/run`; no browser is ever downloaded) against the real
server under gunicorn, with console users created through the CLI.

Screenshots go to a temporary folder; set `CONSOLE_SCREENSHOTS_DIR=docs/screenshots` to
refresh the ones the README shows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import CHROMIUM, server_env
from tests.support.outbox import Outbox
from tests.support.processes import REPO, ApiServer, RedisServer

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
sync_api = pytest.importorskip("playwright.sync_api")

PREFIX = "cb"  # this server's keys, apart from the other end-to-end server's
TO = "+14155552671"
MASKED = "+1 415 •••• 671"
SUPPORT_PASSWORD = "support horse battery"
ADMIN_PASSWORD = "admin horse battery staple"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 375, "height": 667}
TIME_ZONE = "Europe/Berlin"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def console_env(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    outbox = tmp_path_factory.mktemp("console-outbox") / "outbox.jsonl"
    return {
        **server_env(redis_server.url, outbox),
        "VERIFY_REDIS_KEY_PREFIX": PREFIX,
        # http://127.0.0.1 in the test: the cookie cannot be Secure (loopback only then).
        "VERIFY_CONSOLE_SECURE_COOKIE": "false",
        # Times on every page in this zone (CET or CEST, never UTC).
        "VERIFY_CONSOLE_TIME_ZONE": TIME_ZONE,
    }


@pytest.fixture(scope="module")
def console_server(
    console_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    server = ApiServer(console_env, workers=1)
    server.start(tmp_path_factory.mktemp("console-logs") / "server.log")
    yield server
    server.stop()


def cli(env: dict[str, str], *args: str, password: str | None = None) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VERIFY_")}
    result = subprocess.run(
        # The installed entry point (`python -m verify_service.cli` stops reading cli.py at
        # its `__main__` block, before the later command groups).
        [str(Path(sys.executable).parent / "verify-service"), *args],
        env={**base, **env},
        input=password + "\n" if password else None,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def api(server: ApiServer, path: str, **data: str) -> dict[str, str]:
    response = requests.post(
        f"{server.url}{path}", data=data, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10
    )
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: object, folder: Path, name: str) -> None:
    """The page at desktop and at phone width."""
    for suffix, size in (("", DESKTOP), ("-phone", PHONE)):
        page.set_viewport_size(size)  # type: ignore[attr-defined]
        page.screenshot(path=str(folder / f"console-{name}{suffix}.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size(DESKTOP)  # type: ignore[attr-defined]


def test_support_console_in_the_browser(
    console_server: ApiServer,
    console_env: dict[str, str],
    redis_client: redis.Redis,
    browser: object,
    shots: Path,
) -> None:
    """Sign in (a wrong password keeps the name), search, read the timeline (sends n of 5,
    Berlin times), resend and see the send appear, cancel and see who canceled and why; an
    action with an expired session and one without its CSRF token are refused; the audit
    log filters by action; sign out."""
    cli(console_env, "user", "add", "sam", "--role", "support", "--password-stdin",
        password=SUPPORT_PASSWORD)  # fmt: skip
    cli(console_env, "user", "add", "ada", "--role", "admin", "--password-stdin",
        password=ADMIN_PASSWORD)  # fmt: skip
    service = api(console_server, "/v2/Services", FriendlyName="Acme Shop")["sid"]
    api(console_server, "/v2/Keys", FriendlyName="Checkout backend", Role="backend")
    api(console_server, "/v2/Keys", FriendlyName="Helpdesk tool", Role="support")
    first = api(console_server, f"/v2/Services/{service}/Verifications", To=TO, Channel="sms")
    seen: list[str] = []

    page = browser.new_page(viewport=DESKTOP)  # type: ignore[attr-defined]
    base = f"{console_server.url}/console"

    # Sign in.
    page.goto(f"{base}/search")
    assert page.url == f"{base}/login"
    page.fill("#name", "sam")
    page.fill("#password", "not the password!")
    page.click("button[type=submit]")
    assert "Wrong user name or password" in page.locator(".error").inner_text()
    assert page.input_value("#name") == "sam"  # kept: only the password is typed again
    assert page.input_value("#password") == ""
    screenshot(page, shots, "login")
    page.fill("#password", SUPPORT_PASSWORD)
    page.click("button[type=submit]")
    assert page.url == f"{base}/search"
    seen.append(page.content())

    def search() -> None:
        page.goto(f"{base}/search")
        page.select_option("#service", service)
        page.fill("#to", TO)
        page.click("form.row button[type=submit]")
        seen.append(page.content())

    # The timeline, once the worker has delivered the first send.
    deadline = time.monotonic() + 15
    while True:
        search()
        if page.locator(".sends .delivery-sent").count() == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert page.locator(".dest").inner_text() == MASKED
    assert page.locator(".current .badge").first.inner_text() == "pending"
    assert first["sid"] in page.content()
    assert page.locator(".sends tbody tr").count() == 1
    assert page.locator("#send-count").inner_text() == "1 of 5"
    assert re.search(r" CES?T$", page.locator(".facts dd").nth(1).inner_text())

    # Resend by voice call: the new send appears.
    page.select_option("#channel", "call")
    page.select_option("#resend-reason", "Customer asked for another channel")
    page.fill("#resend-details", "no signal for texts")
    page.click("#resend-form button[type=submit]")
    assert "A new code was sent by call" in page.locator(".notice").inner_text()
    assert page.locator(".sends tbody tr").count() == 2
    assert page.locator("#send-count").inner_text() == "2 of 5"
    seen.append(page.content())
    deadline = time.monotonic() + 15
    while page.locator(".sends .delivery-sent").count() < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
        search()
    screenshot(page, shots, "timeline")

    # A form without its CSRF token is refused.
    page.evaluate("document.querySelector('#cancel-form input[name=csrf_token]').remove()")
    page.select_option("#cancel-reason", "Customer asked to stop this verification")
    page.click("#cancel-form button[type=submit]")
    assert "did not come from the console" in page.locator(".error").inner_text()
    seen.append(page.content())

    # Cancel: the verification ends and is listed among the ended ones.
    search()
    page.select_option("#cancel-reason", "Customer asked to stop this verification")
    page.click("#cancel-form button[type=submit]")
    assert "The verification was canceled" in page.locator(".notice").inner_text()
    assert page.locator("#no-current").count() == 1
    assert page.locator(".history .status-canceled").count() == 1
    assert page.locator(".history .ended-by").inner_text() == (
        "Canceled by sam (support): Customer asked to stop this verification"
    )
    seen.append(page.content())
    screenshot(page, shots, "ended")

    # An action after the session expired is refused (Redis drops an idle session).
    second = api(console_server, f"/v2/Services/{service}/Verifications", To=TO, Channel="sms")
    search()
    for key in redis_client.scan_iter(f"{PREFIX}:{{staff}}:session:*"):
        redis_client.pexpire(key, 1)
    time.sleep(0.05)
    page.select_option("#resend-reason", "Customer did not receive the code")
    page.click("#resend-form button[type=submit]")
    assert "Your session has ended" in page.locator(".error").inner_text()
    page.goto(f"{base}/search")
    assert page.url == f"{base}/login"

    # An admin: the audit log and the API keys.
    page.fill("#name", "ada")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    search()
    page.goto(f"{base}/audit")
    audit_text = page.locator("table.audit").inner_text()
    assert "console.resend" in audit_text
    assert "console.cancel" in audit_text
    assert "Customer asked for another channel: no signal for texts" in audit_text
    seen.append(page.content())
    page.fill("#action", "console.cancel")
    page.click("#audit-filters button[type=submit]")
    actions = page.locator("table.audit td[data-label=Action]").all_inner_texts()
    assert actions
    assert set(actions) == {"console.cancel"}
    page.fill("#action", "")
    page.fill("#user", "sam")
    page.click("#audit-filters button[type=submit]")
    assert "user=sam" in page.url
    screenshot(page, shots, "audit")
    page.goto(f"{base}/keys")
    assert page.locator("table.keys tbody tr").count() == 2
    seen.append(page.content())
    screenshot(page, shots, "keys")

    # Sign out.
    page.click("header button.link")
    assert "You are signed out" in page.locator(".notice").inner_text()
    page.goto(f"{base}/search")
    assert page.url == f"{base}/login"

    # No page showed a code or the full number.
    outbox = Outbox(Path(console_env["VERIFY_CONSOLE_OUTBOX"]))
    codes = outbox.codes_for(first["sid"], at_least=2) + outbox.codes_for(second["sid"])
    assert len(codes) == 3
    for html in seen:
        assert TO not in html
        for code in codes:
            assert code not in html
    assert re.search(r"\+1 415 •••• 671", seen[1])


def test_the_service_selector_fits_a_phone_screen(
    console_server: ApiServer, console_env: dict[str, str], browser: object
) -> None:
    """At 375 px wide the service selector stays on screen (no sideways scrolling), on the
    search form and on a timeline, and the chosen service's name and sid can be read."""
    cli(console_env, "user", "add", "lee", "--role", "support", "--password-stdin",
        password=SUPPORT_PASSWORD)  # fmt: skip
    name = "Acme Shop Europe customer desk"  # the longest name a service may have
    service = api(console_server, "/v2/Services", FriendlyName=name)["sid"]
    api(console_server, f"/v2/Services/{service}/Verifications", To=TO, Channel="sms")
    page = browser.new_page(viewport=SMALL_PHONE)  # type: ignore[attr-defined]
    base = f"{console_server.url}/console"
    page.goto(f"{base}/login")
    page.fill("#name", "lee")
    page.fill("#password", SUPPORT_PASSWORD)
    page.click("button[type=submit]")
    assert page.url == f"{base}/search"
    page.select_option("#service", service)
    assert_fits_the_screen(page, service)
    page.fill("#to", TO)
    page.click("form.row button[type=submit]")
    assert page.locator(".dest").inner_text() == MASKED
    assert_fits_the_screen(page, service)


def assert_fits_the_screen(page: object, service: str) -> None:
    width = SMALL_PHONE["width"]
    assert page.input_value("#service") == service  # type: ignore[attr-defined]
    box = page.locator("#service").bounding_box()  # type: ignore[attr-defined]
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # type: ignore[attr-defined]
    # Whatever the select shows of the chosen service is not cut off by its edge.
    shown = page.evaluate(  # type: ignore[attr-defined]
        """() => {
            const select = document.querySelector('#service');
            const style = getComputedStyle(select);
            const context = document.createElement('canvas').getContext('2d');
            context.font = style.font;
            const text = select.options[select.selectedIndex].text;
            const room = select.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight);
            return {text, fits: context.measureText(text).width <= room};
        }"""
    )
    assert shown["fits"], shown["text"]

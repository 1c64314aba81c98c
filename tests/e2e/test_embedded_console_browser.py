"""A newcomer's first look at the console: `verify-service serve` on the embedded store (what
`make run` runs) prints a console user and password; Debian's Chromium, driven by Playwright
(`/usr/bin/chromium`; no browser is ever downloaded), signs in with them over
http://127.0.0.1, finds the verification the printed API credentials started, and reaches
the admin pages."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import CHROMIUM
from tests.support.embedded import Banner, EmbeddedServer, clean_env
from tests.support.processes import free_port

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
sync_api = pytest.importorskip("playwright.sync_api")

TO = "+14155552671"
MASKED = "+1 415 •••• 671"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    folder = tmp_path_factory.mktemp("embedded-browser")
    port = free_port()
    server = EmbeddedServer(
        [str(Path(sys.executable).parent / "verify-service"), "serve", "--port", str(port)],
        port,
        folder,
        clean_env(VERIFY_CONSOLE_OUTBOX=str(folder / "outbox.jsonl")),
    )
    server.start()
    yield server
    server.stop()


def start_verification(server: EmbeddedServer, banner: Banner) -> str:
    response = requests.post(
        f"{server.url}/v2/Services/{banner.service_sid}/Verifications",
        data={"To": TO, "Channel": "sms"},
        auth=(banner.account_sid, banner.auth_token),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    sid: str = response.json()["sid"]
    return sid


def test_a_newcomer_signs_in_to_the_embedded_console_with_the_printed_password(
    embedded: EmbeddedServer, browser: object
) -> None:
    """The banner's console address, user and password open the console in a browser; the
    Demo service's verification shows, masked; the admin's audit page lists the sign-in."""
    banner = embedded.banner
    assert banner is not None
    sid = start_verification(embedded, banner)
    page = browser.new_page()  # type: ignore[attr-defined]

    page.goto(banner.console_url)
    assert page.url == f"{embedded.url}/console/login"
    page.fill("#name", banner.console_user)
    page.fill("#password", banner.console_password)
    page.click("button[type=submit]")
    assert page.url == f"{embedded.url}/console/search"

    page.select_option("#service", banner.service_sid)
    page.fill("#to", TO)
    page.click("form.row button[type=submit]")
    assert page.locator(".dest").inner_text() == MASKED
    assert sid in page.content()
    assert TO not in page.content()

    page.goto(f"{embedded.url}/console/audit")
    audit_text = page.locator("table.audit").inner_text()
    assert "console.login" in audit_text
    assert banner.console_user in audit_text

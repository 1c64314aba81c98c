"""The built-in e-mail in Debian's Chromium (`/usr/bin/chromium`, never a downloaded browser):
the HTML a start renders, laid out at a desktop and a phone width, in English and Arabic
(docs/messages.md, "Branded e-mail").

Screenshots go to a temporary folder; `EMAIL_SCREENSHOTS_DIR=docs/screenshots` refreshes the
ones docs/messages.md shows (`email-code.png`, `email-code-mobile.png`, `email-code-ar.png`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM
from verify_service.domain.messages.messages import MessageContent, render
from verify_service.domain.models import Channel

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

DESKTOP = {"width": 1024, "height": 640}
PHONE = {"width": 375, "height": 667}
CODE = "482913"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("EMAIL_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_email(browser: Any, locale: str, viewport: dict[str, int], **content: Any) -> Any:
    """A page showing the e-mail's HTML as a mail reader's web view would: no network."""
    message = render(
        Channel.EMAIL,
        MessageContent(content.pop("name", "Acme Bank"), **content),
        CODE,
        locale,
    )
    assert message.html is not None
    context = browser.new_context(viewport=viewport, java_script_enabled=True)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.set_content(message.html, wait_until="load")
    page.requested = requested
    return page


def layout(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
          const code = document.querySelector('code');
          const box = code.getBoundingClientRect();
          const card = document.querySelector('table table').getBoundingClientRect();
          return {
            scrollWidth: document.documentElement.scrollWidth,
            innerWidth: window.innerWidth,
            code: code.textContent,
            codeLeft: box.left, codeRight: box.right, codeTop: box.top, codeHeight: box.height,
            codeFontSize: parseFloat(getComputedStyle(code).fontSize),
            codeDirection: getComputedStyle(code).direction,
            cardWidth: card.width, cardLeft: card.left, cardRight: card.right,
            direction: getComputedStyle(document.body).direction,
            preheaderShown: document.querySelector('body > div').offsetHeight > 0,
          };
        }"""
    )


def test_desktop_shows_the_code_in_a_centred_card_of_at_most_600px(
    browser: Any, shots: Path
) -> None:
    page = open_email(browser, "en", DESKTOP, amount="€39.99", payee="Acme Shop")
    facts = layout(page)
    assert facts["code"] == CODE
    assert facts["codeFontSize"] >= 28
    assert 0 < facts["codeTop"] < DESKTOP["height"]  # visible without scrolling
    assert facts["cardWidth"] <= 602  # 600 px and its border
    assert abs(facts["cardLeft"] - (DESKTOP["width"] - facts["cardRight"])) <= 1  # centred
    assert not facts["preheaderShown"]
    assert facts["scrollWidth"] <= facts["innerWidth"]
    assert page.requested == []  # nothing fetched
    page.screenshot(path=str(shots / "email-code.png"), full_page=True)


def test_a_phone_shows_the_code_without_scrolling_sideways(browser: Any, shots: Path) -> None:
    """375 px: the card shrinks to the screen, the code stays whole on one line."""
    page = open_email(browser, "en", PHONE, name="Acme Bank International")
    facts = layout(page)
    assert facts["scrollWidth"] <= PHONE["width"]
    assert 0 <= facts["codeLeft"] < facts["codeRight"] <= PHONE["width"]
    assert facts["codeHeight"] < 2 * facts["codeFontSize"] + 30  # one line
    assert facts["cardWidth"] <= PHONE["width"]
    page.screenshot(path=str(shots / "email-code-mobile.png"), full_page=True)


def test_ten_characters_fit_a_small_phone(browser: Any) -> None:
    """The longest code (10 characters) at 320 px: no sideways scrolling."""
    message = render(Channel.EMAIL, MessageContent("Acme"), "A1B2C3D4E5", "en")
    assert message.html is not None
    page = browser.new_page(viewport={"width": 320, "height": 568})
    page.set_content(message.html)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 320


def test_arabic_reads_right_to_left_and_the_code_left_to_right(browser: Any, shots: Path) -> None:
    page = open_email(browser, "ar", PHONE, name="بنك أكمي")
    facts = layout(page)
    assert facts["direction"] == "rtl"
    assert facts["codeDirection"] == "ltr"
    assert facts["code"] == CODE
    assert facts["scrollWidth"] <= PHONE["width"]
    page.screenshot(path=str(shots / "email-code-ar.png"), full_page=True)


def test_a_dark_scheme_gets_a_dark_card_with_light_text(browser: Any) -> None:
    """Where `prefers-color-scheme` is read: no light card glaring in a dark inbox."""
    message = render(Channel.EMAIL, MessageContent("Acme"), CODE, "en")
    assert message.html is not None
    page = browser.new_page(viewport=DESKTOP, color_scheme="dark")
    page.set_content(message.html)
    colours = page.evaluate(
        """() => ({
          card: getComputedStyle(document.querySelector('.vs-card')).backgroundColor,
          code: getComputedStyle(document.querySelector('code')).color,
          rule: getComputedStyle(document.querySelector('.vs-muted')).borderTopColor,
        })"""
    )
    assert colours == {
        "card": "rgb(27, 31, 36)",
        "code": "rgb(255, 255, 255)",
        "rule": "rgb(45, 51, 59)",
    }

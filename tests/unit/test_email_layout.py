"""The built-in e-mail's HTML, parsed as a browser parses it (html5lib, the WHATWG
algorithm): one code element with the code, the locale's language and direction, nothing
fetched from elsewhere, and every value shown as text (docs/messages.md, "Branded e-mail").
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element

import html5lib
import pytest

from verify_service.domain.messages.catalogues import load_catalogues
from verify_service.domain.messages.email_layout import CodeEmail, code_email_html, document
from verify_service.domain.messages.messages import SHIPPED_LOCALES, MessageContent, render
from verify_service.domain.models import Channel
from verify_service.settings import ConfigError, Settings

NS = "{http://www.w3.org/1999/xhtml}"
ATTACK = "<img src=x onerror=alert(1)>"


def parse(markup: str) -> Element:
    tree: Element = html5lib.parse(markup, treebuilder="etree", namespaceHTMLElements=True)
    return tree


def email(locale: str = "en", name: str = "Acme", code: str = "482913", **kw: Any) -> Element:
    message = render(Channel.EMAIL, MessageContent(name, **kw), code, locale)
    assert message.html is not None
    return parse(message.html)


def elements(tree: Element, tag: str) -> list[Element]:
    return list(tree.iter(f"{NS}{tag}"))


def text_of(element: Element) -> str:
    return "".join(element.itertext())


def test_one_code_element_carries_the_code_left_to_right() -> None:
    """Large, monospaced, spaced out; `dir=ltr` so Arabic mail shows 1234 as 1234."""
    tree = email(code="482913")
    (code,) = elements(tree, "code")
    assert text_of(code) == "482913"
    assert code.get("dir") == "ltr"
    style = code.get("style") or ""
    assert "monospace" in style
    assert "letter-spacing" in style
    size = re.search(r"font-size:(\d+)px", style)
    assert size is not None
    assert int(size.group(1)) >= 28


@pytest.mark.parametrize("locale", sorted(SHIPPED_LOCALES))
def test_every_locale_declares_language_direction_and_its_own_words(locale: str) -> None:
    """`<html lang dir>` per locale; the footnote is the locale's translation."""
    tree = email(locale)
    root = tree if tree.tag == f"{NS}html" else elements(tree, "html")[0]
    style = load_catalogues()[locale].style
    assert root.get("lang") == locale.replace("_", "-")
    assert root.get("dir") == ("rtl" if style.right_to_left else "ltr")
    if locale not in ("en", "en-GB"):
        assert "If you didn’t ask for this code" not in text_of(root)


def test_the_frame_is_a_table_layout_at_most_600px_with_metas_and_a_hidden_preheader() -> None:
    tree = email()
    metas = {meta.get("name"): meta.get("content") for meta in elements(tree, "meta")}
    assert metas["color-scheme"] == "light dark"
    assert metas["viewport"] == "width=device-width, initial-scale=1"
    tables = elements(tree, "table")
    assert all(table.get("role") == "presentation" for table in tables)
    assert any("max-width:600px" in (table.get("style") or "") for table in tables)
    (body,) = elements(tree, "body")
    preheader = next(iter(body.iter(f"{NS}div")))
    assert "display:none" in (preheader.get("style") or "")
    assert text_of(preheader) == "Your Acme verification code is: 482913"
    assert elements(tree, "title")[0].text == "Your Acme verification code"


def test_nothing_is_fetched_from_elsewhere() -> None:
    """No script, link, image, frame, form or external URL: nothing to load, track or click."""
    tree = email(amount="€39.99", payee="Acme Shop")
    for tag in ("script", "link", "img", "iframe", "object", "embed", "form", "a", "base"):
        assert elements(tree, tag) == [], tag
    for element in tree.iter():
        for name, value in element.attrib.items():
            assert not name.startswith("on"), name
            assert "url(" not in value
            assert "http" not in value
            assert "//" not in value


def test_an_attackers_values_are_shown_as_text() -> None:
    """A name, amount and payee with markup: text in the right places, no element made.
    (The API refuses such names; the layout must not rely on it.)"""
    tree = email(name=ATTACK, amount="<b>1</b>", payee='"><script>x</script>')
    assert elements(tree, "img") == []
    assert elements(tree, "script") == []
    assert elements(tree, "b") == []
    (body,) = elements(tree, "body")
    shown = text_of(body)
    assert ATTACK in shown
    assert '"><script>x</script>' in shown
    assert ATTACK in (elements(tree, "title")[0].text or "")


def card(tree: Element) -> Element:
    """The visible message: the card, without the hidden preheader."""
    (found,) = (table for table in elements(tree, "table") if "vs-card" in table.get("class", ""))
    return found


def test_the_psd2_terms_are_their_own_sentence_under_the_code() -> None:
    """The code is shown once, in its box; the terms follow as a sentence of their own, not
    as the code sentence again (the plain-text part keeps the code sentence with the terms)."""
    tree = email(amount="€39.99", payee="Acme Shop")
    cells = [text_of(td) for td in elements(card(tree), "td")]
    assert "Amount: €39.99, payee: Acme Shop" in cells
    assert text_of(card(tree)).count("482913") == 1


@pytest.mark.parametrize("locale", sorted(SHIPPED_LOCALES))
def test_every_locale_shows_the_code_once_with_the_terms(locale: str) -> None:
    tree = email(locale, amount="EUR 39.99", payee="Acme Shop")
    shown = text_of(card(tree))
    assert shown.count("482913") == 1
    assert "EUR 39.99" in shown
    assert "Acme Shop" in shown


def test_the_frame_wraps_any_safe_body_and_escapes_its_own_values() -> None:
    """`document` is the wrapper for other bodies too (an operator template's HTML)."""
    markup = document(
        locale="ar",
        right_to_left=True,
        title="<t>",
        preheader="<p>",
        body_html="<tr><td>hello</td></tr>",
    )
    tree = parse(markup)
    root = elements(tree, "html")[0] if tree.tag != f"{NS}html" else tree
    assert (root.get("lang"), root.get("dir")) == ("ar", "rtl")
    assert [text_of(td) for td in elements(tree, "td")][-1] == "hello"
    assert elements(tree, "p") == []
    assert elements(tree, "t") == []


def test_the_code_email_renders_without_terms_or_footnote() -> None:
    markup = code_email_html(
        CodeEmail("en", False, "Subject", "Preview", "Acme", "Your code", "1234")
    )
    (code,) = elements(parse(markup), "code")
    assert text_of(code) == "1234"


# -- VERIFY_EMAIL_SENDERS -------------------------------------------------------------------

BASE_ENV = {
    "VERIFY_ACCOUNT_SID": "AC" + "1" * 32,
    "VERIFY_AUTH_TOKEN": "t" * 32,
    "VERIFY_SECRET_KEY": "s" * 48,
}


def test_email_senders_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {**BASE_ENV, "VERIFY_EMAIL_SENDERS": " Security@Acme.EXAMPLE , @Brand.example,"}
    )
    policy = settings.email_senders
    assert policy.allows("Security@acme.example")
    assert policy.allows("anyone@brand.example")
    assert not policy.allows("x@sub.brand.example")
    assert not Settings.from_env(BASE_ENV).email_senders.allows("Security@acme.example")


@pytest.mark.parametrize("value", ["not-an-address", "@", "@bad domain", "jäne@acme.example"])
def test_a_malformed_email_sender_stops_the_start_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="VERIFY_EMAIL_SENDERS"):
        Settings.from_env({**BASE_ENV, "VERIFY_EMAIL_SENDERS": value})


@pytest.mark.parametrize("value", ["*@brand.example", "%@brand.example", "*.brand.example"])
def test_a_wildcard_email_sender_is_refused_pointing_at_the_domain_form(value: str) -> None:
    """`*@brand.example` is a valid address (its local part is `*`): accepted, it would allow
    that one mailbox, not the domain the operator meant."""
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**BASE_ENV, "VERIFY_EMAIL_SENDERS": f"a@acme.example,{value}"})
    assert str(refused.value) == (
        "VERIFY_EMAIL_SENDERS: entry 2 is a wildcard: write @brand.example for a whole domain"
    )

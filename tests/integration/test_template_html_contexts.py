"""Where an `email_html` template may put a value (docs/messages.md, "Checks when a template
is saved"): HTML escaping keeps a value inside text and inside a quoted attribute value, and
nothing else safe. The values come from callers (`TemplateCustomSubstitutions` by a backend
key, the service's name by `services:write`), the template from the operator: a template
that puts a variable in a link, a style, a script, an event handler, an unquoted attribute,
a comment or a tag is refused when saved, through the API and in a template file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import html5lib
import pytest
import redis
from click.testing import CliRunner

from tests.conftest import Api
from tests.integration.test_template_starts import refusal, snapshot
from tests.support.fakes import RecordingSender
from verify_service.cli import main

# (email_html, where the refusal says `{{ shop }}` is)
DANGEROUS = [
    ("<p><a title={{shop}}>Shop</a> {{code}}</p>", "in the unquoted value of the title attribute"),
    ("<p><a href={{shop}}>Shop</a> {{code}}</p>", "in the unquoted value of the href attribute"),
    ('<p><a href="{{shop}}">Shop</a> {{code}}</p>', "in the href attribute"),
    ('<p><img src="{{shop}}"> {{code}}</p>', "in the src attribute"),
    ('<form action="{{shop}}"><p>{{code}}</p></form>', "in the action attribute"),
    ('<p><button formaction="{{shop}}">Go</button> {{code}}</p>', "in the formaction attribute"),
    ('<table><tr><td background="{{shop}}">{{code}}</td></tr></table>', "in the background"),
    ('<p><video poster="{{shop}}"></video> {{code}}</p>', "in the poster attribute"),
    ('<p><img srcset="{{shop}} 2x"> {{code}}</p>', "in the srcset attribute"),
    ('<svg><a xlink:href="{{shop}}"><text>{{code}}</text></a></svg>', "in the xlink:href"),
    ('<p onmouseover="{{shop}}">{{code}}</p>', "in the onmouseover attribute"),
    ('<p style="color: {{shop}}">{{code}}</p>', "in the style attribute"),
    ('<meta http-equiv="refresh" content="0;url={{shop}}"><p>{{code}}</p>', "in the content"),
    ('<iframe srcdoc="{{shop}}"></iframe><p>{{code}}</p>', "in the srcdoc attribute"),
    ("<style>p { font-family: {{shop}} }</style><p>{{code}}</p>", "inside <style>"),
    # A browser ignores the `/` of `<style/>` and ends no <style> at `</ style>`: the value
    # is the style's text (both accepted before the review of the merged change).
    ("<p>{{code}}</p><style/>{{shop}}</style>", "inside <style>"),
    ("<p>{{code}}</p><style></ style>{{shop}}</style>", "after a `</` that no letter follows"),
    ('<script>var shop = "{{shop}}";</script><p>{{code}}</p>', "in an email_html with a <script>"),
    ("<textarea>{{shop}}</textarea><p>{{code}}</p>", "inside <textarea>"),
    ("<title>{{shop}}</title><p>{{code}}</p>", "inside <title>"),
    ("<!-- {{shop}} --><p>{{code}}</p>", "inside an HTML comment"),
    ("<!--[if mso]><p>{{shop}}</p><![endif]--><p>{{code}}</p>", "inside an HTML comment"),
    ("<{{shop}}>{{code}}</p>", "in a tag name"),
    ('<p {{shop}}="1">{{code}}</p>', "in an attribute name"),
    ('<p class="x"{{shop}}>{{code}}</p>', "in an attribute name"),
    (
        '<p><a {% if shop %}href{% else %}title{% endif %}="{{shop}}">x</a>{{code}}</p>',
        "in an attribute whose name a variable or an {% if %} writes",
    ),
    ("{% if shop %}<style>{% endif %}<p>{{shop}} {{code}}</p>", "inside <style>"),
]
ALLOWED = "in text, or in the quoted value of an alt, title,"

# Text and quoted text attributes, both quotes, under an `{% if %}` and in its attribute.
SAFE = (
    '<p title="{{shop}}">Hello {{shop}}, <img alt=\'{{shop}}\' width="1" height="1"> '
    "your code is <b>{{code}}</b>.</p>"
    '{% if shop %}<p aria-label="{{shop|upper}}">{{shop}}</p>{% else %}<p>-</p>{% endif %}'
    '<p><abbr title="{% if shop %}{{shop}}{% else %}{{friendly_name}}{% endif %}">S</abbr></p>'
)
# What an unquoted attribute or a URL would let a caller do; in text or quoted: shown.
ATTACK = "x\" onmouseover='alert(1)' y=javascript:alert(2)"


def email_parts(html: str) -> dict[str, str]:
    return {"email_subject": "Your code", "email_text": "Code: {{code}}", "email_html": html}


@pytest.mark.parametrize(("html", "where"), DANGEROUS)
def test_a_value_where_escaping_does_not_protect_it_is_refused_through_the_api(
    api: Api, redis_client: redis.Redis, html: str, where: str
) -> None:
    """Through the admin's API: 60200 naming the part and its locale, the variable, where
    it is and what is allowed; nothing stored."""
    before = snapshot(redis_client)
    response = api.post(
        "/v2/Templates",
        FriendlyName="Shop",
        Translations=json.dumps({"en": email_parts("<p>{{code}}</p>"), "fr": email_parts(html)}),
        Variables=json.dumps({"shop": 60}),
        AllowLinks="true",
    )
    status, code, message = refusal(response)
    assert (status, code) == (400, 60200)
    assert "Translations.fr.EmailHtml" in message
    assert f"{{{{ shop }}}} is {where}" in message
    assert ALLOWED in message
    assert snapshot(redis_client) == before


@pytest.mark.parametrize(("html", "where"), DANGEROUS)
def test_a_value_where_escaping_does_not_protect_it_is_refused_in_a_template_file(
    tmp_path: Path, html: str, where: str
) -> None:
    """`verify-service templates check` (and so start-up) refuses the same file, naming
    the file, its `[translations.fr] email_html` and the variable."""
    path = tmp_path / "shop.toml"
    path.write_text(
        'friendly_name = "Shop"\nallow_links = true\n[variables]\nshop = 60\n'
        "[translations.fr]\n"
        + "".join(f"{part} = '''{text}'''\n" for part, text in email_parts(html).items()),
        "utf-8",
    )
    result = CliRunner().invoke(main, ["templates", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert f"error: {path}: [translations.fr] email_html: {{{{ shop }}}} is {where}" in (
        result.stderr
    )
    assert ALLOWED in result.stderr


def test_values_in_text_and_quoted_text_attributes_are_accepted_and_shown_as_text(
    api: Api, sender: RecordingSender
) -> None:
    """The contexts escaping protects: a caller's quotes, spaces and `javascript:` stay
    inside the text or the attribute value they were put in, no handler appears."""
    response = api.post(
        "/v2/Templates",
        FriendlyName="Shop",
        Translations=json.dumps({"en": email_parts(SAFE)}),
        Variables=json.dumps({"shop": 60}),
        AllowLinks="true",
    )
    assert response.status_code == 201, response.json
    service = api.create_service(FriendlyName="Acme")
    started = api.start(
        service,
        to="jane@example.com",
        channel="email",
        TemplateSid=response.json["sid"],  # type: ignore[index]
        TemplateCustomSubstitutions=json.dumps({"shop": ATTACK}),
    )
    assert started.status_code == 201, started.json
    html = sender.sent[-1].message.html
    assert html is not None
    document = html5lib.parse(html, namespaceHTMLElements=False)
    attributes: list[tuple[str, Any]] = [
        (name, value) for element in document.iter() for name, value in element.attrib.items()
    ]
    assert not [name for name, _ in attributes if name.startswith("on") or name == "y"]
    assert ("title", ATTACK) in attributes
    assert ("alt", ATTACK) in attributes
    assert ("aria-label", ATTACK.upper()) in attributes
    assert attributes.count(("title", ATTACK)) == 2  # the <p>'s and the <abbr>'s
    text = "".join(document.itertext())
    assert f"Hello {ATTACK}, " in text
    assert text.count(ATTACK) == 2  # the greeting and the `if` branch


def test_a_template_stored_before_this_check_is_not_sent(
    api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    """A template saved by an earlier version with a value in a link: a start that uses it
    checks it again as it reads it (`decode_template`): 60200 naming the part, nothing
    sent, until the operator saves it again."""
    response = api.post(
        "/v2/Templates",
        FriendlyName="Shop",
        Translations=json.dumps({"en": email_parts('<p title="{{shop}}">{{code}}</p>')}),
        Variables=json.dumps({"shop": 60}),
        AllowLinks="true",
    )
    assert response.status_code == 201, response.json
    sid = response.json["sid"]  # type: ignore[index]
    (key,) = [key for key in redis_client.scan_iter(match="it:*") if sid.encode() in key]
    stored: bytes = redis_client.hget(key, "json")  # type: ignore[assignment]
    assert b'title=\\"{{shop}}\\"' in stored
    redis_client.hset(key, "json", stored.replace(b"title=", b"href="))
    service = api.create_service(FriendlyName="Acme")
    started = api.start(
        service,
        to="jane@example.com",
        channel="email",
        TemplateSid=sid,
        TemplateCustomSubstitutions=json.dumps({"shop": "javascript:alert(1)"}),
    )
    status, code, message = refusal(started)
    assert (status, code) == (400, 60200)
    assert "Translations.en.EmailHtml" in message
    assert "{{ shop }} is in the href attribute" in message
    assert sender.sent == []

"""`email_html` and the no-links rule (docs/messages.md, "Checks when a template is saved"):
a mail reader decodes HTML character references, so `&#46;` is a dot and `&colon;` a colon.
Without `AllowLinks`, a template whose HTML reads as a link once decoded is refused when
saved, and a start whose values join such text into a link is refused too; both used to
pass (review of issue 13), the check reading the HTML source only."""

from __future__ import annotations

import json

import pytest
import redis
from werkzeug.test import TestResponse

from tests.conftest import Api
from tests.integration.test_template_starts import refusal, snapshot
from tests.support.fakes import RecordingSender

MAILBOX = "jane@example.org"


def save_html(api: Api, html: str, **params: str) -> TestResponse:
    """Save a template of an English e-mail whose HTML part is `html`."""
    return api.post(
        "/v2/Templates",
        FriendlyName="Html",
        Translations=json.dumps(
            {"en": {"email_subject": "Your code", "email_text": "{{code}}", "email_html": html}}
        ),
        **params,
    )


def html_template(api: Api, html: str, allow_links: bool = False) -> str:
    response = save_html(
        api, html, Variables=json.dumps({"shop": 20}), AllowLinks=str(allow_links).lower()
    )
    assert response.status_code == 201, response.json
    sid: str = response.json["sid"]  # type: ignore[index]
    return sid


@pytest.mark.parametrize(
    "html",
    [
        '<a href="&#104;ttps&#58;//evil&#46;com/login">Log in</a> {{code}}',
        '<a href="https&colon;&sol;&sol;evil&period;com">Log in</a> {{code}}',
        "<p>Visit evil&#x2E;com</p><p>{{code}}</p>",
        '<form action="//evil&#46;com"><input name=c value=1></form>{{code}}',
        '<p style="background:url(&#x2f;&#x2f;evil&#x2e;com)">{{code}}</p>',
        '<!DOCTYPE html><html><head><meta http-equiv="refresh" content="0;url=evil&#46;com">'
        "</head><body>{{code}}</body></html>",
    ],
)
def test_an_html_link_written_with_character_references_is_refused_at_save(
    api: Api, redis_client: redis.Redis, html: str
) -> None:
    before = snapshot(redis_client)
    response = save_html(api, html)
    assert refusal(response) == (
        400,
        60200,
        "Invalid parameter: Translations.en.EmailHtml (no links or web addresses unless"
        " AllowLinks)",
    )
    assert snapshot(redis_client) == before


def test_with_allow_links_such_html_is_saved(api: Api) -> None:
    html_template(api, '<a href="https&colon;//shop&#46;example">Shop</a> {{code}}', True)


def test_a_value_beside_a_character_reference_cannot_make_a_link(
    api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    """`{{shop}}&#46;com`: the save check reads the variable as nothing (`.com`); a start
    giving `evil` would show evil.com. Refused naming the substitutions, nothing sent."""
    sid = html_template(api, "<p>{{shop}}&#46;com</p><p>{{code}}</p>")
    service = api.create_service()
    before = snapshot(redis_client)
    response = api.start(
        service,
        MAILBOX,
        "email",
        TemplateSid=sid,
        TemplateCustomSubstitutions=json.dumps({"shop": "evil"}),
    )
    assert refusal(response) == (
        400,
        60200,
        "Invalid parameter: TemplateCustomSubstitutions (the message would show a link"
        " (no AllowLinks))",
    )
    assert snapshot(redis_client) == before
    assert sender.sent == []


def test_escaped_values_and_plain_html_still_pass(api: Api, sender: RecordingSender) -> None:
    """Values are escaped (`Bob's` becomes `Bob&#39;s`, read back as written), and the
    built-in frame passes: ordinary templates are not caught by the decoding."""
    sid = html_template(api, "<p>{{shop}} &amp; Co.</p><p>Your code: {{code}}</p>")
    service = api.create_service()
    response = api.start(
        service,
        MAILBOX,
        "email",
        TemplateSid=sid,
        TemplateCustomSubstitutions=json.dumps({"shop": "Bob's <Shop>"}),
    )
    assert response.status_code == 201, response.json
    (delivered,) = sender.sent
    assert "Bob&#39;s &lt;Shop&gt; &amp; Co." in (delivered.message.html or "")


@pytest.mark.parametrize(
    "html",
    [
        "<p>Visit evil&#8203;.com</p><p>{{code}}</p>",  # a zero-width space hides the link
        "<p>&#x202E;moc.live</p><p>{{code}}</p>",  # a bidi override, reversed text
        "<p>Code&#x2028;</p><p>{{code}}</p>",  # a line separator
    ],
)
def test_a_character_reference_to_an_invisible_or_control_character_is_refused_at_save(
    api: Api, redis_client: redis.Redis, html: str
) -> None:
    """The literal characters are refused (wire-safe); their references are the same
    characters to a mail reader."""
    before = snapshot(redis_client)
    response = save_html(api, html)
    assert refusal(response) == (
        400,
        60200,
        "Invalid parameter: Translations.en.EmailHtml (control or invisible formatting characters)",
    )
    assert snapshot(redis_client) == before


def test_the_references_mail_templates_use_for_spacing_still_pass(api: Api) -> None:
    """`&nbsp;` and the `&zwnj;` of preheader padding are visible spacing or allowed joiners."""
    html_template(api, "<p>Your&nbsp;code:&zwnj;&nbsp;{{code}} &amp; more</p>")


@pytest.mark.parametrize(
    "html",
    [
        "<p>Visit evil<b></b>.com</p><p>{{code}}</p>",
        "<p>Visit evil<!-- -->.com</p><p>{{code}}</p>",
        "<p>Visit evil<span>.com</span> now</p><p>{{code}}</p>",
    ],
)
def test_a_link_split_by_inline_tags_or_a_comment_is_refused_at_save(
    api: Api, redis_client: redis.Redis, html: str
) -> None:
    """A mail reader shows the text of inline elements and comments run together."""
    before = snapshot(redis_client)
    response = save_html(api, html)
    assert refusal(response)[:2] == (400, 60200)
    assert "EmailHtml (no links" in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before


def test_a_value_beside_an_inline_tag_cannot_make_a_link(
    api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    sid = html_template(api, "<p>{{shop}}<b>.</b>com shop</p><p>{{code}}</p>")
    service = api.create_service()
    before = snapshot(redis_client)
    response = api.start(
        service,
        MAILBOX,
        "email",
        TemplateSid=sid,
        TemplateCustomSubstitutions=json.dumps({"shop": "evil"}),
    )
    assert refusal(response)[:2] == (400, 60200)
    assert snapshot(redis_client) == before
    assert sender.sent == []


def test_block_elements_separate_words(api: Api, sender: RecordingSender) -> None:
    """`Acme Inc.</p><p>Your` shows on two lines, not `Inc.Your`."""
    sid = html_template(api, "<p>{{shop}} Inc.</p><p>Your code:<br>{{code}}</p>")
    response = api.start(
        api.create_service(),
        MAILBOX,
        "email",
        TemplateSid=sid,
        TemplateCustomSubstitutions=json.dumps({"shop": "Acme"}),
    )
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(
    "tail", ["<![x>", "<a " * 5000, "<!--" * 3000, "<x" * 6000], ids=["marked", "a", "c", "x"]
)
def test_odd_html_is_read_in_linear_time_never_a_500(
    api: Api, sender: RecordingSender, tail: str
) -> None:
    """The shown-text reading is total: html.parser took seconds on thousands of unclosed
    tags and raised on `<![x>` (a 500), at save and at every start. Its linear time is held
    by tests/unit/test_html_reading.py."""
    response = api.post(
        "/v2/Templates",
        FriendlyName="Odd",
        Translations=json.dumps(
            {
                "en": {
                    "email_subject": "Code",
                    "email_text": "{{code}}",
                    "email_html": "<p>{{code}}</p>" + tail,
                }
            }
        ),
    )
    assert response.status_code in (201, 400), response.json
    if response.status_code == 201:
        sid = response.json["sid"]  # type: ignore[index]
        started_start = api.start(api.create_service(), MAILBOX, "email", TemplateSid=sid)
        assert started_start.status_code in (201, 400), started_start.json

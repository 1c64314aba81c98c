"""`email_html`: where a variable may be (domain/templates/html_context.py), the cases the
HTTP and file specs (tests/integration/test_template_html_contexts.py) leave out."""

from __future__ import annotations

import pytest

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.messages.email_layout import CodeEmail, code_email_html
from verify_service.domain.templates.checks import build_template
from verify_service.domain.templates.template import MessageTemplate

SID = "HJ" + "b" * 32


def html_template(html: str) -> MessageTemplate:
    return build_template(
        sid=SID,
        friendly_name="Acme",
        translations={
            "de": {"email_subject": "Code", "email_text": "{{code}}", "email_html": html}
        },
        variables={"shop": 20},
    )


def test_the_built_in_email_as_a_template_passes() -> None:
    """An operator starting from the built-in e-mail's document (its styles, metas, the
    dark-scheme `<style>`, the preheader) with variables in its text can save it."""
    document = code_email_html(
        CodeEmail(
            locale="de",
            right_to_left=False,
            title="Ihr Code",  # the <title> is the subject: literal here
            preheader="Ihr {{friendly_name}} Code",
            heading="{{friendly_name}}",
            lead="Ihr Code für {{shop}}:",
            code="{{code}}",
            footnote="{% if shop %}{{shop}}{% endif %}",
        )
    )
    assert document.startswith("<!DOCTYPE html>")
    assert "<style>" in document
    assert html_template(document).translations["de"]


@pytest.mark.parametrize(
    "html",
    [
        '<A HREF="{{shop}}">x</A>{{code}}',  # names in any case
        "<p TITLE={{shop}}>{{code}}</p>",
        "<p>vsq0o vsq0p</p><a href='{{shop}}'>{{code}}</a>",  # the placeholder's spelling
        "<plaintext>{{code}}",
        "<xmp>{{shop}}</xmp>{{code}}",
        "<noscript>{{shop}}</noscript>{{code}}",
        "<![CDATA[{{shop}}]]>{{code}}",
        "<p>{{code}}</p></p {{shop}}>",
        '<p>{{code}}</p><svg><animate attributeName="href" values="{{shop}}"/></svg>',
        # An `if` must open and close where its branches cannot change what follows.
        '<p {% if shop %}title="a"{% endif %}>{{code}}</p>',
        '<a href="{% if shop %}" title="{% endif %}{{shop}}">{{code}}</a>',
        "<p>{% if shop %}<!--{% endif %}{{code}}-->",
    ],
)
def test_a_value_or_an_if_where_escaping_does_not_hold_is_refused(html: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        html_template(html)
    assert refused.value.parameter == "Translations.de.EmailHtml"


@pytest.mark.parametrize(
    "html",
    [
        "<p>{{shop}} {{code}}</p>",
        "<p title='{{shop}}' alt=\"{{friendly_name | upper}}\">{{code}}</p>",
        '<td align="{% if shop %}left{% else %}right{% endif %}">{{code}}</td>',
        "<p>{% if shop %}<b>{{shop}}</b>{% elif friendly_name %}<i>{{friendly_name}}</i>"
        "{% endif %}{{code}}</p>",
        "<style>p{color:red}</style><p>{{code}}</p>",  # a <style> without a value
        '<p title="{% if shop %}{{shop}}{% else %}-{% endif %}">{{code}}</p>',
    ],
)
def test_values_in_text_and_quoted_text_attributes_pass(html: str) -> None:
    assert html_template(html).translations["de"]

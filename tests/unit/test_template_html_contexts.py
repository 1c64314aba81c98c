"""`email_html`: where a variable may be (domain/templates/html_context.py), the cases the
HTTP and file specs (tests/integration/test_template_html_contexts.py) leave out."""

from __future__ import annotations

import itertools
import re
import time
from xml.etree import ElementTree

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.messages.email_layout import CodeEmail, code_email_html, document
from verify_service.domain.templates.checks import build_template
from verify_service.domain.templates.html_context import (
    NOT_MARKUP_ELEMENTS,
    TEXT_ATTRIBUTES,
    require_safe_html_outputs,
)
from verify_service.domain.templates.syntax import TemplateSourceError, environment
from verify_service.domain.templates.template import MessageTemplate

SID = "HJ" + "b" * 32
# Seconds only a quadratic reading of the long inputs below would take (minutes or more):
# hang guards, not timings.
HANG = 30


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
        # Where html.parser and a browser part ways, the browser's reading holds:
        '<p title=="{{shop}}">{{code}}</p>',  # a browser reads the value `="…`, unquoted
        "<p>{{code}}</p><p title={{shop}}",  # open at the end: runs on into the frame
        "<p>{{code}}</p><!-- {{shop}}",
        "<script><!--<script></script> {{shop}} </script><p>{{code}}</p>",  # escape states
        '<![x><a href="]>{{shop}}">{{code}}</a>',  # html.parser raises: 60200, not a 500
        "<![endif]--><!--[if mso]>{{shop}}<p>{{code}}</p>",  # `<![…` read past its `>`
        "<xmp>{{shop}}</xmp>{{code}}",
        "<noscript>{{shop}}</noscript>{{code}}",
        "<![CDATA[{{shop}}]]>{{code}}",
        "<p>{{code}}</p></p {{shop}}>",
        '<p>{{code}}</p><svg><animate attributeName="href" values="{{shop}}"/></svg>',
        # Found since: `<!-->` is an empty comment to a browser (html.parser read on to the
        # `-->`), `<style/>` opens a style, `</ style>` ends none.
        "<p>{{code}}</p><!--><title>-->{{shop}}",
        "<p>{{code}}</p><!---><title>-->{{shop}}",
        "<p>{{code}}</p><style/>{{shop}}</style>",
        "<p>{{code}}</p><title></ title>{{shop}}</title>",
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
        "<![if !mso]><p>{{shop}}</p><![endif]><p>{{code}}</p>",  # shown to all but Outlook
    ],
)
def test_values_in_text_and_quoted_text_attributes_pass(html: str) -> None:
    assert html_template(html).translations["de"]


# Pieces of HTML that open and close contexts, for templates made of them at random.
PIECES = [
    *["<p>", "</p>", '<a href="x">', '<b title="', "<i alt='", '"', "'", " ", "=", ">", "<"],
    *["/", "</", "title", "href", "onclick", "&", "amp;", "text", "\n", "<p title=", "<img alt="],
    *["<style>", "</style>", "</style", "<title>", "</title>", "<textarea>", "</textarea>"],
    *["<xmp>", "</xmp>", "<noscript>", "</noscript>", "<iframe>", "</iframe>", "<plaintext>"],
    *["<!--", "-->", "--!>", "<!-->", "<!", "?", "<![CDATA[", "]]>", "<!--[if mso]>"],
    *["<![endif]-->", "<svg>", "</svg>", "<math>", "<desc>", "<foreignObject>", "<table>"],
    *["<td>", "</td>", "<select>", "<option>", "<template>", "<!DOCTYPE html>", "<html>"],
    *["<style/>", "<title/>", "</ style>", "</ title>", "/>", '<b title=">">'],
]
VALUE = "QQV1 QQV2"  # a space: where a browser splits it, it was not quoted
RAW = NOT_MARKUP_ELEMENTS | {"script"}
WHOLE_DOCUMENT = re.compile(r"\s*(?:<!doctype|<html[\s>])", re.IGNORECASE)


@st.composite
def html_templates(draw: st.DrawFn, depth: int = 0) -> str:
    pieces = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["piece"] * 3 + ["value"] + (["if"] if depth < 2 else [])))
        if kind == "value":
            pieces.append("{{shop}}")
        elif kind == "if":
            branches = [draw(html_templates(depth + 1)) for _ in range(draw(st.integers(1, 2)))]
            test = draw(st.sampled_from(["a", "b"]))
            pieces.append(f"{{% if {test} %}}" + "{% else %}".join(branches) + "{% endif %}")
        else:
            pieces.append(draw(st.sampled_from(PIECES)))
    return "".join(pieces)


def unsafe_places(html: str) -> list[str]:
    """Where html5lib (a browser's parsing algorithm) puts `VALUE` other than in text or
    whole in a text attribute; a value a browser drops is nowhere, which is safe."""
    unsafe: list[str] = []

    def text(holder: str, raw: bool, chunk: str | None) -> None:
        if chunk and "qqv" in chunk.lower() and raw:
            unsafe.append(f"inside <{holder}>")

    def walk(element: ElementTree.Element, raw: bool) -> None:
        if not isinstance(element.tag, str):  # a comment
            if "qqv" in (element.text or "").lower():
                unsafe.append("comment")
            return
        name = element.tag.rsplit("}", 1)[-1].lower()
        raw = raw or name in RAW
        if "qqv" in name:
            unsafe.append("tag name")
        for key, value in element.attrib.items():
            attribute = key.rsplit("}", 1)[-1] if isinstance(key, str) else "?"
            if "qqv" in attribute.lower():
                unsafe.append("attribute name")
            halves = len(re.findall("qqv", value, re.IGNORECASE))
            if halves and (attribute not in TEXT_ATTRIBUTES or halves != 2 * value.count(VALUE)):
                unsafe.append(f"attribute {attribute}={value!r}")
        text(name, raw, element.text)
        for child in element:
            walk(child, raw)
            text(name, raw, child.tail)

    walk(html5lib.parse(html, namespaceHTMLElements=False), raw=False)
    return unsafe


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(source=html_templates())
def test_whatever_the_check_accepts_a_browser_reads_each_value_as_text(source: str) -> None:
    """Every branch of every `if`, rendered with a value holding a space, read by html5lib
    as a browser reads it, in the frame a fragment is sent in: each value in text, or whole
    in a text attribute's value."""
    try:
        environment(html=True).parse(source)
        require_safe_html_outputs(source)
    except TemplateSourceError:
        return
    compiled = environment(html=True).from_string(source)
    for first, second in itertools.product(["x", ""], repeat=2):
        body = compiled.render(shop=VALUE, a=first, b=second)
        html = body
        if not WHOLE_DOCUMENT.match(body):
            html = document(
                locale="en",
                right_to_left=False,
                title="Code",
                preheader="Code",
                body_html=f'<tr><td class="vs-cell">{body}</td></tr>',
            )
        assert unsafe_places(html) == [], (source, first, second)


def test_a_template_of_unclosed_tags_is_checked_in_linear_time() -> None:
    """html.parser's `close()` reads a text ending in 6 600 unclosed tags in quadratic time
    (8 s here; ten times as many: over 10 minutes): a save, and a start's first read of the
    template, would wait for it. The check does not close what it refuses values in anyway.
    A hang guard, not a timing: the bound is far above any load."""
    started = time.perf_counter()
    require_safe_html_outputs("<p>{{code}}</p>" + "<a\t" * 66_000)  # past a part's length
    assert time.perf_counter() - started < HANG


def test_a_tag_of_many_quoted_values_is_checked_in_linear_time() -> None:
    """Each value's quoting was searched for across the whole tag: 12 000 values in one
    attribute took 12 s (the review's find; ten times as many, about 20 minutes)."""
    started = time.perf_counter()
    require_safe_html_outputs('<p title="' + "{{ shop }}" * 120_000 + '">{{code}}</p>')
    assert time.perf_counter() - started < HANG

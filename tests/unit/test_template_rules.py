"""Message templates: the template language, the save-time checks and rendering."""

from __future__ import annotations

import pytest

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.messages.message_templates import MessageContent
from verify_service.domain.messages.messages import SHIPPED_LOCALES, render
from verify_service.domain.models import Channel
from verify_service.domain.templates.builtin import BUILTIN_TEMPLATE
from verify_service.domain.templates.checks import build_template
from verify_service.domain.templates.rendering import TemplateValues, render_template
from verify_service.domain.templates.variables import require_substitutions

SID = "HJ" + "a" * 32
PARTS = {
    "sms": "{{app}}: {{code}} is your {{friendly_name}} code, valid {{ttl}} min.",
    "call": "Your code is {{code}}.",
    "whatsapp": "*{{code}}* is your {{friendly_name}} code.",
    "email_subject": "Your {{friendly_name}} code",
    "email_text": "Code: {{code}}",
    "email_html": "<p>Hello {{app}}, your code is <b>{{code}}</b>.</p>",
}


def template(sms: str | None = None, **changes: object) -> object:
    parts = dict(PARTS, **({"sms": sms} if sms is not None else {}))
    fields: dict[str, object] = {
        "sid": SID,
        "friendly_name": "Acme",
        "translations": {"en": parts, "fr": dict(parts, sms="{{code}} : code {{app}}")},
        "variables": {"app": 20},
    }
    fields.update(changes)
    return build_template(**fields)  # type: ignore[arg-type]


def values(**changes: object) -> TemplateValues:
    fields: dict[str, object] = {
        "friendly_name": "Acme",
        "code": "482913",
        "ttl_minutes": 10,
        "substitutions": {"app": "Shop"},
    }
    fields.update(changes)
    return TemplateValues(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ ''.__class__ }}{{code}}", "attribute access"),
        ("{{ cycler.__init__ }}{{code}}", "attribute access"),
        ("{% for x in app %}{{x}}{% endfor %}{{code}}", "a loop"),
        ("{{ 'a' * 100000 }}{{code}}", "an operator"),
        ("{{ app() }}{{code}}", "a call"),
        ("{{ app[0] }}{{code}}", "item access"),
        ("{% set x = 1 %}{{code}}", "{% set %}"),
        ("{% include 'x' %}{{code}}", "an include"),
        ("{% macro m() %}{% endmacro %}{{code}}", "a macro"),
        ("{{ app | attr('x') }}{{code}}", "filter 'attr'"),
        ("{{ lipsum }}{{code}}", "unknown variable 'lipsum'"),
        ("{{code}} {% if", "syntax error"),
        ("{% autoescape false %}{{ app }}{% endautoescape %}{{code}}", "not allowed"),
        ("{{ app | safe }}{{code}}", "filter 'safe'"),
        ("{% filter upper %}x{% endfilter %}{{code}}", "not allowed"),
        ("{% with x = app %}{{ x }}{% endwith %}{{code}}", "not allowed"),
    ],
)
def test_template_source_outside_the_allow_list_is_refused_naming_the_part(
    source: str, reason: str
) -> None:
    """Server-side template injection: anything but text, variables, filters, if."""
    with pytest.raises(InvalidParameter) as refused:
        template(sms=source)
    assert refused.value.parameter == "Translations.en.Sms"
    assert reason in refused.value.reason


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("no code here", "found 0"),
        ("{{code}} and {{code}}", "found 2"),
        ("{% if app %}{{code}}{% endif %}", "outside {% if %}"),
        ("{{code}} see bit.ly/x", "no links"),
        ("{{code}} " + "x" * 280 + " {{app}}", "parts, more than 2"),
        ("{{code}}\u202e", "control or invisible"),
    ],
)
def test_save_checks_refuse_a_template_that_cannot_be_sent(source: str, reason: str) -> None:
    """The code once, within the SMS budget, no links, no invisible characters."""
    with pytest.raises(InvalidParameter) as refused:
        template(sms=source)
    assert refused.value.parameter == "Translations.en.Sms"
    assert reason in refused.value.reason


def test_budget_is_checked_in_every_locale() -> None:
    """A short English SMS does not excuse a long French one."""
    parts = dict(PARTS)
    with pytest.raises(InvalidParameter) as refused:
        build_template(
            sid=SID,
            friendly_name="Acme",
            translations={"en": parts, "fr": dict(parts, sms="{{code}} " + "é" * 250)},
            variables={"app": 20},
        )
    assert refused.value.parameter == "Translations.fr.Sms"


def test_code_in_a_subject_is_refused() -> None:
    with pytest.raises(InvalidParameter) as refused:
        template(translations={"en": dict(PARTS, email_subject="{{code}}")})
    assert refused.value.parameter == "Translations.en.EmailSubject"


def test_a_sentence_ending_after_a_variable_is_not_a_link() -> None:
    """docs/messages.md's French example: `{{friendly_name}}. Valable` is a sentence."""
    assert template(sms="{{app}} : {{code}} est votre code {{friendly_name}}. Valable {{ttl}} min.")


@pytest.mark.parametrize("sms", ["{{code}} evil{{app}}.com", "{{code}} {{app}}.evil.com/x"])
def test_a_link_split_by_a_variable_is_refused(sms: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        template(sms=sms)
    assert refused.value.parameter == "Translations.en.Sms"


def test_links_are_accepted_when_allowed() -> None:
    assert template(sms="{{code}} see example.com", allow_links=True)


def test_unknown_locale_and_part_are_refused() -> None:
    with pytest.raises(InvalidParameter) as refused:
        template(translations={"xx": PARTS})
    assert refused.value.parameter == "Translations.xx"
    with pytest.raises(InvalidParameter) as refused:
        template(translations={"en": dict(PARTS, fax="{{code}}")})
    assert refused.value.parameter == "Translations.en.fax"


def test_name_longer_than_twilios_32_characters_is_refused() -> None:
    with pytest.raises(InvalidParameter) as refused:
        template(friendly_name="N" * 33)
    assert refused.value.parameter == "FriendlyName"


def test_values_are_text_escaped_in_html_and_never_template_source() -> None:
    """A `{{code}}` or markup in a substitution is printed as written (escaped in HTML)."""
    built = template()
    message = render_template(
        built, Channel.EMAIL, "en", values(substitutions={"app": "<b>{{code}}</b>"})
    )
    assert message.html is not None
    assert "<p>Hello &lt;b&gt;{{code}}&lt;/b&gt;, your code is <b>482913</b>.</p>" in message.html
    assert message.subject == "Your Acme code"
    assert message.text == "Code: 482913"


def test_sms_gets_the_machine_lines_and_a_call_the_spoken_code() -> None:
    built = template()
    sms = render_template(
        built, Channel.SMS, "en", values(app_hash="H" * 11, webotp_domain="example.com")
    )
    assert sms.text == (
        "<#> Shop: 482913 is your Acme code, valid 10 min.\nHHHHHHHHHHH\n@example.com #482913"
    )
    call = render_template(built, Channel.CALL, "fr", values())
    assert call.text == "Your code is 4, 8, 2, 9, 1, 3."
    assert call.voice_language == "fr-FR"


@pytest.mark.parametrize(
    ("resolved", "used"), [("fr", "fr"), ("en-GB", "en"), ("pt-BR", "en"), ("de", "en")]
)
def test_locale_falls_back_to_the_language_then_the_default(resolved: str, used: str) -> None:
    assert render_template(template(), Channel.SMS, resolved, values()).locale == used


def test_substitutions_only_for_declared_variables_within_their_length() -> None:
    built = template()
    assert require_substitutions(built, {"app": "Shop"}) == {"app": "Shop"}
    for given, field in (
        ({"other": "x"}, "TemplateCustomSubstitutions.other"),
        ({"app": "x" * 21}, "TemplateCustomSubstitutions.app"),
        ({"app": "evil.com"}, "TemplateCustomSubstitutions.app"),
        ({"app": "a\nb"}, "TemplateCustomSubstitutions.app"),
    ):
        with pytest.raises(InvalidParameter) as refused:
            require_substitutions(built, given)
        assert refused.value.parameter == field


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("locale", sorted(SHIPPED_LOCALES))
def test_builtin_template_renders_byte_for_byte_as_the_catalogues(
    channel: Channel, locale: str
) -> None:
    content = MessageContent("Acme", do_not_share_warning=True, amount="EUR 5", payee="Shop")
    expected = render(channel, content, "123456", locale)
    given = TemplateValues(
        "Acme", "123456", 10, amount="EUR 5", payee="Shop", do_not_share_warning=True
    )
    assert render_template(BUILTIN_TEMPLATE, channel, locale, given) == expected


def test_builtin_template_serves_every_channel_in_every_shipped_locale() -> None:
    assert set(BUILTIN_TEMPLATE.channels) == set(Channel)
    assert set(BUILTIN_TEMPLATE.translations) == set(SHIPPED_LOCALES)
    assert BUILTIN_TEMPLATE.translations["en"]["sms"] == (
        "Your {{friendly_name}} verification code is: {{code}}"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{app}} : {{code}} est votre code {{friendly_name}}. Valable {{ttl}} minutes.",
        "{{code}} is your code for {{friendly_name}}. It expires in {{ttl}} minutes.",
        "Code {{code}}. Valid {{ttl}} min.",
    ],
)
def test_a_sentence_after_a_name_code_or_ttl_is_not_a_link(source: str) -> None:
    """`{{friendly_name}}. Valable` is a full stop, not `bit .ly`: the name, code and TTL
    are never empty, so the check reads them as a word, not as nothing (docs/messages.md's
    own French example was refused)."""
    assert template(sms=source)


@pytest.mark.parametrize(
    "source",
    [
        "{{code}} visit evil.{{app}}com",  # {{app}} may be empty: evil.com
        "{{code}} visit {{friendly_name}}.com",
        "{{code}} visit evil{{ttl}}.com",
        "{{code}} see bit .{% if app %}{% endif %}ly/x",
    ],
)
def test_links_split_around_variables_are_still_refused(source: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        template(sms=source)
    assert "no links" in refused.value.reason


def test_an_undeclared_custom_variable_says_where_to_declare_it() -> None:
    """A new user writes `{{shop}}` before declaring it: the refusal says how to fix it."""
    with pytest.raises(InvalidParameter) as refused:
        template(sms="{{shop}} {{code}}")
    assert refused.value.reason == (
        "unknown variable 'shop' (known: amount, app, code, friendly_name, payee, ttl; "
        "declare a custom one with its longest length in Variables, [variables] in a file)"
    )


@pytest.mark.parametrize("odd", ["<b>x</b>", "a b", "x" * 33, "é", "\u202e"])
def test_an_error_names_a_callers_key_only_when_it_is_a_plain_word(odd: str) -> None:
    """Review finding 9: a locale, part or variable name the caller chose is echoed in the
    error only when it is a plain word; else the bare parameter is named."""
    with pytest.raises(InvalidParameter) as refused:
        template(translations={odd: PARTS})
    assert refused.value.parameter == "Translations"
    with pytest.raises(InvalidParameter) as refused:
        template(translations={"en": dict(PARTS, **{odd: "{{code}}"})})
    assert refused.value.parameter == "Translations.en"
    with pytest.raises(InvalidParameter) as refused:
        require_substitutions(template(), {odd: "x"})
    assert refused.value.parameter == "TemplateCustomSubstitutions"
    with pytest.raises(InvalidParameter) as refused:
        template(variables={odd: 5})
    assert refused.value.parameter == "Variables"

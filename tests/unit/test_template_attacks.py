"""Templates under attack (review of issue 13): template source and variables an operator
or a stolen admin key could save, checked without Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_template_files import GOOD, write
from verify_service.adapters.template_files import TemplateFileError, load_template_dir
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.templates.builtin import BUILTIN_TEMPLATE_SID
from verify_service.domain.templates.checks import build_template

SID = "HJ" + "a" * 32


@pytest.mark.parametrize(
    "name", ["self", "loop", "caller", "varargs", "kwargs", "super", "true", "false", "none"]
)
def test_a_variable_cannot_take_a_name_jinja_gives_its_own_meaning(name: str) -> None:
    """`{{ self }}` is Jinja's TemplateReference whatever the substitution: the message
    would print `<TemplateReference None>`, a Python object's text, and the budget check
    would measure the wrong value; `true`/`false`/`none` are literals (never usable)."""
    with pytest.raises(InvalidParameter) as refused:
        build_template(
            sid=SID,
            friendly_name="T",
            translations={"en": {"sms": f"{{{{code}}}} {{{{ {name} }}}}"}},
            variables={name: 10},
        )
    assert f"Variables.{name}" in str(refused.value)


def nested_ifs(depth: int) -> str:
    return "{% if ttl %}" * depth + "x" + "{% endif %}" * depth + "{{code}}"


@pytest.mark.parametrize(
    ("part", "source"),
    [
        # Parsed (Jinja's parser recurses per parenthesis): RecursionError, not a 60200.
        ("sms", "{{ " + "(" * 100 + "code" + ")" * 100 + " }}"),
        ("email_html", "{{ " + "(" * 2000 + "code" + ")" * 2000 + " }}"),
        ("email_html", nested_ifs(400)),
        # Parsed, but Python cannot compile it (too many levels of indentation): saved,
        # then every start failed when it compiled the part.
        ("email_html", nested_ifs(100)),
        # Compiles, but no template needs it: ten levels at most.
        ("sms", nested_ifs(60)),
    ],
)
def test_deep_nesting_is_refused_at_save_naming_the_part(part: str, source: str) -> None:
    parts = {"email_subject": "s", "email_text": "{{code}}", part: source}
    with pytest.raises(InvalidParameter) as refused:
        build_template(sid=SID, friendly_name="T", translations={"en": parts})
    wire = "".join(word.capitalize() for word in part.split("_"))
    assert f"Translations.en.{wire}" in str(refused.value)


def test_conditions_nested_a_few_levels_deep_are_accepted() -> None:
    html = "{% if ttl %}" * 8 + "x" + "{% endif %}" * 8 + "{{code}}"
    build_template(
        sid=SID,
        friendly_name="T",
        translations={"en": {"email_subject": "s", "email_text": "{{code}}", "email_html": html}},
    )


def test_a_template_file_cannot_take_the_builtin_templates_sid(tmp_path: Path) -> None:
    """It would replace the built-in wording of every service whose DefaultTemplateSid
    names it, and the list would no longer show the built-in template."""
    write(tmp_path, "builtin.toml", f'sid = "{BUILTIN_TEMPLATE_SID}"\n' + GOOD)
    with pytest.raises(TemplateFileError, match="built-in"):
        load_template_dir(str(tmp_path))


def test_a_subject_cannot_hold_a_mime_encoded_word() -> None:
    """Mail libraries decode `=?utf-8?q?…?=` in a header: the subject would not read as
    written (and the SMTP provider refuses to send it, so every e-mail would fail)."""
    with pytest.raises(InvalidParameter) as refused:
        build_template(
            sid=SID,
            friendly_name="T",
            translations={"en": {"email_subject": "=?utf-8?q?x?=", "email_text": "{{code}}"}},
        )
    assert "Translations.en.EmailSubject" in str(refused.value)

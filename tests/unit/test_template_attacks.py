"""Templates under attack (review of issue 13): template source and variables an operator
or a stolen admin key could save, checked without Redis."""

from __future__ import annotations

import pytest

from verify_service.domain.errors import InvalidParameter
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

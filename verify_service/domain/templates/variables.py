"""The variables a template may use, and the values a start gives them.

Built-ins (Twilio's): `friendly_name`, `code`, `ttl` (the code's lifetime in minutes, as
Twilio's templates count it). Extensions: `amount` and `payee` (the PSD2 terms, empty when
the start has none: `{% if amount %}`). Anything else is a custom variable the template
declares with its longest value, filled by `TemplateCustomSubstitutions`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from verify_service.domain.errors import InvalidParameter, keyed_parameter
from verify_service.domain.messages.message_text import is_link_like, require_wire_safe
from verify_service.domain.templates.template import (
    MAX_VARIABLE_LENGTH,
    MAX_VARIABLES,
    MessageTemplate,
)

BUILTIN_VARIABLES = frozenset({"friendly_name", "code", "ttl", "amount", "payee"})
# Names Jinja gives a meaning of its own (`self` is the template object whatever the
# context holds; `true`, `false`, `none` are literals; the others belong to loops, macros
# and blocks): a variable under one of them would not print its substitution.
JINJA_NAMES = frozenset(
    {"self", "loop", "caller", "varargs", "kwargs", "super", "true", "false", "none"}
)
_VARIABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SUBSTITUTIONS = "TemplateCustomSubstitutions"


def require_variables(declared: object, parameter: str = "Variables") -> dict[str, int]:
    """`{"name": max length}`: lower-case names, not a built-in, 1-100 characters each."""
    if not isinstance(declared, dict):
        raise InvalidParameter(parameter, 'a JSON object {"name": max length}')
    if len(declared) > MAX_VARIABLES:
        raise InvalidParameter(parameter, f"at most {MAX_VARIABLES} variables")
    checked = {}
    for name, length in declared.items():
        if not _VARIABLE_NAME.fullmatch(name) or name in BUILTIN_VARIABLES | JINJA_NAMES:
            raise InvalidParameter(
                keyed_parameter(parameter, name),
                "a name of lower-case letters, digits and _ (at most 32), not a built-in "
                f"nor one of Jinja's ({', '.join(sorted(JINJA_NAMES))})",
            )
        if isinstance(length, bool) or not isinstance(length, int):
            raise InvalidParameter(f"{parameter}.{name}", "a maximum length (a number)")
        if not 1 <= length <= MAX_VARIABLE_LENGTH:
            raise InvalidParameter(f"{parameter}.{name}", f"1-{MAX_VARIABLE_LENGTH} characters")
        checked[name] = length
    return checked


def require_substitutions(
    template: MessageTemplate, values: Mapping[str, str], parameter: str = SUBSTITUTIONS
) -> dict[str, str]:
    """Values for declared variables only, each wire-safe, within its declared length, and
    without links unless the template allows them (the rules of names,
    domain/messages/message_text.py). A value is text, never template source."""
    checked = {}
    for name, value in values.items():
        field = keyed_parameter(parameter, name)
        if name not in template.variables:
            raise InvalidParameter(field, f"not a variable of template {template.sid}")
        if not isinstance(value, str):
            raise InvalidParameter(field, "a string")
        require_wire_safe(value, field)
        if len(value) > template.variables[name]:
            raise InvalidParameter(field, f"at most {template.variables[name]} characters")
        if not template.allow_links and is_link_like(value):
            raise InvalidParameter(field, "no links or web addresses")
        if "=?" in value:
            raise InvalidParameter(field, "no MIME encoded words (=?…?=)")
        checked[name] = value
    return checked

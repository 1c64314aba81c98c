"""The one JSON reader (domain/json_input.py): its refusals, and its depth check's cost."""

from __future__ import annotations

import time

import pytest

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.json_input import BODY, nested_at_most, parse_json

# Seconds only a quadratic reading of the long input below would take (hours): a hang
# guard, not a timing.
HANG = 30


@pytest.mark.parametrize(
    ("text", "parameter", "message"),
    [
        ('{"a": 1, "a": 1}', "Tags", "Tags (a key given more than once in one object)"),
        ('[{"x": {"a": 1, "a": 2}}]', "Templates", "Templates (a key given more than once"),
        ('{"To": 1, "To": 2}', BODY, "To (a key given more than once"),
        ('{"To": {"a": [{"b": 1, "b": 2}]}}', BODY, "To (a key given more than once"),
        ('{"jane@example.com": 1, "jane@example.com": 2}', BODY, "body (a key given"),
        ('{"CodeLength": NaN}', BODY, "CodeLength (NaN and Infinity are not JSON)"),
        ("[1, -Infinity]", "Tags", "Tags (NaN and Infinity are not JSON)"),
        ('{"Amount": 1e999}', BODY, "Amount (NaN and Infinity are not JSON)"),  # inf to Python
        ("[-1.5e400]", "Tags", "Tags (NaN and Infinity are not JSON)"),
        ('{"a": "\\ud800"}', "Tags", "Tags (not valid Unicode (a lone surrogate))"),
        ('{"\\udfff": "x"}', BODY, "body (not valid Unicode (a lone surrogate))"),
        ("[" * 33 + "]" * 33, "Tags", "Tags (JSON nested too deeply)"),
        ('{"a": 1', "Tags", "Tags (not JSON)"),
    ],
)
def test_what_is_refused_names_the_parameter_and_never_the_value(
    text: str, parameter: str, message: str
) -> None:
    with pytest.raises(InvalidParameter) as refused:
        parse_json(text, parameter)
    assert str(refused.value).startswith(f"Invalid parameter: {message}")
    assert "jane" not in str(refused.value)


def test_bytes_that_are_not_utf8_are_not_json() -> None:
    with pytest.raises(InvalidParameter, match=r"body \(not JSON\)"):
        parse_json(b'{"a": "\xff"}', BODY)


def test_a_body_may_start_with_a_byte_order_mark() -> None:
    """RFC 8259 8.1: a parser MAY ignore it, as Flask's did before this reader."""
    assert parse_json(b'\xef\xbb\xbf{"a": 1}', BODY) == {"a": 1}


def test_json_within_the_rules_is_parsed_as_pythons_parser_does() -> None:
    text = '{"a": [1, 2.5, "x\\u00e9", {"b": null}], "c": true}' + " "
    assert parse_json(text, "Tags") == {"a": [1, 2.5, "xé", {"b": None}], "c": True}
    assert parse_json("[" * 32 + "]" * 32, "Tags") is not None


@pytest.mark.parametrize(
    ("text", "limit", "within"),
    [
        ('{"a": "[[[[{{{{"}', 1, True),  # brackets inside a string do not count
        ('{"a\\"[[": 1}', 1, True),  # nor after an escaped quote
        ('{"a\\\\": [[1]]}', 2, False),  # an escaped backslash ends no string early
        ("[[1]]", 1, False),
        ("[[1]]", 2, True),
    ],
)
def test_depth_is_counted_outside_strings(text: str, limit: int, within: bool) -> None:
    assert nested_at_most(text, limit) is within


def test_the_depth_check_is_linear_on_an_unterminated_string_of_escaped_quotes() -> None:
    """An attacker's body: a string never closed, full of `\\"`. A scanner that retried from
    each quote took 17 s on 64 KiB of it, and would take hours on ten times that; this one
    takes milliseconds. A hang guard, not a timing: the bound is far above any load."""
    started = time.perf_counter()
    with pytest.raises(InvalidParameter):
        parse_json('"' + '\\"' * 320_000, BODY)
    assert time.perf_counter() - started < HANG

"""Code generation (CSPRNG digits, 4-10 long) and the shape of codes a caller supplies."""

from __future__ import annotations

import pytest

from verify_service.domain.codes import (
    MAX_CODE_LENGTH,
    MIN_CODE_LENGTH,
    generate_code,
    require_code_shape,
)
from verify_service.domain.errors import InvalidParameter

ALLOWED_LENGTHS = range(MIN_CODE_LENGTH, MAX_CODE_LENGTH + 1)


def test_code_lengths_are_four_to_ten() -> None:
    """The bounds are Twilio's CodeLength range."""
    assert (MIN_CODE_LENGTH, MAX_CODE_LENGTH) == (4, 10)


@pytest.mark.parametrize("length", ALLOWED_LENGTHS)
def test_generated_code_has_the_requested_number_of_digits(length: int) -> None:
    """Every length from 4 to 10 gives a code of exactly that many ASCII digits."""
    for _ in range(50):
        code = generate_code(length)
        assert len(code) == length
        assert code.isascii()
        assert code.isdigit()


def test_generated_code_can_start_with_zero() -> None:
    """Leading zeros are possible: the first digit is 0 about one time in ten."""
    samples = 2_000
    first_digits = [generate_code(4)[0] for _ in range(samples)]
    zeros = first_digits.count("0")
    # Binomial(2000, 0.1): mean 200, sd ~13.4; 100..300 is more than 7 sd either side.
    assert 100 <= zeros <= 300
    assert set(first_digits) == set("0123456789")


def test_generated_codes_use_every_digit_in_every_position() -> None:
    """No position is biased towards a subset of digits (a cheap uniformity check)."""
    codes = [generate_code(6) for _ in range(1_000)]
    for position in range(6):
        assert {code[position] for code in codes} == set("0123456789")


def test_generated_codes_do_not_repeat_in_a_small_sample() -> None:
    """Codes come from a CSPRNG, not a fixed or slowly changing sequence."""
    codes = {generate_code(10) for _ in range(200)}
    # 200 draws from 10^10: a collision has probability ~2e-6.
    assert len(codes) == 200


@pytest.mark.parametrize("length", [-1, 0, 1, 3, 11, 12, 100])
def test_out_of_range_code_length_is_refused(length: int) -> None:
    """A length outside 4-10 is a programming error, raised as ValueError."""
    with pytest.raises(ValueError, match="4-10"):
        generate_code(length)


@pytest.mark.parametrize(
    "code",
    [
        "1234",
        "0000",
        "0123456789",
        "abcd",
        "ABCD",
        "AbC123",
        "x1y2z3w4",
    ],
)
def test_code_of_four_to_ten_letters_or_digits_is_accepted(code: str) -> None:
    """A well-formed code is returned unchanged."""
    assert require_code_shape(code, "Code") == code


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("", "empty"),
        ("123", "too short"),
        ("12345678901", "too long"),
        ("12 34", "inner space"),
        (" 1234", "leading space"),
        ("1234 ", "trailing space"),
        ("1234\n", "trailing newline"),
        ("12-34", "punctuation"),
        ("12.34", "punctuation"),
        ("1234;", "punctuation"),
        ("١٢٣٤", "Arabic-Indic digits"),
        ("１２３４", "full-width digits"),
        ("äöüß", "non-ASCII letters"),
        ("12\x0034", "NUL byte"),
    ],
)
def test_malformed_code_is_rejected_with_60200(code: str, why: str) -> None:
    """Anything but 4-10 ASCII letters or digits is an invalid parameter."""
    with pytest.raises(InvalidParameter) as raised:
        require_code_shape(code, "Code")
    assert raised.value.parameter == "Code", why


def test_rejected_code_names_the_parameter_it_came_from() -> None:
    """The same rule serves `Code` and `CustomCode`; the error names the caller's parameter."""
    with pytest.raises(InvalidParameter) as raised:
        require_code_shape("12", "CustomCode")
    assert raised.value.parameter == "CustomCode"
    assert "CustomCode" in str(raised.value)


def test_rejected_code_is_not_echoed_in_the_error() -> None:
    """Codes never appear in errors: the message names the parameter, not the value."""
    with pytest.raises(InvalidParameter) as raised:
        require_code_shape("98765432109", "Code")
    assert "98765432109" not in str(raised.value)

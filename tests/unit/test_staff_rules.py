"""Support console rules: masked destinations for pages, user names, reasons."""

from __future__ import annotations

import pytest

from verify_service.domain.destinations import display_masked_destination
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.staff import (
    FACTOR_DELETE_REASONS,
    action_reason,
    require_password,
    require_user_name,
    stated_reason,
)
from verify_service.settings import ConfigError, Settings


@pytest.mark.parametrize(
    ("destination", "shown"),
    [
        ("+14155552671", "+1 415 •••• 671"),
        ("+447911123456", "+44 791 •••• 456"),
        ("+33612345678", "+33 612 •••• 78"),  # 9 national digits: 4 hidden, not 3
        ("+3546111234", "+354 61 •••• 4"),  # Iceland: 7 national digits
        ("+3725123456", "+372 51 •••• 6"),  # Estonia: 7 digits
        ("+6831234", "+683 ••••"),  # Niue: 4 digits, all hidden
        ("jane.doe@example.com", "j•••@example.com"),
        ("j@example.com", "•••@example.com"),
    ],
)
def test_display_masking_shows_at_most_a_few_digits(destination: str, shown: str) -> None:
    """Enough to confirm with the customer on the phone, never the whole number: at most 6
    national digits shown, at least 4 hidden, so a masked number takes 10^4 look-ups."""
    assert display_masked_destination(destination) == shown


@pytest.mark.parametrize(
    ("preset", "details", "reason"),
    [
        ("Customer did not receive the code", "", "Customer did not receive the code"),
        ("", "asked by chat", "asked by chat"),
        (
            "Suspected fraud or account takeover",
            "  odd   timing ",
            "Suspected fraud or account takeover: odd timing",
        ),
    ],
)
def test_a_reason_is_a_preset_free_text_or_both(preset: str, details: str, reason: str) -> None:
    assert action_reason(preset, details) == reason


@pytest.mark.parametrize(
    ("preset", "details"),
    [
        ("", ""),
        ("Not a preset", ""),
        ("", "the code is 123456"),
        ("", "call +1 415 5552671"),
        ("", "x" * 201),
    ],
)
def test_a_reason_must_be_given_and_hold_no_code_or_number(preset: str, details: str) -> None:
    with pytest.raises(InvalidParameter):
        action_reason(preset, details)


@pytest.mark.parametrize("name", ["", "Sam", "sam smith", "-sam", "x" * 65])
def test_user_names_are_lower_case_identifiers(name: str) -> None:
    with pytest.raises(InvalidParameter):
        require_user_name(name)


def test_passwords_have_at_least_twelve_characters() -> None:
    with pytest.raises(InvalidParameter):
        require_password("eleven char")
    assert require_password("twelve chars") == "twelve chars"


def test_console_settings_are_read_and_checked() -> None:
    """`VERIFY_CONSOLE_*`: secure cookies unless explicitly off (or on the embedded store,
    tests/unit/test_console_cookie_default.py); bounded timeouts."""
    defaults = Settings.from_env({})
    assert defaults.console_secure_cookie is False  # the embedded store's default
    assert defaults.console_idle_timeout_seconds == 900
    assert defaults.console_max_login_failures == 5
    changed = Settings.from_env(
        {"VERIFY_CONSOLE_SECURE_COOKIE": "false", "VERIFY_CONSOLE_IDLE_TIMEOUT_SECONDS": "300"}
    )
    assert changed.console_secure_cookie is False
    assert changed.console_idle_timeout_seconds == 300
    for name, value in [
        ("VERIFY_CONSOLE_SECURE_COOKIE", "no"),
        ("VERIFY_CONSOLE_IDLE_TIMEOUT_SECONDS", "5"),
        ("VERIFY_CONSOLE_MAX_LOGIN_FAILURES", "0"),
    ]:
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: value})


def test_a_factor_delete_reason_is_one_of_its_own_presets() -> None:
    """The console's factor form offers its own presets ("Lost phone" …); a verification
    preset is not one of them."""
    assert action_reason("Lost phone", "", FACTOR_DELETE_REASONS) == "Lost phone"
    assert (
        action_reason("New phone", "bought a new one", FACTOR_DELETE_REASONS)
        == "New phone: bought a new one"
    )
    with pytest.raises(InvalidParameter):
        action_reason("Customer did not receive the code", "", FACTOR_DELETE_REASONS)


@pytest.mark.parametrize(
    "details",
    ["lost\nphone", "lost\tphone", "lost\x00phone", "\x1b[31mred", "lost \u202ephone", "a\u200bb"],
)
def test_a_console_reason_refuses_control_and_invisible_characters(details: str) -> None:
    """A newline could forge a line of an exported log; a bidirectional override or a
    zero-width character makes a reason read differently from what is stored."""
    with pytest.raises(InvalidParameter, match="control or invisible"):
        action_reason("", details)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("lost phone", "lost phone"),
        ("  Kunde hat sein Telefon   verloren  ", "Kunde hat sein Telefon verloren"),
        ("x" * 200, "x" * 200),
    ],
)
def test_an_api_reason_is_free_text_on_one_line(text: str, reason: str) -> None:
    assert stated_reason(text) == reason


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "required"),
        ("   ", "required"),
        ("x" * 201, "at most 200"),
        ("lost\nphone", "control"),
        ("lost\rphone", "control"),
        ("lost\x7fphone", "control"),
        ("lost\u2066phone", "invisible"),
        ("code 123456", "4 digits"),
    ],
)
def test_an_api_reason_is_refused_naming_the_parameter(text: str, why: str) -> None:
    """Refused as `Invalid parameter: Reason (…)`: the wire name the 400 names."""
    with pytest.raises(InvalidParameter, match=why) as raised:
        stated_reason(text)
    assert raised.value.parameter == "Reason"

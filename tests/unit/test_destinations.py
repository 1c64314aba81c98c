"""`To`: E.164 phone numbers valid for their region, or e-mail addresses; masked in logs."""

from __future__ import annotations

import phonenumbers
import pytest

from verify_service.domain.destinations import (
    mask_destination,
    normalize_any_destination,
    normalize_destination,
    normalize_email,
    normalize_phone,
)
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.models import Channel


def example_number(region: str) -> phonenumbers.PhoneNumber:
    """libphonenumber's example fixed-line number of `region`."""
    example = phonenumbers.example_number(region)
    assert example is not None
    return example


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("+44 20 7946 0958", "+442079460958"),  # United Kingdom, London
        ("+1 (415) 555-2671", "+14155552671"),  # United States
        ("+14155552671", "+14155552671"),
        ("+49 30 901820", "+4930901820"),  # Germany
        ("+33 1 42 68 53 00", "+33142685300"),  # France
        ("+81 3-1234-5678", "+81312345678"),  # Japan
        ("+61 2 9374 4000", "+61293744000"),  # Australia
        ("+91 98765 43210", "+919876543210"),  # India, mobile
        ("+55 11 91234-5678", "+5511912345678"),  # Brazil, mobile
        ("  +44 20 7946 0958  ", "+442079460958"),  # surrounding blanks
    ],
)
def test_valid_phone_number_is_accepted_in_e164_form(given: str, normalised: str) -> None:
    """Spaces, dashes and brackets go; the result is E.164."""
    assert normalize_phone(given) == normalised


@pytest.mark.parametrize(
    "region", ["US", "GB", "DE", "FR", "JP", "AU", "IN", "BR", "NG", "CN", "NU", "SH"]
)
def test_example_number_of_each_region_round_trips(region: str) -> None:
    """libphonenumber's own example number of a region is valid and already canonical."""
    example = example_number(region)
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    international = phonenumbers.format_number(
        example, phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    assert normalize_phone(international) == e164
    assert normalize_phone(e164) == e164


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("44 20 7946 0958", "no leading +"),
        ("0044 20 7946 0958", "international prefix instead of +"),
        ("020 7946 0958", "national format"),
        ("4155552671", "no leading +"),
        ("", "empty"),
        ("+", "only a plus"),
        ("+abc", "letters"),
        ("+999 123456", "unassigned country code"),
        ("+44 12", "too short for its region"),
        ("+1 555 0100", "too short for its region"),
        ("+1415555267100000", "too long"),
    ],
)
def test_invalid_phone_number_is_rejected_naming_to(given: str, why: str) -> None:
    """Invalid numbers are 60200 `Invalid parameter: To`."""
    with pytest.raises(InvalidParameter) as raised:
        normalize_phone(given)
    assert raised.value.parameter == "To", why
    assert str(raised.value).startswith("Invalid parameter: To")


def test_number_without_plus_is_rejected_with_its_reason() -> None:
    """The caller learns that E.164 needs the leading `+` (the region is not guessed)."""
    with pytest.raises(InvalidParameter, match=r"starts with \+"):
        normalize_phone("14155552671")


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice@Example.COM", "Alice@example.com"),
        ("  bob@EXAMPLE.org ", "bob@example.org"),
        ("first.last+tag@Sub.Example.CO.UK", "first.last+tag@sub.example.co.uk"),
        ("Ünïcode@Exämple.de", "Ünïcode@exämple.de"),
    ],
)
def test_email_is_normalised_with_a_lower_case_domain(given: str, normalised: str) -> None:
    """The domain is case-insensitive and lower-cased; the local part is kept as given."""
    assert normalize_email(given) == normalised


@pytest.mark.parametrize(
    "given",
    [
        "",
        "not-an-email",
        "a@b",
        "a@@b.com",
        "@example.com",
        "alice@",
        "a b@example.com",
        "alice@exa mple.com",
        "alice@example..com",
        "x" * 250 + "@example.com",
    ],
)
def test_invalid_email_is_rejected_naming_to(given: str) -> None:
    """A malformed or over-long address is 60200 naming `To`."""
    with pytest.raises(InvalidParameter) as raised:
        normalize_email(given)
    assert raised.value.parameter == "To"


def test_email_channel_takes_an_address_and_phone_channels_take_numbers() -> None:
    """The channel decides which rule applies to `To`."""
    assert normalize_destination(Channel.EMAIL, "A@Example.com") == "A@example.com"
    for channel in (Channel.SMS, Channel.CALL, Channel.WHATSAPP):
        assert normalize_destination(channel, "+44 20 7946 0958") == "+442079460958"
        with pytest.raises(InvalidParameter):
            normalize_destination(channel, "alice@example.com")
    with pytest.raises(InvalidParameter):
        normalize_destination(Channel.EMAIL, "+442079460958")


def test_check_by_to_normalises_either_kind() -> None:
    """A check by `To` has no channel: an `@` makes it an address, else a number."""
    assert normalize_any_destination("+44 20 7946 0958") == "+442079460958"
    assert normalize_any_destination("Bob@EXAMPLE.org") == "Bob@example.org"
    with pytest.raises(InvalidParameter):
        normalize_any_destination("20 7946 0958")


NUMBERS = [
    "+442079460958",
    "+14155552671",
    "+4930901820",
    "+919876543210",
    *(
        phonenumbers.format_number(example_number(region), phonenumbers.PhoneNumberFormat.E164)
        for region in ("NU", "SH", "TK", "FK", "US", "CN")
    ),
]


@pytest.mark.parametrize("number", NUMBERS)
def test_masked_number_never_shows_the_full_number(number: str) -> None:
    """Logs get country code and last two digits; the subscriber number stays hidden."""
    masked = mask_destination(number)
    assert masked != number
    assert number not in masked
    national = str(phonenumbers.parse(number).national_number)
    assert national not in masked
    assert masked.endswith(number[-2:])
    visible_digits = sum(c.isdigit() for c in masked)
    assert visible_digits <= 5
    assert visible_digits < sum(c.isdigit() for c in number)


def test_masked_number_keeps_its_length() -> None:
    """One mask character per hidden digit: '+44' + 8 hidden + '58'."""
    assert mask_destination("+442079460958") == "+44" + "•" * 8 + "58"


def test_masked_email_shows_only_the_domain() -> None:
    """The local part (the person) is hidden; the domain helps debugging delivery."""
    masked = mask_destination("alice.smith@example.com")
    assert masked == "•••@example.com"
    assert "alice" not in masked

"""SMS encoding and segment counts (3GPP TS 23.038 / 23.040)."""

from __future__ import annotations

import pytest

from verify_service.domain.messages.sms_encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsEncoding,
    is_gsm7,
    sms_segments,
    sms_size,
    sms_wire_text,
)

GSM7 = SmsEncoding.GSM7
UCS2 = SmsEncoding.UCS2


def test_the_gsm7_tables_have_their_standard_sizes() -> None:
    """128 codes less the escape; the default extension table has 10 characters."""
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (GSM7, 1)),
        ("a" * 160, (GSM7, 1)),
        ("a" * 161, (GSM7, 2)),
        ("a" * 306, (GSM7, 2)),
        ("a" * 307, (GSM7, 3)),
        ("é" * 160, (GSM7, 1)),  # é, ü, Ø... are in the default alphabet
        ("€" * 80, (GSM7, 1)),  # extension characters cost 2 septets
        ("€" * 81, (GSM7, 2)),
        ("ç" * 70, (UCS2, 1)),  # lower-case ç is not (only Ç is)
        ("ç" * 71, (UCS2, 2)),
        ("ж" * 134, (UCS2, 2)),
        ("ж" * 135, (UCS2, 3)),
        ("a" * 69 + "’", (UCS2, 1)),  # one typographic apostrophe makes it all UCS-2
        ("a" * 70 + "’", (UCS2, 2)),
    ],
    ids=lambda value: value if isinstance(value, tuple) else None,
)
def test_encoding_and_segments(text: str, expected: tuple[SmsEncoding, int]) -> None:
    """160/153 septets for GSM-7, 70/67 UTF-16 units for UCS-2."""
    assert sms_segments(text) == expected


def test_an_extension_character_never_straddles_two_parts() -> None:
    """306 septets fit 2 parts, unless `€` would start at septet 153: escape and character
    then move to the next part together."""
    assert sms_size("a" * 152 + "€" + "a" * 152).segments == 3
    assert sms_size("a" * 151 + "€" + "a" * 153).segments == 2


def test_ucs2_counts_utf16_code_units() -> None:
    """A character outside the BMP (an emoji) takes two units: a surrogate pair."""
    assert sms_segments("😀" * 35) == (UCS2, 1)
    assert sms_segments("😀" * 36) == (UCS2, 2)


def test_a_surrogate_pair_never_straddles_two_parts() -> None:
    """134 units fit 2 parts, unless a pair would start at unit 67: then it moves on."""
    assert sms_size("ж" * 66 + "😀" + "ж" * 66).segments == 3
    assert sms_size("ж" * 65 + "😀" + "ж" * 67).segments == 2


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("Don’t share", "Don't share"),
        ("“quoted” – dash…", '"quoted" - dash...'),
        ("12\u00a0500", "12 500"),
    ],
)
def test_typographic_lookalikes_are_replaced_when_that_makes_gsm7(text: str, wire: str) -> None:
    """Like Twilio's Smart Encoding: half the parts of UCS-2 for the same words."""
    assert sms_wire_text(text) == wire
    assert is_gsm7(sms_wire_text(text))


def test_text_that_stays_ucs2_keeps_its_typography() -> None:
    """Replacing look-alikes in Cyrillic text would save nothing."""
    text = "Don’t: ваш код"
    assert sms_wire_text(text) == text


def test_gsm7_text_is_sent_as_it_is() -> None:
    """Nothing to replace."""
    assert sms_wire_text("Your code is: 1234") == "Your code is: 1234"

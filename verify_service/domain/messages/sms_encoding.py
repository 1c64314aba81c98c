"""SMS encodings and segment counts (3GPP TS 23.038 alphabet, TS 23.040 concatenation).

A message whose every character is in the GSM 7-bit default alphabet travels as GSM-7:
160 septets in one SMS, 153 per part once it is split (a 6-byte concatenation header takes
the other 7). Characters of the extension table cost two septets (an escape, then the
character), and a part never ends between the two. Any other character makes the whole
message UCS-2: 70 UTF-16 code units in one SMS, 67 per part, a surrogate pair never split.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# TS 23.038 §6.2.1, in table order; 0x1B (escape to the extension table) is left out.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑ\u00dc\u00a7"  # ...Ü §
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# TS 23.038 §6.2.1.1, the default extension table: two septets each.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE_SEPTETS = 160
GSM7_PART_SEPTETS = 153
UCS2_SINGLE_UNITS = 70
UCS2_PART_UNITS = 67

# Look-alikes outside GSM-7 that typography puts into text (Twilio calls replacing them
# "Smart Encoding"). Only used when the replacement makes the whole message GSM-7.
_GSM7_LOOKALIKES = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark (the one in Twilio's wording)
        "\u201a": "'",  # single low-9 quotation mark
        "\u201b": "'",  # single high-reversed-9 quotation mark
        "\u2032": "'",  # prime
        "\u02bc": "'",  # modifier letter apostrophe
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u2033": '"',  # double prime
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2212": "-",  # minus sign
        "\u2026": "...",  # horizontal ellipsis
        "\u00a0": " ",  # no-break space
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow no-break space (French punctuation)
    }
)


class SmsEncoding(enum.StrEnum):
    """How an SMS body travels."""

    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SmsSize:
    """The encoding of an SMS body and the number of parts it is sent in."""

    encoding: SmsEncoding
    segments: int


def is_gsm7(text: str) -> bool:
    """Whether every character of `text` is in the GSM-7 default or extension table."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def sms_wire_text(text: str) -> str:
    """The body to hand to an SMS gateway: typographic look-alikes replaced when that makes
    the message GSM-7 (half the parts of UCS-2), otherwise `text` unchanged.
    """
    if is_gsm7(text):
        return text
    replaced = text.translate(_GSM7_LOOKALIKES)
    return replaced if is_gsm7(replaced) else text


def sms_size(text: str) -> SmsSize:
    """The encoding and segment count of `text` sent as it is (see `sms_wire_text`)."""
    if is_gsm7(text):
        costs = [2 if char in GSM7_EXTENSION else 1 for char in text]
        return SmsSize(SmsEncoding.GSM7, _parts(costs, GSM7_SINGLE_SEPTETS, GSM7_PART_SEPTETS))
    costs = [2 if ord(char) > 0xFFFF else 1 for char in text]  # UTF-16 code units
    return SmsSize(SmsEncoding.UCS2, _parts(costs, UCS2_SINGLE_UNITS, UCS2_PART_UNITS))


def sms_segments(text: str) -> tuple[SmsEncoding, int]:
    """`(encoding, segments)` of `text` sent as it is."""
    size = sms_size(text)
    return size.encoding, size.segments


def _parts(costs: list[int], single: int, per_part: int) -> int:
    """Parts needed when no character's units may straddle two parts."""
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return parts

"""The rules for caller text put into a message (docs/messages.md, "Text put into a message")."""

from __future__ import annotations

import pytest

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.messages.message_text import (
    is_link_like,
    is_wire_safe,
    require_name,
)

LINK_EVASIONS = [
    "evil.com",
    "Visit evil.com now",
    "EVIL.COM",
    "bit .ly/x",
    "bit . ly",
    "bit. ly/x",  # a space after the dot, then a path
    "evil. com/login",
    "evil∙com",  # bullet operator (U+2219)
    "evil⋅com",  # dot operator (U+22C5)
    "evil‧com",  # hyphenation point (U+2027)
    "evil˙com",  # dot above (U+02D9)
    "evil\ufe0f.com",  # a variation selector before the dot
    "evil.\u0301com",  # a combining accent after it
    "evil.\u2800com",  # the blank braille pattern after it
    "evil.\u3164com",  # a Hangul filler after it
    "evil。com",  # ideographic full stop (U+3002)
    "evil．com",  # full-width full stop (U+FF0E)
    "evil｡com",  # half-width ideographic full stop (U+FF61)
    "evil․com",  # one dot leader (U+2024)
    "evil﹒com",  # small full stop (U+FE52)
    "evil[.]com",
    "evil(dot)com",
    "evil [dot] com",
    "evil{.}com",
    "ｅｖｉｌ．ｃｏｍ",  # full-width letters
    "𝐞𝐯𝐢𝐥.𝐜𝐨𝐦",  # mathematical bold letters
    "ⓔⓥⓘⓛ.ⓒⓞⓜ",  # circled letters
    "evil\u200d.com",  # a joiner inside the host name
    "evil.c0m",
    "Node.js",
    "e v i l . c o m",
    "xn--80ak6aa92e.com",
    "пример.рф",
    "例子.中国",
    "hxxp evil",
    "hxxps://evil",
    "h**p://evil",
    "htxp evil",
    "http/evil",
    "https:evil",
    "http://evil.example",
    "ftp://evil",
    "evil://x",
    "www evil",
    "WWW2 Acme",
    "mailto:a",
    "javascript:alert(1)",
    "10.0.0.1",
    "Acme @evil.io #123456",
]

LEGIT_NAMES = [
    "ม.ร.ว.สุขุมพันธุ์ บริพัตร",  # Thai: a title with dots, then vowel marks (combining)
    "ม.ร.ว.คึกฤทธิ์ ปราโมช",
    "Acme Inc. Sales/Support",
    "Dr. Who / Clinic",
    "Acme",
    "Acme Inc.",
    "Dr. Smith",
    "Acme Co. Ltd",
    "J.R.R. Books",
    "U.S.A. Bank",
    "Ph.D. Tutors",
    "Version 2.0",
    "AT&T",
    "Café Zoë",
    "Col·legi d'Advocats",  # Catalan middle dot
    "ジョン・スミス",  # Japanese middle dot
    "腾讯",
    "阿里巴巴。",  # a final ideographic full stop
    "می‌خواهم",  # Persian, with a zero width non-joiner
    "👨‍👩‍👧 Family",  # an emoji sequence with joiners
    "Müller & Söhne",
    "Acme: Sign-in",
    "Acme/Beta",
    "Shop 24/7",
    "Over HTTP",
    "FTP Services",
]


@pytest.mark.parametrize("name", LINK_EVASIONS)
def test_a_link_in_any_spelling_is_link_like(name: str) -> None:
    """Each known evasion of the no-links rule is still a link."""
    assert is_link_like(name)
    with pytest.raises(InvalidParameter) as refused:
        require_name(name, "FriendlyName")
    assert refused.value.parameter == "FriendlyName"


@pytest.mark.parametrize("name", LEGIT_NAMES)
def test_a_legitimate_name_passes(name: str) -> None:
    """Abbreviations, scripts, joiners and punctuation of real names are accepted."""
    assert not is_link_like(name)
    assert require_name(name, "FriendlyName") == name


UNSAFE_CHARACTERS = [
    ("\r", "carriage return"),
    ("\n", "line feed"),
    ("\x00", "NUL"),
    ("\t", "tab"),
    ("\x1b", "escape"),
    ("\x7f", "delete"),
    ("\x85", "next line (C1)"),
    ("\x9b", "control sequence introducer (C1)"),
    ("\ud800", "lone high surrogate"),
    ("\udfff", "lone low surrogate"),
    ("\u202a", "left-to-right embedding"),
    ("\u202b", "right-to-left embedding"),
    ("\u202c", "pop directional formatting"),
    ("\u202d", "left-to-right override"),
    ("\u202e", "right-to-left override"),
    ("\u2066", "left-to-right isolate"),
    ("\u2067", "right-to-left isolate"),
    ("\u2068", "first strong isolate"),
    ("\u2069", "pop directional isolate"),
    ("\u200e", "left-to-right mark"),
    ("\u200f", "right-to-left mark"),
    ("\u061c", "Arabic letter mark"),
    ("\u200b", "zero width space"),
    ("\ufeff", "byte order mark"),
    ("\u00ad", "soft hyphen"),
    ("\u2028", "line separator"),
    ("\u2029", "paragraph separator"),
    ("\ue000", "private use"),
    ("\U000e0041", "tag letter"),
    ("\u0378", "unassigned"),
]


@pytest.mark.parametrize(("char", "what"), UNSAFE_CHARACTERS)
def test_a_control_or_invisible_character_is_refused(char: str, what: str) -> None:
    """Controls, surrogates, bidi and other format characters: 60200 naming the parameter,
    without the value."""
    assert not is_wire_safe(f"Acme{char}Bank"), what
    with pytest.raises(InvalidParameter) as refused:
        require_name(f"Acme{char}Bank", "CustomFriendlyName")
    assert refused.value.parameter == "CustomFriendlyName"
    assert "Acme" not in str(refused.value)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "x" * 31,
        "\u0301\u0301",
        "\u3000",
        "\u2800",  # blank braille pattern
        "\u3164",  # Hangul filler
        "\u115f\u1160",  # Hangul choseong and jungseong fillers
        "\uffa0",  # half-width Hangul filler
        "\U0001d159",  # musical null notehead
        "\u2800 \u3164",
    ],
)
def test_a_name_shows_one_to_thirty_characters(name: str) -> None:
    """Empty, blank (spaces, fillers that show nothing), only combining marks, or longer
    than 30: refused."""
    with pytest.raises(InvalidParameter):
        require_name(name, "FriendlyName")


def test_outer_spaces_are_trimmed() -> None:
    """A name is stored and sent without its outer spaces."""
    assert require_name("  Acme  ", "FriendlyName") == "Acme"


@pytest.mark.parametrize(
    "name",
    [
        "=?utf-8?q?=0AX-Injected:yes?=",
        "=?l1?q?=0AFrom:x=40y=2Eio?=",
        "Acme =?UTF-8?B?4oCuQWNtZQ==?=",
        "=?utf-8?q?a=0D=0Ab?=",
        "A =?utf 8?q?=0ABcc:x@y?= B",  # a space in the charset: still decoded
        "=?utf-8?q?=0A",  # no closing ?=: still decoded
    ],
)
def test_a_mime_encoded_word_in_a_name_is_refused(name: str) -> None:
    """A name goes into an e-mail's Subject, where a mail library decodes `=?…?=`: `=0A`
    would become a line break and a header of the caller's choosing."""
    with pytest.raises(InvalidParameter, match="encoded words"):
        require_name(name, "FriendlyName")

"""Rules for caller-supplied text that ends up in a message (docs/messages.md, "Text put
into a message").

Three rules, checked when the text arrives (a start, a service create or update), so that
a message the service accepted can always be delivered:

- **wire-safe** (`require_wire_safe`): no control characters (C0, DEL, C1), no lone
  surrogates, no format characters (bidi embeddings, overrides and isolates, marks, zero
  width spaces, BOM, soft hyphen, tag characters), no line or paragraph separators, no
  private-use or unassigned code points. Every such text encodes as UTF-8, fits an e-mail
  header, an XML (TwiML) document and a JSON body, and is shown as written. The two
  joiners (U+200C, U+200D) stay allowed: Persian, Indic scripts and emoji need them.
- **displayed** (`require_displayed`): at least one character that shows (a letter, digit,
  punctuation or symbol), not only spaces and combining marks.
- **no links** (`is_link_like`), for names: nothing a phone, mail reader or person would
  take for a web address, including the usual evasions (`bit .ly`, `evil。com`, `hxxp`).
- **no encoded words**, for names (they go into an e-mail's Subject): no `=?`, the opening
  of `=?charset?q|b?…?=`, which a mail library decodes (leniently), so `=0A` would become a
  line break and a new header (RFC 2047).
"""

from __future__ import annotations

import re
import unicodedata

from verify_service.domain.errors import InvalidParameter

# Twilio: "up to 30 characters"; the name is sent in every message.
MAX_NAME_LENGTH = 30

# Joiners shape Persian, Indic scripts and emoji sequences; every other format character
# (category Cf: bidi controls, zero-width space, BOM, soft hyphen, tags) is refused.
_ALLOWED_FORMAT = frozenset("\u200c\u200d")
# Cc: C0, DEL, C1; Cs: lone surrogates; Co: private use; Cn: unassigned;
# Zl, Zp: U+2028, U+2029 (line breaks to JavaScript and some mail readers).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})
_SHOWN_CATEGORIES = ("L", "N", "P", "S")
# Letters and symbols that show as blank space: Hangul fillers, the blank braille pattern,
# the musical null notehead. A name of only these (and spaces) shows nothing.
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800\U0001d159")
# The opening of an RFC 2047 encoded word: mail libraries decode `=?charset?q?…` inside a
# header, leniently (a space in the charset, no closing `?=`), so any `=?` is refused.
_ENCODED_WORD_OPENING = "=?"
# Marks that change nothing a reader sees: variation selectors, the grapheme joiner,
# Mongolian free variation selectors. Dropped anywhere; other combining marks are dropped only
# right after a dot (`evil.\u0301com`), since Thai vowels and Indic signs are combining marks.
_INVISIBLE_MARKS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef\u034f\u180b-\u180f]")
_MARKS_AFTER_DOT = re.compile(r"(?<=\.)\s*[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff]+")

# Characters that read as a full stop in a host name: browsers and phones treat the
# ideographic and full-width stops as dots (UTS #46), the others look like one. (Middle
# dots are not among them: Catalan "l·l" and Japanese "ジョン・スミス" are names.)
_DOT_LOOK_ALIKES = (
    "\u3002\uff0e\uff61\u2024\ufe52\u06d4\u0701\u0702\u2e3c\ua60e"
    "\u2219\u22c5\u2027\u02d9"  # bullet and dot operators, hyphenation point, dot above
)
_TO_DOT = str.maketrans(dict.fromkeys(_DOT_LOOK_ALIKES, "."))
# "evil[.]com", "evil(dot)com", "evil {dot} com": the written-out dot of a defanged link.
_WRITTEN_DOT = re.compile(r"\s*[\[({<]\s*(?:\.|dot)\s*[\])}>]\s*", re.IGNORECASE)
_LINK_LIKE = re.compile(
    r"""
      ://  |  :\\                                 # any scheme, or a UNC-ish path
    | \b(?:https?|ftp)\s*[:/]                     # http: or http/ (the word alone is fine)
    | \bh(?!tt)[tx*]{2}ps?\b                      # hxxp, hxxps, h**p, htxp: defanged http
    | \bwww\d*\b                                 # www, www2
    | \b(?:mailto|tel|sms|file|data|javascript):  # other schemes that open something
    | \w\.[^\W\d_]\w                              # label.tld: evil.com, evil.c0m, 例子.中国
    | \w\s+\.\s*[^\W\d_]                          # spaced dot: "bit .ly", "bit . ly"
    | \w\.\s+[a-z]{2,3}/                          # dot, space, short label, path: "bit. ly/x"
    | \d+\.\d+\.\d+\.\d+                          # an IPv4 address
    """,
    re.VERBOSE,
)


def require_wire_safe(value: str, parameter: str) -> str:
    """`value` if it has no character that a message cannot carry (see the module's rules);
    otherwise 60200 naming `parameter` (never the value)."""
    if not is_wire_safe(value):
        raise InvalidParameter(parameter, "control or invisible formatting characters")
    return value


def is_wire_safe(value: str) -> bool:
    """No control, surrogate, format (but the joiners), separator, private or unassigned
    character."""
    for char in value:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES or (category == "Cf" and char not in _ALLOWED_FORMAT):
            return False
    return True


def require_displayed(value: str, parameter: str) -> str:
    """`value` if it shows at least one letter, digit, punctuation mark or symbol."""
    if not any(
        unicodedata.category(char).startswith(_SHOWN_CATEGORIES) and char not in _BLANK
        for char in value
    ):
        raise InvalidParameter(parameter, "no visible characters")
    return value


def link_skeleton(value: str) -> str:
    """The form the no-links rule reads: compatibility characters folded (full-width,
    mathematical and circled letters become plain ones), joiners removed, every dot
    look-alike and written-out dot made a `.`, lower case; then invisible marks (variation
    selectors, the grapheme joiner), accents right after a dot and blank fillers dropped,
    since `evil\ufe0f.com` and `evil.\u0301com` read as `evil.com`."""
    # Dots first: NFKC decomposes some look-alikes (U+02D9 becomes a space and a mark).
    folded = unicodedata.normalize("NFKC", value.translate(_TO_DOT)).casefold()
    folded = folded.replace("\u200c", "").replace("\u200d", "").translate(_TO_DOT)
    folded = _MARKS_AFTER_DOT.sub("", _INVISIBLE_MARKS.sub("", folded))
    folded = "".join(char for char in folded if char not in _BLANK)
    return _WRITTEN_DOT.sub(".", folded)


def is_link_like(value: str) -> bool:
    """True for text a reader (human or machine) could take for a link (docs/messages.md)."""
    return _LINK_LIKE.search(link_skeleton(value)) is not None


def require_name(value: str, parameter: str) -> str:
    """A name put into every message (`FriendlyName`, `CustomFriendlyName`): 1-30
    characters, wire-safe, displayed, and no links. Returns it without outer spaces."""
    name = require_wire_safe(value, parameter).strip()
    if not 0 < len(name) <= MAX_NAME_LENGTH:
        raise InvalidParameter(parameter, f"1-{MAX_NAME_LENGTH} characters")
    require_displayed(name, parameter)
    if is_link_like(name):
        raise InvalidParameter(parameter, "no links or web addresses")
    if _ENCODED_WORD_OPENING in name:
        raise InvalidParameter(parameter, "no MIME encoded words (=?…?=)")
    return name

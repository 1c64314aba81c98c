"""What the no-links rule reads of an `email_html`: the text as written, as a mail reader
decodes its character references, and as it shows its text.

A mail reader decodes HTML character references (`&#46;` and `&period;` are a dot,
`&colon;` a colon) in text and attribute values alike, so `<a href="https&colon;//evil&#46;com">`
is a link though its source reads as none. And it shows the text of inline elements and
comments run together: `evil<b></b>.com` and `evil<!-- -->.com` show `evil.com` (a reader
may link it). `link_readings` gives these forms; a template (`checks.py`) or a start's
message (`application/verifications`) without `AllowLinks` must pass the no-links rule on
each. Block elements (`<p>`, `<td>`, `<br>`…) separate words, as they do on screen.
"""

from __future__ import annotations

import html
import re

# Elements whose text runs on with the text around them (phrasing content that shows
# inline); any other tag separates words.
INLINE_ELEMENTS = frozenset(
    {"a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "dfn", "em", "font", "i",
     "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time",
     "tt", "u", "var", "wbr"}
)  # fmt: skip


# Linear-time readings (no backtracking): html.parser is quadratic on unclosed tags and
# raises on some declarations (`<![x>`), and this runs at save and at every start.
# A comment ends as a browser ends it: at once after `<!-->` or `<!--->`, else at the first
# `-->` or `--!>`.
_COMMENT = re.compile(r"<!--(?:-?>|.*?(?:--!?>|\Z))", re.DOTALL)
_DECLARATION = re.compile(r"<[!?][^>]*>?")
# A tag read two ways, both kept: to its first `>`, and past a `>` inside a quoted value
# (`<b title=">">`, which a browser reads as one tag). Either alone could hide a link from
# the other's reading (`evil<b ">.com<i ">`).
_TAGS = (
    re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)[^>]*>?"),
    re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)(?:\"[^\"]*\"?|'[^']*'?|[^'\">])*>?"),
)


def _tag(match: re.Match[str]) -> str:
    return "" if match.group(1).lower() in INLINE_ELEMENTS else " "


def shown_texts(source: str) -> tuple[str, ...]:
    """The text of `source` as a mail reader shows it: comments and inline tags gone (their
    text runs together), other tags and declarations a space, references decoded; once per
    reading of the tags."""
    text = _DECLARATION.sub(" ", _COMMENT.sub("", source))
    return tuple(html.unescape(tags.sub(_tag, text)) for tags in _TAGS)


def link_readings(source: str) -> tuple[str, ...]:
    """`source`, decoded, and as shown (each when it differs from those before)."""
    readings = [source]
    for reading in (html.unescape(source), *shown_texts(source)):
        if reading not in readings:
            readings.append(reading)
    return tuple(readings)

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
from html.parser import HTMLParser

# Elements whose text runs on with the text around them (phrasing content that shows
# inline); any other tag separates words.
INLINE_ELEMENTS = frozenset(
    {"a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "dfn", "em", "font", "i",
     "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time",
     "tt", "u", "var", "wbr"}
)  # fmt: skip


class _ShownText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def _tag(self, tag: str) -> None:
        if tag not in INLINE_ELEMENTS:
            self.parts.append(" ")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        del attrs  # attribute values are read by the decoded reading
        self._tag(tag)

    def handle_endtag(self, tag: str) -> None:
        self._tag(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        del attrs
        self._tag(tag)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def shown_text(source: str) -> str:
    """The text of `source` as a mail reader shows it: references decoded, inline tags and
    comments run together, other tags a space."""
    parser = _ShownText()
    parser.feed(source)
    parser.close()
    return "".join(parser.parts)


def link_readings(source: str) -> tuple[str, ...]:
    """`source`, decoded, and as shown (each when it differs from those before)."""
    readings = [source]
    for reading in (html.unescape(source), shown_text(source)):
        if reading not in readings:
            readings.append(reading)
    return tuple(readings)

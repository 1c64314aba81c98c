"""What the no-links rule reads of an `email_html`: the text as written, and as a mail
reader decodes it.

A mail reader decodes HTML character references (`&#46;` and `&period;` are a dot,
`&colon;` a colon) in text and attribute values alike, so `<a href="https&colon;//evil&#46;com">`
is a link though its source reads as none. `link_readings` gives both forms; a template
(`checks.py`) or a start's message (`application/verifications`) without `AllowLinks`
must pass the no-links rule on each.
"""

from __future__ import annotations

import html


def link_readings(source: str) -> tuple[str, ...]:
    """`source`, and `source` with its character references decoded (when they change it)."""
    decoded = html.unescape(source)
    return (source,) if decoded == source else (source, decoded)

"""What the no-links rule reads of an `email_html` (domain/templates/html_reading.py): the
text as a mail reader shows it, read in linear time whatever the HTML."""

from __future__ import annotations

import time

import pytest

from verify_service.domain.templates.html_reading import link_readings

# Seconds only a quadratic reading of the long inputs below would take (minutes or more):
# a hang guard, not a timing.
HANG = 30


@pytest.mark.parametrize(
    ("html", "shown"),
    [
        ("<p>evil<!-->.com</p>", " evil.com "),  # a browser ends `<!-->` at once
        ("<p>evil<!--->.com</p>", " evil.com "),
        ("<p>evil<!-- x --!>.com</p>", " evil.com "),
        ('<p>evil<b title=">">.</b>com</p>', " evil.com "),  # a `>` inside a quoted value
        ('evil<b ">.com<i ">', "evil.com"),  # a stray quote: the tag still ends at its `>`
        ("evil<b></b>.com", "evil.com"),
        ("evil&#46;com", "evil.com"),
    ],
)
def test_a_link_a_mail_reader_shows_is_among_the_readings(html: str, shown: str) -> None:
    """Each was shown as `evil.com` by a browser while the readings had none (the first
    four found by the review of the merged change)."""
    assert shown in link_readings(html)


@pytest.mark.parametrize(
    "html",
    ['<b title="' * 200_000, "<b '" * 200_000, "<!--" * 200_000, "<a " * 200_000, "<![x>" * 1000],
    ids=["open quotes", "stray quotes", "open comments", "open tags", "declarations"],
)
def test_odd_html_is_read_in_linear_time(html: str) -> None:
    started = time.perf_counter()
    link_readings("<p>x</p>" + html)
    assert time.perf_counter() - started < HANG

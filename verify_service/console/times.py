"""Times as the console shows and reads them: in the configured display time zone
(`VERIFY_CONSOLE_TIME_ZONE`, an IANA name, default UTC), always with the zone's abbreviation,
so a time read aloud to a colleague elsewhere is never ambiguous."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# What an HTML `datetime-local` input sends (seconds optional).
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def shown_time(milliseconds: int | None, zone: ZoneInfo) -> str:
    """`2026-03-29 03:30:00 CEST`: the moment in `zone`, with its abbreviation."""
    if milliseconds is None:
        return "—"
    moment = datetime.fromtimestamp(milliseconds / 1000, tz=zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or zone.key)


def input_value(milliseconds: int | None, zone: ZoneInfo) -> str:
    """The value of a `datetime-local` input for the moment, in `zone`."""
    if milliseconds is None:
        return ""
    return datetime.fromtimestamp(milliseconds / 1000, tz=zone).strftime("%Y-%m-%dT%H:%M")


def parse_local(text: str, zone: ZoneInfo) -> int | None:
    """A `datetime-local` value read as a wall-clock time in `zone`, in epoch milliseconds;
    None when it is empty or malformed. A wall time a clock change skips or repeats is read
    as the earlier of its meanings (`fold=0`)."""
    text = text.strip()
    for layout in _LOCAL_FORMATS:
        try:
            naive = datetime.strptime(text, layout)  # a wall-clock time: the zone is set next
        except ValueError:
            continue
        return int(naive.replace(tzinfo=zone).timestamp() * 1000)
    return None

"""The console's display time zone (`VERIFY_CONSOLE_TIME_ZONE`): how times are shown and how
the audit filter's wall-clock times are read, across clock changes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from verify_service.console.times import input_value, parse_local, shown_time
from verify_service.settings import KNOWN_VARIABLES, ConfigError, Settings

BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")
SUMMER_MS = 1_790_000_000_000  # 2026-09-21 14:13:20 UTC
WINTER_MS = 1_800_000_000_000  # 2027-01-15 08:00:00 UTC
BASE_ENV: dict[str, str] = {}  # the embedded store: no other variable is needed


def test_times_show_the_zone_s_wall_clock_and_abbreviation() -> None:
    """Summer and winter in Berlin, and UTC by default."""
    assert shown_time(SUMMER_MS, BERLIN) == "2026-09-21 16:13:20 CEST"
    assert shown_time(WINTER_MS, BERLIN) == "2027-01-15 09:00:00 CET"
    assert shown_time(SUMMER_MS, UTC_ZONE) == "2026-09-21 14:13:20 UTC"
    assert shown_time(None, BERLIN) == "—"


def test_a_zone_without_an_abbreviation_shows_its_offset() -> None:
    """tzdata names some zones' times by their offset only (`-03`)."""
    assert shown_time(SUMMER_MS, ZoneInfo("Asia/Kolkata")) == "2026-09-21 19:43:20 IST"
    assert shown_time(SUMMER_MS, ZoneInfo("America/Sao_Paulo")).endswith(" -03")


def test_a_filter_time_is_read_as_wall_clock_time_in_the_zone() -> None:
    """`2026-09-21T16:13` in Berlin is 14:13 UTC; seconds are optional; junk is None."""
    assert parse_local("2026-09-21T16:13", BERLIN) == SUMMER_MS - 20_000
    assert parse_local("2026-09-21T16:13:20", BERLIN) == SUMMER_MS
    assert parse_local("2026-09-21T14:13", UTC_ZONE) == SUMMER_MS - 20_000
    for junk in ("", "yesterday", "2026-13-01T00:00", "2026-09-21 16:13"):
        assert parse_local(junk, BERLIN) is None


def test_a_filter_time_round_trips_through_the_input() -> None:
    """The form shows a moment as the value it would read back (to the minute)."""
    value = input_value(SUMMER_MS, BERLIN)
    assert value == "2026-09-21T16:13"
    assert parse_local(value, BERLIN) == SUMMER_MS - 20_000


def test_a_skipped_or_repeated_wall_time_reads_as_its_earlier_meaning() -> None:
    """Clock changes: 02:30 on the last Sunday of October happens twice (fold=0: CEST)."""
    repeated = parse_local("2026-10-25T02:30", BERLIN)
    assert repeated is not None
    assert shown_time(repeated, BERLIN) == "2026-10-25 02:30:00 CEST"


def test_the_setting_takes_an_iana_name_and_defaults_to_utc() -> None:
    """Unset: UTC; an IANA name is kept; it is a known variable."""
    assert Settings.from_env(BASE_ENV).console_time_zone == "UTC"
    env = {**BASE_ENV, "VERIFY_CONSOLE_TIME_ZONE": "Europe/Berlin"}
    assert Settings.from_env(env).console_time_zone == "Europe/Berlin"
    assert "VERIFY_CONSOLE_TIME_ZONE" in KNOWN_VARIABLES


@pytest.mark.parametrize("name", ["Mars/Olympus", "Europe", "../../etc/passwd", "/etc/localtime"])
def test_the_setting_refuses_what_is_not_a_time_zone(name: str) -> None:
    """A typo stops the start with a clear message instead of showing wrong times."""
    with pytest.raises(ConfigError, match="VERIFY_CONSOLE_TIME_ZONE must be an IANA"):
        Settings.from_env({**BASE_ENV, "VERIFY_CONSOLE_TIME_ZONE": name})

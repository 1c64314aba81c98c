"""Twilio-style SIDs: two letters and 32 lower-case hex digits; `VE` sids carry a tag."""

from __future__ import annotations

import pytest

from verify_service.domain.sids import (
    SID_PATTERN,
    VERIFICATION_TAG_HEX_DIGITS,
    is_sid,
    new_sid,
    new_verification_sid,
    verification_tag,
)

TAG = "0123456789abcdef0123"


@pytest.mark.parametrize("prefix", ["VA", "VE", "VL", "AC"])
def test_new_sid_has_the_prefix_and_32_hex_digits(prefix: str) -> None:
    """34 characters in all, as Twilio's SDK expects."""
    sid = new_sid(prefix)
    assert len(sid) == 34
    assert sid.startswith(prefix)
    assert SID_PATTERN.fullmatch(sid)
    assert is_sid(sid, prefix)


def test_new_sids_are_random() -> None:
    """Sids are not guessable from one another."""
    assert len({new_sid("VA") for _ in range(500)}) == 500


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("VA" + "0" * 31, "VA"),  # too short
        ("VA" + "0" * 33, "VA"),  # too long
        ("VA" + "A" * 32, "VA"),  # upper-case hex
        ("VA" + "g" * 32, "VA"),  # not hex
        ("va" + "0" * 32, "VA"),  # lower-case prefix
        ("VE" + "0" * 32, "VA"),  # another prefix
        ("", "VA"),
        ("VA", "VA"),
        ("VA" + "0" * 32 + "\n", "VA"),  # trailing newline
        ("VA" + "0" * 31 + "/", "VA"),  # path character
    ],
)
def test_malformed_sid_is_not_a_sid(value: str, prefix: str) -> None:
    """Only the exact shape counts; a near miss is refused before any store look-up."""
    assert not is_sid(value, prefix)


def test_verification_sid_starts_with_its_storage_tag() -> None:
    """The first 20 hex digits are the destination's tag, the last 12 are random."""
    sid = new_verification_sid(TAG)
    assert VERIFICATION_TAG_HEX_DIGITS == 20
    assert is_sid(sid, "VE")
    assert sid[2:22] == TAG
    assert verification_tag(sid) == TAG


def test_verification_sids_for_one_tag_differ() -> None:
    """Two verifications for one destination, one after another, get different sids."""
    sids = {new_verification_sid(TAG) for _ in range(200)}
    assert len(sids) == 200


@pytest.mark.parametrize(
    "value",
    [
        "VA" + "0" * 32,  # a service sid
        "VE" + "0" * 31,
        "VE" + "Z" * 32,
        "VE../../etc/passwd",
        "",
    ],
)
def test_malformed_verification_sid_has_no_tag(value: str) -> None:
    """A malformed sid never reaches a Redis key name."""
    assert verification_tag(value) is None

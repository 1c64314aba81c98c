"""The pure rules of abuse protection: Fraud Guard's trip rule, geo permissions, the
protection settings' validation and test destinations."""

from __future__ import annotations

import pytest

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.models import Channel
from verify_service.domain.protection.fraud_guard import BreakerSettings, settled_sends, should_trip
from verify_service.domain.protection.geo_permissions import (
    DEFAULT_HIGH_RISK_COUNTRIES,
    GeoPermissions,
    parse_geo_permissions,
)
from verify_service.domain.protection.protection_settings import (
    FraudGuardMode,
    parse_test_destinations,
    validate_protection_changes,
)


def breaker(mode: FraudGuardMode = FraudGuardMode.BLOCK) -> BreakerSettings:
    return BreakerSettings(
        mode, min_sends=20, min_approval_rate=20, window_seconds=3600, cooldown_seconds=43200
    )


@pytest.mark.parametrize(
    ("settled", "approvals", "trips"),
    [
        (19, 0, False),  # below the volume needed to judge
        (20, 0, True),
        (20, 3, True),  # 15 %
        (20, 4, False),  # exactly 20 % is enough
        (1000, 199, True),
        (1000, 200, False),
    ],
)
def test_a_prefix_trips_on_volume_without_approvals(
    settled: int, approvals: int, trips: bool
) -> None:
    assert should_trip(settled, approvals, breaker()) is trips


def test_monitor_mode_judges_like_block_mode_and_off_never_trips() -> None:
    assert should_trip(50, 0, breaker(FraudGuardMode.MONITOR))
    assert not should_trip(50, 0, breaker(FraudGuardMode.OFF))


def test_sends_still_within_the_grace_period_are_not_judged() -> None:
    assert settled_sends(30, 12) == 18
    assert settled_sends(5, 9) == 0


def test_by_default_every_country_but_the_high_risk_list_is_allowed() -> None:
    geo = GeoPermissions()
    for channel in (Channel.SMS, Channel.CALL, Channel.WHATSAPP):
        assert geo.permits(channel, "US")
        assert geo.permits(channel, "GB")
        for country in DEFAULT_HIGH_RISK_COUNTRIES:
            assert not geo.permits(channel, country)
        assert not geo.permits(channel, None)  # +800, +882…: no country
    assert geo.permits(Channel.EMAIL, None)


def test_an_allow_list_is_exclusive_and_re_enables_listed_high_risk_countries() -> None:
    geo = parse_geo_permissions('{"sms": {"allowed": ["us", "UZ"]}}')
    assert geo.permits(Channel.SMS, "US")
    assert geo.permits(Channel.SMS, "UZ")
    assert not geo.permits(Channel.SMS, "GB")
    assert not geo.permits(Channel.CALL, "UZ")  # other channels keep the defaults


def test_a_block_list_replaces_the_defaults_and_wins_over_an_allow_list() -> None:
    geo = parse_geo_permissions(
        {"call": {"blocked": []}, "whatsapp": {"allowed": ["GB", "FR"], "blocked": ["FR"]}}
    )
    assert geo.permits(Channel.CALL, "UZ")
    assert geo.permits(Channel.WHATSAPP, "GB")
    assert not geo.permits(Channel.WHATSAPP, "FR")


@pytest.mark.parametrize(
    "bad",
    [
        "[1]",
        "{",
        '{"email": {}}',
        '{"sms": {"allowed": "US"}}',
        '{"sms": {"allowed": ["XX"]}}',
        '{"sms": {"only": ["US"]}}',
    ],
)
def test_malformed_geo_permissions_are_60200(bad: str) -> None:
    with pytest.raises(InvalidParameter) as error:
        parse_geo_permissions(bad)
    assert error.value.parameter == "GeoPermissions"


def test_geo_permissions_round_trip_through_their_stored_form() -> None:
    geo = parse_geo_permissions('{"sms": {"allowed": ["US"], "blocked": ["CA"]}}')
    assert GeoPermissions.from_json(geo.to_json()) == geo


def test_protection_settings_are_range_checked() -> None:
    with pytest.raises(InvalidParameter):
        validate_protection_changes({"sends_per_destination_per_hour": -1})
    with pytest.raises(InvalidParameter):
        validate_protection_changes({"fraud_guard_window_seconds": 60})
    with pytest.raises(InvalidParameter):
        validate_protection_changes({"fraud_guard_mode": "loud"})
    changes = {"daily_send_cap": 0, "fraud_guard_mode": "monitor"}
    validate_protection_changes(changes)
    assert changes == {"daily_send_cap": 0, "fraud_guard_mode": "monitor"}


def test_test_destinations_are_normalised_and_checked() -> None:
    parsed = parse_test_destinations('{"+1 (415) 555-2671": "123456", "QA@Example.com": "0000"}')
    assert dict(parsed)["+14155552671"] == "123456"
    assert len(parsed) == 2
    for bad in ('{"+14155552671": "12"}', '{"not a number": "123456"}', "[]", '{"a@b.co": 5}'):
        with pytest.raises(InvalidParameter):
            parse_test_destinations(bad)

"""Channel fallback rules (domain, no I/O)."""

from __future__ import annotations

import pytest

from verify_service.domain.delivery.fallback import FallbackStep, next_step, parse_fallback_channels
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.models import Channel
from verify_service.domain.service import Service, validate_service_changes


def test_fallback_channels_parse_in_order() -> None:
    assert parse_fallback_channels(["call", " WhatsApp "]) == (Channel.CALL, Channel.WHATSAPP)
    assert parse_fallback_channels([]) == ()


@pytest.mark.parametrize("values", [["email"], ["fax"], ["sms", "sms"], [""]])
def test_fallback_channels_refuse_other_values(values: list[str]) -> None:
    with pytest.raises(InvalidParameter) as raised:
        parse_fallback_channels(values)
    assert raised.value.parameter == "FallbackChannels"


def test_fallback_after_seconds_range() -> None:
    assert validate_service_changes({"fallback_after_seconds": 30})
    assert validate_service_changes({"fallback_after_seconds": 600})
    for wrong in (29, 601):
        with pytest.raises(InvalidParameter):
            validate_service_changes({"fallback_after_seconds": wrong})


def test_next_step_follows_the_list_for_phone_channels_only() -> None:
    channels = (Channel.CALL, Channel.WHATSAPP)
    assert next_step(channels, 60, Channel.SMS, 0, 1_000) == FallbackStep(1, 61_000)
    assert next_step(channels, 60, Channel.CALL, 1, 1_000) == FallbackStep(2, 61_000)
    assert next_step(channels, 60, Channel.WHATSAPP, 2, 1_000) is None
    assert next_step(channels, 60, Channel.EMAIL, 0, 1_000) is None
    assert next_step((), 60, Channel.SMS, 0, 1_000) is None


def test_stored_channels_come_back_as_channels() -> None:
    service = Service.from_mapping(
        {
            "sid": "VA" + "0" * 32,
            "friendly_name": "Acme",
            "date_created_ms": 0,
            "date_updated_ms": 0,
            "fallback_channels": ["call"],
        }
    )
    assert service.fallback_channels == (Channel.CALL,)

"""`validate_service_changes`: the ranges of the Service parameters the service honours."""

from __future__ import annotations

from typing import Any

import pytest

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.service import Service, validate_service_changes


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"friendly_name": "Acme"},
        {"friendly_name": "x"},
        {"friendly_name": "x" * 30},
        {"friendly_name": "Acme Bank Ltd."},
        {"friendly_name": "Café Zoë"},
        {"code_length": 4},
        {"code_length": 6},
        {"code_length": 10},
        {"verification_ttl_seconds": 60},
        {"verification_ttl_seconds": 600},
        {"verification_ttl_seconds": 86_400},
        {"totp_time_step": 20},
        {"totp_time_step": 60},
        {"totp_code_length": 3},
        {"totp_code_length": 8},
        {"totp_skew": 0},
        {"totp_skew": 2},
        {"totp_time_step": None, "totp_code_length": None, "totp_skew": None},
        {"lookup_enabled": True, "tts_name": "Anything", "psd2_enabled": True},
    ],
)
def test_values_in_range_are_accepted_unchanged(changes: dict[str, Any]) -> None:
    """Valid changes come back as they went in."""
    assert validate_service_changes(dict(changes)) == changes


@pytest.mark.parametrize(
    ("changes", "wire_name"),
    [
        ({"friendly_name": ""}, "FriendlyName"),
        ({"friendly_name": "   "}, "FriendlyName"),
        ({"friendly_name": "x" * 31}, "FriendlyName"),
        ({"friendly_name": "Visit http://evil.example"}, "FriendlyName"),
        ({"friendly_name": "https://evil.example"}, "FriendlyName"),
        ({"friendly_name": "HTTPS://EVIL.EXAMPLE"}, "FriendlyName"),
        ({"friendly_name": "www.evil.example"}, "FriendlyName"),
        ({"friendly_name": "WWW.Evil.Example"}, "FriendlyName"),
        ({"friendly_name": "http:evil"}, "FriendlyName"),
        ({"friendly_name": "ftp://evil"}, "FriendlyName"),
        ({"code_length": 3}, "CodeLength"),
        ({"code_length": 11}, "CodeLength"),
        ({"code_length": 0}, "CodeLength"),
        ({"code_length": -6}, "CodeLength"),
        ({"verification_ttl_seconds": 59}, "VerificationTtlSeconds"),
        ({"verification_ttl_seconds": 86_401}, "VerificationTtlSeconds"),
        ({"verification_ttl_seconds": 0}, "VerificationTtlSeconds"),
        ({"totp_time_step": 19}, "Totp.TimeStep"),
        ({"totp_time_step": 61}, "Totp.TimeStep"),
        ({"totp_code_length": 2}, "Totp.CodeLength"),
        ({"totp_code_length": 9}, "Totp.CodeLength"),
        ({"totp_skew": -1}, "Totp.Skew"),
        ({"totp_skew": 3}, "Totp.Skew"),
    ],
)
def test_values_out_of_range_are_rejected_naming_the_wire_parameter(
    changes: dict[str, Any], wire_name: str
) -> None:
    """60200 names the PascalCase parameter the caller sent."""
    with pytest.raises(InvalidParameter) as raised:
        validate_service_changes(changes)
    assert raised.value.parameter == wire_name


def test_friendly_name_is_trimmed() -> None:
    """Surrounding blanks are not part of the name that appears in every message."""
    assert validate_service_changes({"friendly_name": "  Acme  "}) == {"friendly_name": "Acme"}


def test_friendly_name_length_counts_after_trimming() -> None:
    """30 characters plus padding is still 30 characters."""
    name = " " + "x" * 30 + " "
    assert validate_service_changes({"friendly_name": name}) == {"friendly_name": "x" * 30}


def test_first_invalid_parameter_is_reported_even_among_valid_ones() -> None:
    """A valid name does not hide an invalid code length."""
    with pytest.raises(InvalidParameter) as raised:
        validate_service_changes({"friendly_name": "Acme", "code_length": 12})
    assert raised.value.parameter == "CodeLength"


def test_service_defaults_follow_twilio() -> None:
    """6-digit codes, a 10-minute lifetime, every optional feature off."""
    service = Service(
        sid="VA" + "0" * 32, friendly_name="Acme", date_created_ms=0, date_updated_ms=0
    )
    assert service.code_length == 6
    assert service.verification_ttl_seconds == 600
    assert not service.custom_code_enabled
    assert not service.psd2_enabled
    assert not service.do_not_share_warning_enabled


def test_service_from_mapping_ignores_unknown_fields() -> None:
    """A field written by a newer version does not break reading the service."""
    service = Service.from_mapping(
        {
            "sid": "VA" + "0" * 32,
            "friendly_name": "Acme",
            "date_created_ms": 1,
            "date_updated_ms": 2,
            "passkeys_relying_party_origins": ["https://a.example", "https://b.example"],
            "field_from_the_future": True,
        }
    )
    assert service.friendly_name == "Acme"
    assert service.passkeys_relying_party_origins == ("https://a.example", "https://b.example")

"""Which locale a message is written in: `Locale`, else the number's country, else English."""

from __future__ import annotations

import pytest

from verify_service.domain.messages.locale_resolution import LOCALE_OF_REGION, region_of
from verify_service.domain.messages.locales import SUPPORTED_LOCALES
from verify_service.domain.messages.messages import SHIPPED_LOCALES, resolve_locale
from verify_service.domain.models import Channel

PHONE_CHANNELS = [Channel.SMS, Channel.CALL, Channel.WHATSAPP]


@pytest.mark.parametrize(
    ("number", "locale"),
    [
        ("+33612345678", "fr"),
        ("+4915112345678", "de"),
        ("+5511987654321", "pt-BR"),
        ("+351912345678", "pt"),
        ("+8613800138000", "zh-CN"),
        ("+85291234567", "zh-HK"),
        ("+819012345678", "ja"),
        ("+821012345678", "ko"),
        ("+34612345678", "es"),
        ("+5215512345678", "es"),
        ("+447911123456", "en-GB"),
        ("+14155552671", "en"),
        ("+79161234567", "ru"),
        ("+966501234567", "ar"),
        ("+972501234567", "he"),
        ("+41791234567", "de"),
        ("+32470123456", "nl"),
    ],
)
@pytest.mark.parametrize("channel", PHONE_CHANNELS)
def test_a_phone_message_speaks_the_language_of_the_numbers_country(
    number: str, locale: str, channel: Channel
) -> None:
    """Without `Locale`, the number's region picks the language (Twilio's behaviour)."""
    assert resolve_locale(None, number, channel) == locale


@pytest.mark.parametrize(
    "number",
    [
        "+380501234567",  # Ukraine: Ukrainian is not on Twilio's list
        "+919812345678",  # India: English is the common language of OTP messages
        "+2348012345678",  # Nigeria
        "+80012345678",  # international freephone: no country
    ],
)
def test_a_country_without_a_shipped_language_gets_english(number: str) -> None:
    """No guess at a second language: English."""
    assert resolve_locale(None, number, Channel.SMS) == "en"


@pytest.mark.parametrize("channel", list(Channel))
def test_the_locale_parameter_wins_over_the_country(channel: Channel) -> None:
    """`Locale` (already validated) beats the number's country and the e-mail default."""
    destination = "user@example.com" if channel is Channel.EMAIL else "+33612345678"
    assert resolve_locale("ja", destination, channel) == "ja"


def test_email_without_a_locale_is_english() -> None:
    """An address has no country, even with a country-code top-level domain."""
    assert resolve_locale(None, "jeanne@example.fr", Channel.EMAIL) == "en"


def test_every_twilio_locale_is_shipped() -> None:
    """Every `Locale` the API accepts has its catalogue: none silently turns English."""
    assert SHIPPED_LOCALES == SUPPORTED_LOCALES


def test_every_region_maps_to_a_shipped_locale() -> None:
    """The region table names only locales there are catalogues for."""
    assert set(LOCALE_OF_REGION.values()) <= SHIPPED_LOCALES
    assert all(len(region) == 2 and region.isupper() for region in LOCALE_OF_REGION)


def test_an_unassigned_range_still_has_its_countrys_region() -> None:
    """Ofcom's drama range +44 7700 900xxx is no real number, but it is British."""
    assert region_of("+447700900123") == "GB"
    assert region_of("someone@example.com") is None

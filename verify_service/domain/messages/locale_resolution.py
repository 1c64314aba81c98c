"""Which locale a message is written in: `Locale`, else the phone number's country, else English.

Twilio picks the language from the phone number's country code when no `Locale` is given
(reference notes §6); e-mail has no country, so it is `Locale` or English.
"""

from __future__ import annotations

from collections.abc import Collection

import phonenumbers

from verify_service.domain.destinations import parse_number
from verify_service.domain.models import Channel

DEFAULT_LOCALE = "en"


def _regions(locale: str, regions: str) -> dict[str, str]:
    return dict.fromkeys(regions.split(), locale)


# ISO 3166 region (as `phonenumbers` reports it) -> the locale most of its people read.
# Countries with several languages get the majority one (BE -> nl, CH -> de, CA -> en);
# a caller who knows better passes `Locale`. Left out on purpose, so they get English:
# India, the Philippines and South Africa (English is the common language of their OTP
# messages; hi, kn, mr, te, tl and af are there for `Locale`), and countries whose own
# language is not shipped (Ukraine, Latvia, ...).
LOCALE_OF_REGION: dict[str, str] = {
    **_regions("en-GB", "GB IE IM JE GG GI"),
    **_regions(
        "fr",
        "FR MC LU RE GP MQ GF YT PM BL MF NC PF WF SN CI ML BF NE TG BJ GA CG CD CM CF TD GN "
        "MG DJ KM HT BI",
    ),
    **_regions("de", "DE AT CH LI"),
    **_regions("es", "ES MX AR CO PE VE CL EC GT CU BO DO HN PY SV NI CR PA UY GQ PR EA IC"),
    **_regions("it", "IT SM VA"),
    **_regions("pt", "PT AO MZ CV GW ST TL"),
    **_regions("pt-BR", "BR"),
    **_regions("nl", "NL BE SR AW CW SX BQ"),
    **_regions("sv", "SE AX"),
    **_regions("da", "DK FO GL"),
    **_regions("nb", "NO SJ"),
    **_regions("fi", "FI"),
    **_regions("et", "EE"),
    **_regions("lt", "LT"),
    **_regions("pl", "PL"),
    **_regions("cs", "CZ"),
    **_regions("sk", "SK"),
    **_regions("hu", "HU"),
    **_regions("ro", "RO MD"),
    **_regions("hr", "HR"),
    **_regions("el", "GR CY"),
    **_regions("tr", "TR"),
    **_regions("ru", "RU BY KZ KG"),
    **_regions("ca", "AD"),
    **_regions("ar", "SA AE EG IQ JO KW LB LY MA DZ TN OM QA BH SY YE SD PS MR"),
    **_regions("he", "IL"),
    **_regions("ja", "JP"),
    **_regions("ko", "KR"),
    **_regions("zh-CN", "CN"),
    # Traditional characters: Taiwan reads them too (Twilio lists no zh-TW).
    **_regions("zh-HK", "HK MO TW"),
    **_regions("id", "ID"),
    **_regions("ms", "MY BN"),
    **_regions("th", "TH"),
    **_regions("vi", "VN"),
}


def region_of(destination: str) -> str | None:
    """The ISO 3166 region of an E.164 number, or None (e-mail, non-geographic numbers)."""
    if "@" in destination:
        return None
    parsed = parse_number(destination)
    if parsed is None:
        return None
    # An unassigned range has no region of its own; its country code still names one.
    region: str = parsed.region or phonenumbers.region_code_for_country_code(
        parsed.number.country_code or 0
    )
    return region


def resolve_locale(
    requested: str | None, destination: str, channel: Channel, shipped: Collection[str]
) -> str:
    """`requested` (a validated `Locale`) if shipped; else, for a phone channel, the language
    of the number's country if shipped; else English.
    """
    if requested is not None and requested in shipped:
        return requested
    if channel.is_phone:
        locale = LOCALE_OF_REGION.get(region_of(destination) or "")
        if locale is not None and locale in shipped:
            return locale
    return DEFAULT_LOCALE

"""Number intelligence, offline: what `phonenumbers`' metadata says about a phone number.

No network look-up is made. The line type comes from the number plan (the range a number
was allocated from), and the carrier is the operator that range was first allocated to; a
number ported to another operator still shows its original one. That is enough to refuse
numbers nobody should send a code to (premium-rate and the like), to honour
`SkipSmsToLandlines`, and to fill Twilio's `lookup` object.

Input is an E.164 string that `destinations.normalize_phone` already accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType, carrier

from verify_service.domain.destinations import parse_number
from verify_service.domain.errors import InvalidParameter

_CACHE_SIZE = 4096
_NO_COUNTRY = frozenset({"001", "ZZ"})  # non-geographic; unknown

_LINE_TYPES: dict[int, str] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
    PhoneNumberType.UNKNOWN: "unknown",
}

# Line types a code is never sent to (sms, call, whatsapp), and why, as the refusal says.
_REFUSALS: dict[str, str] = {
    "premium_rate": "premium-rate numbers are not accepted",
    "shared_cost": "shared-cost numbers are not accepted",
    "uan": "universal access numbers (UAN) are not accepted",
    "voicemail": "voicemail access numbers are not accepted",
    "pager": "pager numbers are not accepted",
}
REFUSED_LINE_TYPES: frozenset[str] = frozenset(_REFUSALS)

# Line types that can take a code by SMS as a mobile does.
_MOBILE_LINE_TYPES = frozenset({"mobile", "fixed_or_mobile"})

# Twilio's `lookup.carrier.type` vocabulary: mobile, landline, voip (else null).
_TWILIO_TYPES: dict[str, str] = {
    "mobile": "mobile",
    "fixed_or_mobile": "mobile",
    "landline": "landline",
    "voip": "voip",
}

# Mobile country codes (ITU-T E.212), only for regions that have exactly one MCC, so the
# region alone determines it. Left out on purpose: regions with several MCCs (GB has 234 and
# 235, JP 440 and 441, US 310-316, IN 404-406...), and every region not checked one by one.
# Territories that share a calling code but have their own phonenumbers region (Vatican
# City, Åland, Liechtenstein...) are not covered by their neighbour's entry.
_MCC_BY_REGION: dict[str, str] = {
    "AT": "232",
    "AU": "505",
    "BE": "206",
    "CH": "228",
    "DE": "262",
    "DK": "238",
    "ES": "214",
    "FI": "244",
    "FR": "208",
    "IE": "272",
    "IT": "222",
    "NL": "204",
    "NO": "242",
    "NZ": "530",
    "PL": "260",
    "PT": "268",
    "SE": "240",
}


@dataclass(frozen=True)
class NumberFacts:
    """What the number plan says about a number.

    `country` is the ISO 3166 alpha-2 region (None for non-geographic numbers, +800 and
    the like); `line_type` one of the values of `_LINE_TYPES`; `carrier` the operator
    the number's range was allocated to, where the metadata knows it. `mobile_country_code`
    is filled where known: for mobile numbers of a region with a single MCC.
    `mobile_network_code` cannot be known offline (ranges are ported and re-allocated), so
    it is always None.
    """

    country: str | None
    line_type: str = "unknown"
    carrier: str | None = None
    mobile_country_code: str | None = None
    mobile_network_code: str | None = None


_UNKNOWN = NumberFacts(country=None)


@lru_cache(maxsize=_CACHE_SIZE)
def describe(e164: str, with_carrier: bool = False) -> NumberFacts:
    """The facts of an E.164 number; a number the metadata cannot parse is all unknown.

    The carrier's name costs as much again as the rest (another metadata search), and only
    the `lookup` object shows it, so it is looked up only `with_carrier`."""
    parsed = parse_number(e164)
    if parsed is None:
        return _UNKNOWN
    region = parsed.region
    country = None if region is None or region in _NO_COUNTRY else region
    line_type = _LINE_TYPES.get(parsed.number_type, "unknown")
    name = (carrier.name_for_number(parsed.number, "en") or None) if with_carrier else None
    mcc = (
        _MCC_BY_REGION.get(country)
        if country is not None and line_type in _MOBILE_LINE_TYPES
        else None
    )
    return NumberFacts(
        country=country,
        line_type=line_type,
        carrier=name,
        mobile_country_code=mcc,
        mobile_network_code=None,
    )


def require_deliverable(facts: NumberFacts) -> None:
    """Refuse (60200 on `To`) a number of a line type no code is sent to. The caller applies
    it to the phone channels (sms, call, whatsapp) only."""
    reason = _REFUSALS.get(facts.line_type)
    if reason is not None:
        raise InvalidParameter("To", reason)


def is_landline(facts: NumberFacts) -> bool:
    """True for a fixed line only: a number that may be fixed or mobile counts as mobile."""
    return facts.line_type == "landline"


def lookup_json(facts: NumberFacts) -> dict[str, Any]:
    """Twilio's verification `lookup` object. `type` uses Twilio's vocabulary (mobile,
    landline, voip); other line types have no Twilio name and read as null."""
    return {
        "carrier": {
            "error_code": None,
            "name": facts.carrier,
            "mobile_country_code": facts.mobile_country_code,
            "mobile_network_code": facts.mobile_network_code,
            "type": _TWILIO_TYPES.get(facts.line_type),
        }
    }


@lru_cache(maxsize=_CACHE_SIZE)
def destination_prefix(e164: str, digits: int = 3) -> str:
    """The key the SMS-pumping breaker (Fraud Guard) counts sends under: `+`, the country
    calling code, then the first `digits` digits of the national significant number, so
    "+447911123456" → "+44791" and "+12015550123" → "+1201". The calling code's length
    varies (1 to 3 digits); calling codes are a prefix code (ITU-T E.164), so the first
    known one is the number's, read straight off the string. A number with no known
    calling code falls back to phonenumbers' parse, then to its first five characters."""
    for length in (1, 2, 3):
        code = e164[1 : 1 + length]
        if code.isdigit() and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return f"+{code}{e164[1 + length : 1 + length + digits]}"
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164[:5]
    national = phonenumbers.national_significant_number(number)
    return f"+{number.country_code}{national[:digits]}"

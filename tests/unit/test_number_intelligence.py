"""Number intelligence offline: line types, refusals, Twilio's `lookup` object and the Fraud
Guard prefix, on genuine example numbers from phonenumbers' own metadata."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.protection.number_intelligence import (
    _MCC_BY_REGION,
    REFUSED_LINE_TYPES,
    NumberFacts,
    describe,
    destination_prefix,
    is_landline,
    lookup_json,
    require_deliverable,
)


def example(region: str, kind: int) -> str:
    """libphonenumber's example number of `kind` in `region`, in E.164."""
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None, (region, kind)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize(
    ("region", "kind", "line_type"),
    [
        ("GB", PhoneNumberType.MOBILE, "mobile"),
        ("GB", PhoneNumberType.FIXED_LINE, "landline"),
        ("GB", PhoneNumberType.VOIP, "voip"),
        ("US", PhoneNumberType.FIXED_LINE_OR_MOBILE, "fixed_or_mobile"),
        ("GB", PhoneNumberType.TOLL_FREE, "toll_free"),
        ("GB", PhoneNumberType.PREMIUM_RATE, "premium_rate"),
        ("DE", PhoneNumberType.SHARED_COST, "shared_cost"),
        ("GB", PhoneNumberType.UAN, "uan"),
        ("DE", PhoneNumberType.VOICEMAIL, "voicemail"),
        ("GB", PhoneNumberType.PAGER, "pager"),
        ("GB", PhoneNumberType.PERSONAL_NUMBER, "personal"),
    ],
)
def test_line_type_of_each_kind_of_number(region: str, kind: int, line_type: str) -> None:
    facts = describe(example(region, kind))
    assert facts.line_type == line_type
    assert facts.country == region


def test_a_mobile_number_has_its_carrier_and_mcc_but_no_mnc() -> None:
    facts = describe(example("DE", PhoneNumberType.MOBILE), with_carrier=True)
    assert facts == NumberFacts(
        country="DE",
        line_type="mobile",
        carrier="T-Mobile",
        mobile_country_code="262",
        mobile_network_code=None,
    )


def test_a_landline_has_no_carrier_and_no_mcc() -> None:
    facts = describe(example("DE", PhoneNumberType.FIXED_LINE))
    assert (facts.line_type, facts.carrier, facts.mobile_country_code) == (
        "landline",
        None,
        None,
    )


@pytest.mark.parametrize("region", ["GB", "JP", "US", "IN"])
def test_regions_with_several_mccs_have_none(region: str) -> None:
    kind = PhoneNumberType.FIXED_LINE_OR_MOBILE if region == "US" else PhoneNumberType.MOBILE
    facts = describe(example(region, kind))
    assert facts.line_type in {"mobile", "fixed_or_mobile"}
    assert facts.mobile_country_code is None
    assert region not in _MCC_BY_REGION


@pytest.mark.parametrize("region", sorted(_MCC_BY_REGION))
def test_every_region_of_the_mcc_table_fills_its_mobile_numbers(region: str) -> None:
    facts = describe(example(region, PhoneNumberType.MOBILE))
    assert facts.country == region
    assert facts.mobile_country_code == _MCC_BY_REGION[region]
    assert len(_MCC_BY_REGION[region]) == 3
    assert _MCC_BY_REGION[region].isdigit()


def test_a_non_geographic_number_has_no_country() -> None:
    number = phonenumbers.example_number_for_non_geo_entity(800)
    assert number is not None
    facts = describe(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    assert (facts.country, facts.line_type) == (None, "toll_free")


def test_a_number_that_does_not_parse_is_all_unknown() -> None:
    assert describe("+999123456") == NumberFacts(country=None, line_type="unknown")


def test_describe_is_cached() -> None:
    number = example("FR", PhoneNumberType.MOBILE)
    assert describe(number) is describe(number)


@pytest.mark.parametrize(
    ("region", "kind", "reason"),
    [
        ("GB", PhoneNumberType.PREMIUM_RATE, "premium-rate"),
        ("DE", PhoneNumberType.SHARED_COST, "shared-cost"),
        ("GB", PhoneNumberType.UAN, "universal access"),
        ("DE", PhoneNumberType.VOICEMAIL, "voicemail"),
        ("GB", PhoneNumberType.PAGER, "pager"),
    ],
)
def test_refused_line_types_raise_60200_on_to_with_a_reason(
    region: str, kind: int, reason: str
) -> None:
    with pytest.raises(InvalidParameter) as raised:
        require_deliverable(describe(example(region, kind)))
    assert raised.value.parameter == "To"
    assert reason in raised.value.reason
    assert "not accepted" in raised.value.reason


def test_refused_line_types_are_exactly_the_five() -> None:
    assert {"premium_rate", "shared_cost", "uan", "voicemail", "pager"} == REFUSED_LINE_TYPES


@pytest.mark.parametrize(
    ("region", "kind"),
    [
        ("GB", PhoneNumberType.MOBILE),
        ("GB", PhoneNumberType.FIXED_LINE),
        ("GB", PhoneNumberType.VOIP),
        ("US", PhoneNumberType.FIXED_LINE_OR_MOBILE),
        ("GB", PhoneNumberType.TOLL_FREE),
        ("GB", PhoneNumberType.PERSONAL_NUMBER),
    ],
)
def test_other_line_types_are_deliverable(region: str, kind: int) -> None:
    require_deliverable(describe(example(region, kind)))


def test_unknown_numbers_are_deliverable() -> None:
    require_deliverable(NumberFacts(country=None))


@pytest.mark.parametrize(
    ("line_type", "landline"),
    [
        ("landline", True),
        ("fixed_or_mobile", False),
        ("mobile", False),
        ("voip", False),
        ("unknown", False),
    ],
)
def test_only_a_fixed_line_is_a_landline(line_type: str, landline: bool) -> None:
    assert is_landline(NumberFacts(country="US", line_type=line_type)) is landline


def test_lookup_json_of_a_mobile_number() -> None:
    assert lookup_json(describe(example("AT", PhoneNumberType.MOBILE), with_carrier=True)) == {
        "carrier": {
            "error_code": None,
            "name": "A1 TA",
            "mobile_country_code": "232",
            "mobile_network_code": None,
            "type": "mobile",
        }
    }


@pytest.mark.parametrize(
    ("region", "kind", "twilio_type"),
    [
        ("GB", PhoneNumberType.MOBILE, "mobile"),
        ("US", PhoneNumberType.FIXED_LINE_OR_MOBILE, "mobile"),
        ("GB", PhoneNumberType.FIXED_LINE, "landline"),
        ("GB", PhoneNumberType.VOIP, "voip"),
        ("GB", PhoneNumberType.TOLL_FREE, None),
        ("GB", PhoneNumberType.PREMIUM_RATE, None),
        ("GB", PhoneNumberType.PERSONAL_NUMBER, None),
    ],
)
def test_lookup_json_uses_twilios_type_vocabulary(
    region: str, kind: int, twilio_type: str | None
) -> None:
    carrier = lookup_json(describe(example(region, kind)))["carrier"]
    assert set(carrier) == {
        "error_code",
        "name",
        "mobile_country_code",
        "mobile_network_code",
        "type",
    }
    assert carrier["type"] == twilio_type
    assert carrier["error_code"] is None


def test_lookup_json_of_an_unknown_number_is_all_null() -> None:
    carrier = lookup_json(describe("+999123456"))["carrier"]
    assert set(carrier.values()) == {None}


@pytest.mark.parametrize(
    ("e164", "digits", "prefix"),
    [
        ("+447911123456", 3, "+44791"),
        ("+447400123456", 3, "+44740"),
        ("+12015550123", 3, "+1201"),  # one-digit calling code
        ("+998912345678", 3, "+998912"),  # three-digit calling code
        ("+3906698123", 3, "+39066"),  # Italian national numbers keep their leading 0
        ("+447911123456", 5, "+4479111"),
        ("+447911123456", 0, "+44"),
        ("+80012345678", 3, "+800123"),  # non-geographic
        ("+999123456", 3, "+9991"),  # does not parse: the first 1+4 characters
    ],
)
def test_destination_prefix(e164: str, digits: int, prefix: str) -> None:
    assert destination_prefix(e164, digits) == prefix


def test_destination_prefix_defaults_to_three_digits() -> None:
    assert destination_prefix("+33612345678") == "+33612"


def test_the_carrier_is_looked_up_only_when_asked_for() -> None:
    number = example("DE", PhoneNumberType.MOBILE)
    assert describe(number).carrier is None
    assert describe(number, with_carrier=True).carrier == "T-Mobile"


@pytest.mark.parametrize(
    "number",
    [
        "+447911123456",
        "+12015550123",
        "+998912345678",
        "+390612345678",
        "+35312345678",
        "+8613812345678",
        "+972501234567",
        "+2348031234567",
    ],
)
def test_the_fast_prefix_agrees_with_a_full_parse(number: str) -> None:
    parsed = phonenumbers.parse(number, None)
    national = phonenumbers.national_significant_number(parsed)
    assert destination_prefix(number) == f"+{parsed.country_code}{national[:3]}"

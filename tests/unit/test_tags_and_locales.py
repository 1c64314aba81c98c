"""Verification `Tags` (a small JSON object) and the `Locale` list."""

from __future__ import annotations

import json
from typing import Any

import pytest

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.messages.locales import SUPPORTED_LOCALES, require_supported_locale
from verify_service.domain.tags import MAX_TAG_LENGTH, MAX_TAGS, parse_tags

# -- Tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "tags"),
    [
        ('{"k":"v"}', {"k": "v"}),
        ({"k": "v"}, {"k": "v"}),
        ("{}", {}),
        ({}, {}),
        ('{"order": "1234", "flow": "signup"}', {"order": "1234", "flow": "signup"}),
        ('{"ünï": "cödé"}', {"ünï": "cödé"}),
    ],
)
def test_tags_are_read_from_a_json_string_or_an_object(raw: Any, tags: dict[str, str]) -> None:
    """Form bodies carry a JSON string, JSON bodies an object; both give the same map."""
    assert parse_tags(raw) == tags


def test_ten_tags_of_128_characters_are_accepted() -> None:
    """Twilio's limits are inclusive: 10 tags, 128 characters each."""
    assert (MAX_TAGS, MAX_TAG_LENGTH) == (10, 128)
    raw = {f"{i:0128d}": "v" * 128 for i in range(10)}
    assert parse_tags(json.dumps(raw)) == raw


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("not json", "not JSON"),
        ("", "empty string"),
        ('{"k": "v"', "truncated JSON"),
        ("[]", "a JSON array"),
        ('["k", "v"]', "a JSON array"),
        ('"k=v"', "a JSON string"),
        ("42", "a JSON number"),
        ("null", "JSON null"),
        (["k", "v"], "a list"),
        (42, "a number"),
        (None, "nothing"),
        ({f"k{i}": "v" for i in range(11)}, "11 tags"),
        ({"k": 1}, "a number value"),
        ({"k": None}, "a null value"),
        ({"k": True}, "a boolean value"),
        ({"k": {"nested": "v"}}, "a nested object"),
        ({"k": ["v"]}, "a list value"),
        ({"k" * 129: "v"}, "key of 129 characters"),
        ({"k": "v" * 129}, "value of 129 characters"),
    ],
)
def test_malformed_tags_are_rejected_with_60200(raw: Any, why: str) -> None:
    """Anything but a flat string map within the limits is `Invalid parameter: Tags`."""
    with pytest.raises(InvalidParameter) as raised:
        parse_tags(raw)
    assert raised.value.parameter == "Tags", why


# -- Locales --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("fr", "fr"),
        ("en-GB", "en-GB"),
        ("en-gb", "en-GB"),
        ("en_GB", "en-GB"),
        ("pt_br", "pt-BR"),
        ("PT-BR", "pt-BR"),
        ("zh-cn", "zh-CN"),
        ("zh_HK", "zh-HK"),
        (" de ", "de"),
    ],
)
def test_supported_locale_is_returned_in_canonical_spelling(given: str, canonical: str) -> None:
    """Case and `_` versus `-` do not matter; the canonical BCP-47 spelling is stored."""
    assert require_supported_locale(given) == canonical


@pytest.mark.parametrize("given", ["", "xx", "klingon", "en-XX", "pt-PT-x", "english", "e n"])
def test_unsupported_locale_is_rejected_with_60200(given: str) -> None:
    """A locale outside Twilio's list is `Invalid parameter: Locale`."""
    with pytest.raises(InvalidParameter) as raised:
        require_supported_locale(given)
    assert raised.value.parameter == "Locale"


def test_every_listed_locale_is_accepted_as_itself() -> None:
    """The canonical spellings round-trip."""
    assert len(SUPPORTED_LOCALES) == 42
    for locale in SUPPORTED_LOCALES:
        assert require_supported_locale(locale) == locale
        assert require_supported_locale(locale.upper()) == locale

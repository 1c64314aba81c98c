"""Caller JSON is read one way everywhere (domain/json_input.py, docs/parameters.md): a key
given twice in one object, at any depth, is refused with 60200 naming the parameter and
Redis is unchanged, whether the JSON is a form field the SDK sends (`TemplateCustomSubstitutions`,
`RateLimits`, `ChannelConfiguration`, `Tags`, `Templates`) or an `application/json` body.
Python's parser keeps the last value of a repeated key; another reader of the same bytes
may keep the first."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from flask import Flask
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import Api
from tests.integration.test_template_starts import create_template, snapshot
from tests.support.flask_sdk import sdk_client

TO = "+14155552671"
EMAIL = "jane@example.com"
IDENTITY = "ff483d1f-c6a1-4f6b-9f4a-1d3d1c2f9a10"


@pytest.fixture
def twilio(app: Flask) -> Client:
    return sdk_client(app.test_client())


@pytest.fixture
def template_sid(api: Api) -> str:
    sid: str = create_template(api)["sid"]
    return sid


DUPLICATE = "a key given more than once in one object"
# A start's JSON-string parameters: its SDK keyword, an accepted value, other keywords it
# needs. `SID` stands for the template's sid.
SDK_CASES: dict[str, tuple[str, str, dict[str, str]]] = {
    "TemplateCustomSubstitutions": (
        "template_custom_substitutions",
        '{"app": "Shop"}',
        {"template_sid": "SID"},
    ),
    "RateLimits": ("rate_limits", '{"end_user_id": "u-1"}', {}),
    "ChannelConfiguration": (
        "channel_configuration",
        '{"from_name": "Acme"}',
        {"to": EMAIL, "channel": "email"},
    ),
    "Tags": ("tags", '{"tenant": "12345"}', {}),
    "Templates": ("templates", '[{"sid": "SID", "substitutions": {"app": "Shop"}}]', {}),
}


def with_a_key_twice(text: str) -> str:
    """`text` with the key of its innermost object given first with another value."""
    start = text.rindex('{"') + 1
    key = text[start : text.index(":", start)]
    return f'{text[:start]}{key}: "Evil", {text[start:]}'


def sdk_start(twilio: Client, service_sid: str, sid: str, **params: str) -> Any:
    params = {"to": TO, "channel": "sms", **params}
    params = {name: value.replace("SID", sid) for name, value in params.items()}
    return twilio.verify.v2.services(service_sid).verifications.create(**params)


@pytest.fixture
def service_sid(twilio: Client) -> str:
    sid: str = twilio.verify.v2.services.create(friendly_name="Acme").sid
    twilio.verify.v2.services(sid).rate_limits.create(unique_name="end_user_id")
    return sid


@pytest.mark.parametrize("parameter", SDK_CASES)
def test_a_json_string_parameter_giving_a_key_twice_is_60200_naming_it(
    twilio: Client, service_sid: str, template_sid: str, redis_client: redis.Redis, parameter: str
) -> None:
    """Through the SDK: refused, the parameter named, nothing written (in `Templates` the
    repeated key is inside an entry's substitutions)."""
    keyword, value, others = SDK_CASES[parameter]
    before = snapshot(redis_client)
    with pytest.raises(TwilioRestException) as refused:
        sdk_start(twilio, service_sid, template_sid, **others, **{keyword: with_a_key_twice(value)})
    assert (refused.value.status, refused.value.code) == (400, 60200)
    assert refused.value.msg.endswith(f": Invalid parameter: {parameter} ({DUPLICATE})")
    assert "Evil" not in refused.value.msg
    assert snapshot(redis_client) == before


@pytest.mark.parametrize("parameter", SDK_CASES)
def test_the_same_json_string_parameter_without_the_repeat_is_accepted(
    twilio: Client, service_sid: str, template_sid: str, parameter: str
) -> None:
    keyword, value, others = SDK_CASES[parameter]
    started = sdk_start(twilio, service_sid, template_sid, **others, **{keyword: value})
    assert started.status == "pending"


def test_a_repeated_key_is_refused_even_with_the_same_value(
    twilio: Client, service_sid: str
) -> None:
    """Not only different values, unlike a form's repeated key: in JSON no encoder writes
    one, and "the same value" is itself ambiguous (`1` and `1.0`, objects in another order)."""
    with pytest.raises(TwilioRestException) as refused:
        sdk_start(twilio, service_sid, "", tags='{"tenant": "1", "tenant": "1"}')
    assert refused.value.msg.endswith(f": Invalid parameter: Tags ({DUPLICATE})")


def test_a_factors_metadata_giving_a_key_twice_is_60306_naming_it(
    twilio: Client, service_sid: str, redis_client: redis.Redis
) -> None:
    """The MFA routes' own code for a bad parameter (60306), same rule."""
    entity = twilio.verify.v2.services(service_sid).entities(IDENTITY)
    before = snapshot(redis_client)
    with pytest.raises(TwilioRestException) as refused:
        entity.new_factors.create(
            friendly_name="phone", factor_type="totp", metadata='{"os": "iOS", "os": "Android"}'
        )
    assert (refused.value.status, refused.value.code) == (400, 60306)
    assert refused.value.msg.endswith(f": Invalid request: Metadata ({DUPLICATE})")
    assert snapshot(redis_client) == before
    created = entity.new_factors.create(
        friendly_name="phone", factor_type="totp", metadata='{"os": "Android"}'
    )
    assert created.metadata == {"os": "Android"}


@pytest.mark.parametrize(
    ("path", "parameter", "value", "repeated"),
    [
        (
            "/v2/Services",
            "GeoPermissions",  # which of the two lists would govern SMS?
            '{"sms": {"allowed": ["GB"]}}',
            '{"sms": {"allowed": ["GB", "US"]}, "sms": {"allowed": ["GB"]}}',
        ),
        ("/v2/Templates", "Variables", '{"app": 20}', '{"app": 40, "app": 20}'),
    ],
)
def test_an_extension_json_parameter_giving_a_key_twice_is_60200(
    api: Api, redis_client: redis.Redis, path: str, parameter: str, value: str, repeated: str
) -> None:
    form = {"FriendlyName": "Acme"}
    if path == "/v2/Templates":
        form["Translations"] = json.dumps({"en": {"sms": "{{app}}: {{code}}"}})
    before = snapshot(redis_client)
    response = api.post(path, **form, **{parameter: repeated})
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    assert response.json["message"] == f"Invalid parameter: {parameter} ({DUPLICATE})"  # type: ignore[index]
    assert snapshot(redis_client) == before
    assert api.post(path, **form, **{parameter: value}).status_code == 201


def post_json(api: Api, path: str, raw: str) -> Any:
    return api.client.post(path, data=raw, content_type="application/json", headers=api.headers)


def json_start(template_sid: str, twice: str) -> str:
    """A start's JSON body written by hand; `twice` says which key is repeated."""
    channel = '"Channel": "call", "Channel": "sms"' if twice == "Channel" else '"Channel": "sms"'
    substitutions = (
        '{"app": "Evil", "app": "Shop"}' if twice == "substitutions" else '{"app": "Shop"}'
    )
    other = ', "ada@example.com": 1, "ada@example.com": 2' if twice == "other" else ""
    return (
        f'{{"To": "{TO}", {channel}, "TemplateSid": "{template_sid}",'
        f' "TemplateCustomSubstitutions": {substitutions}{other}}}'
    )


@pytest.mark.parametrize(
    ("twice", "named"),
    [
        ("Channel", "Channel"),  # a top-level key shaped like a parameter: named
        ("substitutions", "TemplateCustomSubstitutions"),  # nested: the top-level key
        ("other", "body"),  # the caller's text is never echoed
    ],
)
def test_a_json_body_giving_a_key_twice_is_60200_naming_the_parameter(
    api: Api, template_sid: str, redis_client: redis.Redis, twice: str, named: str
) -> None:
    service_sid = api.create_service()
    before = snapshot(redis_client)
    response = post_json(
        api, f"/v2/Services/{service_sid}/Verifications", json_start(template_sid, twice)
    )
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    assert response.json["message"] == f"Invalid parameter: {named} ({DUPLICATE})"  # type: ignore[index]
    assert "ada" not in response.get_data(as_text=True)
    assert snapshot(redis_client) == before


def test_the_same_json_body_without_the_repeat_is_accepted(api: Api, template_sid: str) -> None:
    service_sid = api.create_service()
    response = post_json(
        api, f"/v2/Services/{service_sid}/Verifications", json_start(template_sid, "")
    )
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_even_where_the_value_would_be_ignored(
    api: Api, redis_client: redis.Redis, constant: str
) -> None:
    """RFC 8259 has no such numbers: the body is not JSON, named by the key it is under."""
    before = snapshot(redis_client)
    raw = f'{{"FriendlyName": "Acme", "NotAParameter": [{constant}]}}'
    response = post_json(api, "/v2/Services", raw)
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    message = response.json["message"]  # type: ignore[index]
    assert message == "Invalid parameter: NotAParameter (NaN and Infinity are not JSON)"
    assert snapshot(redis_client) == before


@pytest.mark.parametrize("parameter", ["GeoPermissions", "TestDestinations"])
def test_json_nested_deeper_than_the_parser_goes_is_60200_not_500(
    api: Api, redis_client: redis.Redis, parameter: str
) -> None:
    """Was a 500: these two were parsed in the domain, where only a ValueError was caught
    and `[[[…` 5000 deep raised RecursionError. Depth is now checked before parsing."""
    service_sid = api.create_service()
    before = snapshot(redis_client)
    for path in ("/v2/Services", f"/v2/Services/{service_sid}"):
        response = api.post(path, FriendlyName="Acme", **{parameter: "[" * 5000})
        assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
        message = response.json["message"]  # type: ignore[index]
        assert message == f"Invalid parameter: {parameter} (JSON nested too deeply)"
    assert snapshot(redis_client) == before


def test_json_nested_past_32_levels_is_refused(api: Api) -> None:
    """`MAX_JSON_DEPTH`: far below the interpreter's stack, so no reader of the value (a
    later `json.dumps`) can reach a RecursionError either; no parameter needs more than 4."""
    service_sid = api.create_service()
    response = api.start(service_sid, TO, Tags='{"a": ' * 33 + '"x"' + "}" * 33)
    assert response.json["message"] == "Invalid parameter: Tags (JSON nested too deeply)"  # type: ignore[index]


# -- dotted families nested in a JSON body ------------------------------------------------------


def test_a_json_body_may_nest_a_dotted_family(api: Api, twilio: Client) -> None:
    """`{"Totp": {"Issuer": …}}` is `Totp.Issuer`, two levels deep too (`Passkeys.RelyingParty.
    Id`). Read as one unknown key `Totp`, it was accepted and ignored: a 201 with the
    defaults."""
    raw = json.dumps(
        {
            "FriendlyName": "Acme",
            "Totp": {"Issuer": "Shop", "CodeLength": 8},
            "Passkeys": {"RelyingParty": {"Id": "shop.example", "Name": "Shop"}},
        }
    )
    response = post_json(api, "/v2/Services", raw)
    assert response.status_code == 201, response.json
    service = twilio.verify.v2.services(response.json["sid"]).fetch()  # type: ignore[index]
    assert (service.totp["issuer"], service.totp["code_length"]) == ("Shop", 8)
    assert service.passkeys["relying_party"]["id"] == "shop.example"
    assert service.passkeys["relying_party"]["name"] == "Shop"


def test_a_refused_parameter_nested_in_a_json_body_is_refused_naming_it(
    api: Api, redis_client: redis.Redis
) -> None:
    """`{"Push": {"IncludeDate": true}}` is refused as `Push.IncludeDate=true` is, not ignored."""
    before = snapshot(redis_client)
    raw = json.dumps({"FriendlyName": "Acme", "Push": {"IncludeDate": True}})
    response = post_json(api, "/v2/Services", raw)
    assert (response.status_code, response.json["code"]) == (403, 60204)  # type: ignore[index]
    assert "Push.IncludeDate" in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before


def test_a_parameter_given_both_nested_and_dotted_is_60200_naming_it(
    api: Api, redis_client: redis.Redis
) -> None:
    before = snapshot(redis_client)
    raw = json.dumps({"FriendlyName": "Acme", "Totp": {"Issuer": "Evil"}, "Totp.Issuer": "Shop"})
    response = post_json(api, "/v2/Services", raw)
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    message = response.json["message"]  # type: ignore[index]
    assert message == "Invalid parameter: Totp.Issuer (given both nested and dotted)"
    assert snapshot(redis_client) == before

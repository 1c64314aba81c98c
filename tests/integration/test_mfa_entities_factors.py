"""Entities and TOTP factors through the official twilio SDK (over the in-process app, whose
clock the test holds) against a real Redis: create, fetch, list, delete; the binding shown
once; config defaults and ranges; verification, its wrong-code limit (60310) and window."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from flask import Flask
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.fakes import FixedClock
from tests.support.flask_sdk import BASE_URL, sdk_client
from tests.support.mfa import (
    IDENTITY,
    age_wrong_code_windows,
    other_code,
    refusal,
    refusal_message,
    totp_code,
)

BASE32 = re.compile(r"^[A-Z2-7]{32}$")


@pytest.fixture
def twilio(app: Flask) -> Client:
    return sdk_client(app.test_client())


@pytest.fixture
def service(twilio: Client) -> Any:
    created = twilio.verify.v2.services.create(friendly_name="Acme Bank")
    return twilio.verify.v2.services(created.sid)


def new_totp(service: Any, identity: str = IDENTITY, **params: Any) -> Any:
    params.setdefault("friendly_name", "Alice's phone")
    return service.entities(identity).new_factors.create(factor_type="totp", **params)


def mfa_keys(redis_client: redis.Redis) -> list[bytes]:
    return sorted(redis_client.scan_iter(match="it:mfa:*"))


# -- entities ------------------------------------------------------------------------------


def test_an_entity_is_created_fetched_listed_and_deleted(service: Any) -> None:
    created = service.entities.create(identity=IDENTITY)
    assert re.fullmatch(r"YE[0-9a-f]{32}", created.sid)
    assert created.identity == IDENTITY
    url = f"{BASE_URL}/v2/Services/{created.service_sid}/Entities/{IDENTITY}"
    assert created.url == url
    assert created.links == {
        "factors": f"{url}/Factors",
        "new_factors": f"{url}/Factors",
        "challenges": f"{url}/Challenges",
    }
    assert service.entities(IDENTITY).fetch().sid == created.sid
    assert [e.identity for e in service.entities.list()] == [IDENTITY]
    assert service.entities(IDENTITY).delete() is True
    assert refusal(service.entities(IDENTITY).fetch) == (404, 20404)
    assert service.entities.list() == []


def test_creating_an_entity_twice_returns_the_same_entity(service: Any) -> None:
    first = service.entities.create(identity=IDENTITY)
    assert service.entities.create(identity=IDENTITY).sid == first.sid
    assert len(service.entities.list()) == 1


@pytest.mark.parametrize(
    "identity",
    [
        "short",
        "a" * 65,
        "-leading-dash",
        "trailing-dash-",
        "double--dash",
        "under_score1",
        "sp ace1234",
    ],
)
def test_an_identity_that_is_not_8_to_64_dash_separated_alphanumerics_is_60306(
    service: Any, redis_client: redis.Redis, identity: str
) -> None:
    """Twilio: "length between 8 and 64 characters … only dash (-) separated alphanumeric
    characters"; nothing is stored."""
    assert refusal(lambda: service.entities.create(identity=identity)) == (400, 60306)
    assert "Identity" in refusal_message(lambda: service.entities.create(identity=identity))
    assert mfa_keys(redis_client) == []


def test_entities_of_an_unknown_service_are_404(twilio: Client) -> None:
    unknown = twilio.verify.v2.services("VA" + "0" * 32)
    assert refusal(lambda: unknown.entities.create(identity=IDENTITY)) == (404, 20404)
    with pytest.raises(TwilioException, match="20404"):
        unknown.entities.list()


def test_the_entity_list_pages_in_creation_order(service: Any) -> None:
    identities = [f"user-{i:04d}-x" for i in range(5)]
    for identity in identities:
        service.entities.create(identity=identity)
    assert [e.identity for e in service.entities.list(page_size=2)] == identities
    page = service.entities.page(page_size=2, page_number=1)
    assert [e.identity for e in page] == identities[2:4]


# -- factors -------------------------------------------------------------------------------


def test_a_totp_factor_is_created_unverified_with_its_binding_once(
    service: Any, app: Flask
) -> None:
    factor = new_totp(service, metadata={"os": "Android"})
    assert re.fullmatch(r"YF[0-9a-f]{32}", factor.sid)
    assert (factor.status, factor.factor_type, factor.friendly_name) == (
        "unverified",
        "totp",
        "Alice's phone",
    )
    assert factor.config == {"alg": "sha1", "skew": 1, "code_length": 6, "time_step": 30}
    assert factor.metadata == {"os": "Android"}
    secret = factor.binding["secret"]
    assert BASE32.fullmatch(secret)
    uri = urlsplit(factor.binding["uri"])
    assert (uri.scheme, uri.netloc, uri.path) == (
        "otpauth",
        "totp",
        "/Acme%20Bank:Alice%27s%20phone",
    )
    assert parse_qs(uri.query) == {
        "secret": [secret],
        "issuer": ["Acme Bank"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
    # The entity came with its first factor.
    entity = service.entities(IDENTITY).fetch()
    assert factor.entity_sid == entity.sid
    path = f"/v2/Services/{factor.service_sid}/Entities/{IDENTITY}/Factors"
    client = app.test_client()
    fetched = client.get(f"{path}/{factor.sid}", auth=(ACCOUNT_SID, AUTH_TOKEN))
    listed = client.get(path, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert fetched.json is not None
    assert listed.json is not None
    assert fetched.json.keys().isdisjoint({"binding", "options"})
    assert [f["sid"] for f in listed.json["factors"]] == [factor.sid]
    assert secret not in fetched.get_data(as_text=True) + listed.get_data(as_text=True)


def test_the_issuer_is_the_services_totp_issuer_and_its_totp_settings_are_the_defaults(
    twilio: Client,
) -> None:
    created = twilio.verify.v2.services.create(
        friendly_name="Acme",
        totp_issuer="Acme Corp",
        totp_time_step=60,
        totp_code_length=8,
        totp_skew=2,
    )
    factor = new_totp(twilio.verify.v2.services(created.sid))
    assert factor.config == {"alg": "sha1", "skew": 2, "code_length": 8, "time_step": 60}
    query = parse_qs(urlsplit(factor.binding["uri"]).query)
    assert (query["issuer"], query["digits"], query["period"]) == (["Acme Corp"], ["8"], ["60"])


def test_config_parameters_override_the_defaults(service: Any, clock: FixedClock) -> None:
    factor = new_totp(
        service, config_time_step=20, config_skew=0, config_code_length=3, config_alg="sha512"
    )
    assert factor.config == {"alg": "sha512", "skew": 0, "code_length": 3, "time_step": 20}
    code = totp_code(factor.binding["secret"], clock.now, time_step=20, digits=3, alg="sha512")
    verified = service.entities(IDENTITY).factors(factor.sid).update(auth_payload=code)
    assert verified.status == "verified"


def test_a_given_base32_secret_is_used(service: Any, clock: FixedClock) -> None:
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    factor = new_totp(service, binding_secret=secret.lower())
    assert factor.binding["secret"] == secret
    code = totp_code(secret, clock.now)
    assert service.entities(IDENTITY).factors(factor.sid).update(auth_payload=code).status == (
        "verified"
    )


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"config_time_step": 19}, "Config.TimeStep"),
        ({"config_time_step": 61}, "Config.TimeStep"),
        ({"config_skew": 3}, "Config.Skew"),
        ({"config_code_length": 2}, "Config.CodeLength"),
        ({"config_code_length": 9}, "Config.CodeLength"),
        ({"config_alg": "md5"}, "Config.Alg"),
        ({"binding_secret": "not base32!"}, "Binding.Secret"),
        ({"binding_secret": "JBSWY3DP"}, "Binding.Secret"),  # 40 bits
        ({"friendly_name": ""}, "FriendlyName"),
        ({"friendly_name": "x" * 65}, "FriendlyName"),
        ({"metadata": "[1, 2]"}, "Metadata"),
    ],
)
def test_a_bad_factor_parameter_is_60306_naming_it_and_stores_nothing(
    service: Any, redis_client: redis.Redis, params: dict[str, Any], named: str
) -> None:
    assert refusal(lambda: new_totp(service, **params)) == (400, 60306)
    assert named in refusal_message(lambda: new_totp(service, **params))
    assert mfa_keys(redis_client) == []


def test_push_factors_are_refused_with_a_message_that_says_so(
    service: Any, redis_client: redis.Redis
) -> None:
    create = lambda: service.entities(IDENTITY).new_factors.create(  # noqa: E731
        friendly_name="phone", factor_type="push", binding_alg="ES256", binding_public_key="x"
    )
    assert refusal(create) == (400, 60306)
    assert "push factors are not offered" in refusal_message(create)
    assert mfa_keys(redis_client) == []


def test_an_entity_has_at_most_20_factors(service: Any) -> None:
    for index in range(20):
        new_totp(service, friendly_name=f"phone {index}")
    assert refusal(lambda: new_totp(service)) == (400, 60306)
    assert len(service.entities(IDENTITY).factors.list()) == 20


def test_an_unverified_factor_expires_after_a_day_in_redis(
    service: Any, redis_client: redis.Redis, clock: FixedClock
) -> None:
    """Twilio deletes unverified factors after 1-24 hours; verifying one keeps it."""
    kept = new_totp(service, friendly_name="kept")
    dropped = new_totp(service, friendly_name="dropped")
    code = totp_code(kept.binding["secret"], clock.now)
    service.entities(IDENTITY).factors(kept.sid).update(auth_payload=code)
    [kept_key] = redis_client.scan_iter(match=f"it:mfa:*:factor:{kept.sid}")
    [dropped_key] = redis_client.scan_iter(match=f"it:mfa:*:factor:{dropped.sid}")
    assert redis_client.pttl(kept_key) == -1
    assert 0 < redis_client.pttl(dropped_key) <= 24 * 3600 * 1000


# -- verification ---------------------------------------------------------------------------


def test_a_wrong_code_leaves_the_factor_unverified_and_the_right_one_verifies_it(
    service: Any, clock: FixedClock
) -> None:
    """Twilio (since 2021-10-27): a wrong AuthPayload is no error; the factor stays
    unverified."""
    factor = new_totp(service)
    context = service.entities(IDENTITY).factors(factor.sid)
    code = totp_code(factor.binding["secret"], clock.now)
    assert context.update(auth_payload=other_code(code)).status == "unverified"
    assert context.update(auth_payload=code).status == "verified"
    assert context.fetch().status == "verified"


def test_the_sixth_verification_answer_in_15_minutes_is_60310_even_when_right(
    service: Any, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """The window is Redis's time (docs/mfa.md, "Limits"): the test moves its start back;
    the app's clock moves the TOTP steps."""
    factor = new_totp(service)
    context = service.entities(IDENTITY).factors(factor.sid)
    secret = factor.binding["secret"]
    wrong = other_code(totp_code(secret, clock.now))
    for _ in range(5):
        assert context.update(auth_payload=wrong).status == "unverified"
    right = totp_code(secret, clock.now)
    assert refusal(lambda: context.update(auth_payload=right)) == (429, 60310)
    age_wrong_code_windows(redis_client, 15 * 60 - 2)
    clock.advance(30)
    assert refusal(lambda: context.update(auth_payload=totp_code(secret, clock.now))) == (
        429,
        60310,
    )
    age_wrong_code_windows(redis_client, 2)
    clock.advance(30)
    assert context.update(auth_payload=totp_code(secret, clock.now)).status == "verified"


def test_auth_payload_must_be_3_to_8_characters(service: Any) -> None:
    factor = new_totp(service)
    context = service.entities(IDENTITY).factors(factor.sid)
    assert refusal(lambda: context.update(auth_payload="12")) == (400, 60306)
    assert refusal(lambda: context.update(auth_payload="123456789")) == (400, 60306)


def test_a_factor_is_renamed_and_reconfigured(service: Any, clock: FixedClock) -> None:
    factor = new_totp(service)
    context = service.entities(IDENTITY).factors(factor.sid)
    updated = context.update(friendly_name="Work phone", config_code_length=8)
    assert updated.friendly_name == "Work phone"
    assert updated.config["code_length"] == 8
    code = totp_code(factor.binding["secret"], clock.now, digits=8)
    assert context.update(auth_payload=code).status == "verified"


def test_a_deleted_factor_is_gone(service: Any) -> None:
    factor = new_totp(service)
    context = service.entities(IDENTITY).factors(factor.sid)
    assert context.delete() is True
    assert refusal(context.fetch) == (404, 20404)
    assert refusal(context.delete) == (404, 20404)
    assert service.entities(IDENTITY).factors.list() == []

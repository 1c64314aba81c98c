"""MFA inputs a reviewer probed (docs/mfa.md, "Errors"): nesting that used to be a 500,
JSON constants that are no JSON, Metadata of a refused answer, and messages a new user reads:
each refusal is Twilio-shaped, names its parameter, and stores nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from marshmallow import ValidationError

from tests.conftest import Api
from tests.support.fakes import FixedClock
from tests.support.mfa import IDENTITY, other_code, totp_code
from verify_service.domain.errors import InvalidMfaRequest
from verify_service.http.mfa.mfa_schemas import JsonObjectText, detail_fields

UNKNOWN_FACTOR = "YF" + "0" * 32


class Enrolled:
    def __init__(self, api: Api, clock: FixedClock) -> None:
        self.api = api
        self.clock = clock
        self.service = api.create_service()
        self.base = f"/v2/Services/{self.service}/Entities/{IDENTITY}"
        created = api.post(f"{self.base}/Factors", FriendlyName="phone", FactorType="totp").json
        self.sid: str = created["sid"]  # type: ignore[index]
        self.secret: str = created["binding"]["secret"]  # type: ignore[index]
        api.post(f"{self.base}/Factors/{self.sid}", AuthPayload=self.code())
        clock.advance(60)

    def code(self) -> str:
        return totp_code(self.secret, self.clock.now)


@pytest.fixture
def enrolled(api: Api, clock: FixedClock) -> Enrolled:
    return Enrolled(api, clock)


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(constant)

    return json.loads(text, parse_constant=refuse)


def bad_request(response: Any) -> tuple[int, int, str]:
    body = strict_json(response.get_data(as_text=True))
    return response.status_code, body["code"], body["message"]


def mfa_keys(redis_client: redis.Redis) -> set[bytes]:
    return set(redis_client.scan_iter(match="it:mfa:*"))


@pytest.mark.parametrize(
    "fields",
    ["[" * 5000 + "]" * 5000, "[" * 1500 + "]" * 1500, '{"a":' * 1100 + "1" + "}" * 1100],
    ids=["deep and long", "deeper than the parser goes", "deep object"],
)
def test_deeply_nested_details_fields_are_a_60306_naming_them(
    api: Api, enrolled: Enrolled, redis_client: redis.Redis, fields: str
) -> None:
    before = mfa_keys(redis_client)
    response = api.post(
        f"{enrolled.base}/Challenges", FactorSid=enrolled.sid, **{"Details.Fields": fields}
    )
    status, code, message = bad_request(response)
    assert (status, code) == (400, 60306)
    assert "Details.Fields" in message
    assert mfa_keys(redis_client) == before


@pytest.mark.parametrize(
    "value", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e999}']
)
@pytest.mark.parametrize("where", ["factor Metadata", "HiddenDetails", "challenge Metadata"])
def test_nan_and_infinity_are_refused_wherever_json_is_taken(
    api: Api, enrolled: Enrolled, redis_client: redis.Redis, value: str, where: str
) -> None:
    """Values must be strings (Twilio), and the parser refuses NaN/Infinity anyway: never
    stored, so no later answer carries JSON a strict parser refuses."""
    pending = api.post(f"{enrolled.base}/Challenges", FactorSid=enrolled.sid).json
    before = {k: redis_client.dump(k) for k in mfa_keys(redis_client)}
    if where == "factor Metadata":
        response = api.post(
            f"{enrolled.base}/Factors", FriendlyName="p", FactorType="totp", Metadata=value
        )
        parameter = "Metadata"
    elif where == "HiddenDetails":
        response = api.post(
            f"{enrolled.base}/Challenges", FactorSid=enrolled.sid, HiddenDetails=value
        )
        parameter = "HiddenDetails"
    else:
        response = api.post(
            f"{enrolled.base}/Challenges/{pending['sid']}",  # type: ignore[index]
            AuthPayload=enrolled.code(),
            Metadata=value,
        )
        parameter = "Metadata"
    status, code, message = bad_request(response)
    assert (status, code) == (400, 60306)
    assert parameter in message
    assert {k: redis_client.dump(k) for k in mfa_keys(redis_client)} == before
    for listed in ("Factors", "Challenges"):
        strict_json(api.get(f"{enrolled.base}/{listed}").get_data(as_text=True))


def test_the_json_parser_itself_refuses_nan_and_infinity() -> None:
    """Even an object of string values: a constant among them is refused by the parser."""
    for text in ('{"a": "x", "b": NaN}', '{"a": "x", "b": Infinity}'):
        with pytest.raises(ValidationError):
            JsonObjectText()._deserialize(text, None, None)
    with pytest.raises(InvalidMfaRequest, match=r"Details\.Fields"):
        detail_fields(['[{"label": "a", "value": "b", "n": NaN}]'])


def test_a_refused_answers_metadata_never_sticks_to_the_challenge(
    api: Api, enrolled: Enrolled
) -> None:
    """A wrong answer's (or a replayed code's) Metadata is not stored: the challenge a later
    right answer approves carries only that answer's Metadata."""
    path = f"{enrolled.base}/Challenges"
    sid = api.post(path, FactorSid=enrolled.sid).json["sid"]  # type: ignore[index]
    wrong = api.post(
        f"{path}/{sid}", AuthPayload=other_code(enrolled.code()), Metadata='{"os": "attacker"}'
    )
    assert wrong.json["status"] == "pending"  # type: ignore[index]
    assert not wrong.json["metadata"]  # type: ignore[index]
    right = api.post(f"{path}/{sid}", AuthPayload=enrolled.code())
    assert right.json["status"] == "approved"  # type: ignore[index]
    assert not right.json["metadata"]  # type: ignore[index]
    assert not api.get(f"{path}/{sid}").json["metadata"]  # type: ignore[index]
    # A right answer's own Metadata is stored; a replay of its code leaves none.
    enrolled.clock.advance(30)
    code = enrolled.code()
    other = api.post(path, FactorSid=enrolled.sid).json["sid"]  # type: ignore[index]
    mine = api.post(f"{path}/{other}", AuthPayload=code, Metadata='{"os": "mine"}')
    assert mine.json["metadata"] == {"os": "mine"}  # type: ignore[index]
    third = api.post(path, FactorSid=enrolled.sid).json["sid"]  # type: ignore[index]
    replayed = api.post(f"{path}/{third}", AuthPayload=code, Metadata='{"os": "attacker"}')
    assert replayed.json["status"] == "denied"  # type: ignore[index]
    assert not replayed.json["metadata"]  # type: ignore[index]


@pytest.mark.parametrize("factor_type", [None, "", "sms", "TOTPX"])
def test_a_missing_or_unknown_factor_type_says_what_is_offered(
    api: Api, enrolled: Enrolled, factor_type: str | None
) -> None:
    params = {"FriendlyName": "p"} | ({} if factor_type is None else {"FactorType": factor_type})
    status, code, message = bad_request(api.post(f"{enrolled.base}/Factors", **params))
    assert (status, code) == (400, 60306)
    assert message == "Invalid request: FactorType (must be totp or passkeys; push is not offered)"


def test_an_unknown_factor_sid_on_challenge_create_is_a_404_naming_factor_sid(
    api: Api, enrolled: Enrolled, redis_client: redis.Redis
) -> None:
    before = mfa_keys(redis_client)
    response = api.post(f"{enrolled.base}/Challenges", FactorSid=UNKNOWN_FACTOR)
    status, code, message = bad_request(response)
    assert (status, code) == (404, 20404)
    assert (
        message
        == f"The requested resource FactorSid {UNKNOWN_FACTOR} was not found for this entity"
    )
    assert mfa_keys(redis_client) == before


@pytest.mark.parametrize("alg", ["SHA256", "Sha512", "SHA1"])
def test_config_alg_is_taken_in_any_case_and_stored_lower(
    api: Api, enrolled: Enrolled, alg: str
) -> None:
    created = api.post(
        f"{enrolled.base}/Factors", FriendlyName="p", FactorType="totp", **{"Config.Alg": alg}
    )
    assert created.status_code == 201, created.json
    assert created.json["config"]["alg"] == alg.lower()  # type: ignore[index]
    sid = created.json["sid"]  # type: ignore[index]
    updated = api.post(f"{enrolled.base}/Factors/{sid}", **{"Config.Alg": alg.upper()})
    assert updated.json["config"]["alg"] == alg.lower()  # type: ignore[index]

"""Bad input to the Entities, Factors and Challenges routes (issue 11, item 8): every new
parameter, each bad value answered by a Twilio-shaped error ({code, message, more_info,
status}) and nothing stored — the Redis keys under the server's prefix are byte for byte what
they were before the request, and the lists read the same.

Codes: 60306 ("Invalid Request", Twilio's code for bad Identity, Factor and Challenge
parameters, twilio-verify-notes.md §8); 60200 for paging, as on every other list of this
service; 20404 for a resource that does not exist, or is not under the path given (another
entity's factor, another service's entity)."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.mfa.conftest import (
    IDENTITY,
    NOW,
    OTHER_IDENTITY,
    PREFIX,
    at,
    create_factor,
    create_service,
    enrolled,
    secret_for,
)
from tests.support.clocked_server import ClockedServer
from tests.support.fakes import FixedClock
from tests.support.totp import Totp

UNKNOWN_YF = "YF" + "0" * 32
UNKNOWN_YC = "YC" + "0" * 32
UNKNOWN_VA = "VA" + "0" * 32
ERROR_KEYS = {"code", "message", "more_info", "status"}


@dataclass(frozen=True)
class World:
    """What the bad requests aim at: service A with entity IDENTITY (a verified factor, an
    unverified one, a pending challenge) and entity OTHER_IDENTITY (a verified factor);
    service B with its own entity IDENTITY and verified factor."""

    service: str
    factor: str
    unverified: str
    challenge: str
    other_entity_factor: str
    other_entity_challenge: str
    other_service: str
    other_service_factor: str
    other_service_challenge: str

    def path(self, template: str) -> str:
        """`template` with {VA}, {ID}, {YF}, {YC}, {VB} and the fields' names filled in."""
        return template.format(
            VA=self.service,
            ID=IDENTITY,
            YF=self.factor,
            YC=self.challenge,
            VB=self.other_service,
            **dataclasses.asdict(self),
        )

    def value(self, value: Any) -> Any:
        """A parameter's value, a placeholder alone ("{YF}") filled in; anything else as is."""
        if isinstance(value, str) and re.fullmatch(r"\{[A-Za-z_]+\}", value):
            return self.path(value)
        return value


@pytest.fixture
def world(client: Client, server_clock: FixedClock) -> World:
    service = create_service(client)
    other_service = create_service(client)
    mine = enrolled(client, server_clock, service, Totp(secret_for("mine")))
    unverified = create_factor(client, service, Totp(secret_for("unverified")), friendly_name="U")
    theirs = enrolled(
        client, server_clock, service, Totp(secret_for("theirs")), identity=OTHER_IDENTITY
    )
    elsewhere = enrolled(client, server_clock, other_service, Totp(secret_for("elsewhere")))
    at(server_clock, NOW + 300)
    pending = [f.entity.challenges.create(factor_sid=f.sid) for f in (mine, theirs, elsewhere)]
    return World(
        service=service,
        factor=mine.sid,
        unverified=unverified.sid,
        challenge=str(pending[0].sid),
        other_entity_factor=theirs.sid,
        other_entity_challenge=str(pending[1].sid),
        other_service=other_service,
        other_service_factor=elsewhere.sid,
        other_service_challenge=str(pending[2].sid),
    )


@dataclass(frozen=True)
class Bad:
    """One bad request: `params` replace the operation's valid ones (None leaves one out)."""

    why: str
    params: dict[str, Any] = field(default_factory=dict)
    code: int = 60306
    status: int = 400


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    valid: dict[str, Any]


ENTITIES = "/Services/{VA}/Entities"
FACTORS = "/Services/{VA}/Entities/{ID}/Factors"
CHALLENGES = "/Services/{VA}/Entities/{ID}/Challenges"
OPERATIONS = {
    "create entity": Operation("POST", ENTITIES, {"Identity": "a1b2c3d4-0000-new"}),
    "create factor": Operation(
        "POST", FACTORS, {"FriendlyName": "Ann's tablet", "FactorType": "totp"}
    ),
    "update factor": Operation("POST", FACTORS + "/{YF}", {"FriendlyName": "Ann's phone 2"}),
    "create challenge": Operation("POST", CHALLENGES, {"FactorSid": "{YF}"}),
    "answer challenge": Operation("POST", CHALLENGES + "/{YC}", {"AuthPayload": "123456"}),
    "list entities": Operation("GET", ENTITIES, {}),
    "create factor, Identity in the path": Operation(
        "POST", ENTITIES + "/{identity}/Factors", {"FriendlyName": "x", "FactorType": "totp"}
    ),
    "fetch entity, Identity in the path": Operation("GET", ENTITIES + "/{identity}", {}),
    "list factors": Operation("GET", FACTORS, {}),
    "list challenges": Operation("GET", CHALLENGES, {}),
}

LONG = "x" * 65
TABLE: dict[str, list[Bad]] = {
    "create entity": [
        Bad("Identity missing", {"Identity": None}),
        Bad("Identity empty", {"Identity": ""}),
        Bad("Identity of 7 characters (8 to 64)", {"Identity": "abc-123"}),
        Bad("Identity of 65 characters", {"Identity": "a" * 65}),
        Bad("Identity with a space", {"Identity": "user 12345"}),
        Bad("Identity with an underscore", {"Identity": "user_12345"}),
        Bad("Identity with a slash", {"Identity": "user/12345"}),
        Bad("Identity with a dot", {"Identity": "user.12345"}),
        Bad("Identity with a non-ASCII letter", {"Identity": "usér-12345"}),
        Bad("Identity an e-mail address (personal data)", {"Identity": "ann@example.com"}),
        Bad("Identity a phone number (personal data)", {"Identity": "+14155552671"}),
    ],
    "create factor": [
        Bad("FriendlyName missing", {"FriendlyName": None}),
        Bad("FriendlyName empty", {"FriendlyName": ""}),
        Bad("FriendlyName of 65 characters (up to 64)", {"FriendlyName": LONG}),
        Bad("FactorType missing", {"FactorType": None}),
        Bad("FactorType unknown", {"FactorType": "sms"}),
        Bad(
            "Binding.Secret not Base32 (1, 8, 0 and ! are not in its alphabet)",
            {"Binding.Secret": "A1B8C0D!"},
        ),
        Bad("Binding.Secret empty", {"Binding.Secret": ""}),
        Bad(
            "Binding.Secret of 80 bits (RFC 4226: at least 128)",
            {"Binding.Secret": "JBSWY3DPEHPK3PXP"},
        ),
        Bad("Config.TimeStep 19 (20 to 60)", {"Config.TimeStep": "19"}),
        Bad("Config.TimeStep 61", {"Config.TimeStep": "61"}),
        Bad("Config.TimeStep not a number", {"Config.TimeStep": "thirty"}),
        Bad("Config.Skew -1 (0 to 2)", {"Config.Skew": "-1"}),
        Bad("Config.Skew 3", {"Config.Skew": "3"}),
        Bad("Config.Skew not a number", {"Config.Skew": "one"}),
        Bad("Config.CodeLength 2 (3 to 8)", {"Config.CodeLength": "2"}),
        Bad("Config.CodeLength 9", {"Config.CodeLength": "9"}),
        Bad("Config.CodeLength not a number", {"Config.CodeLength": "six"}),
        Bad("Config.Alg unknown", {"Config.Alg": "md5"}),
        Bad("Metadata not JSON", {"Metadata": "{os: Android"}),
        Bad("Metadata a JSON list, not an object", {"Metadata": '["Android"]'}),
        Bad("Metadata with a value that is not a string", {"Metadata": '{"os": 1}'}),
        Bad("Metadata over 1024 characters", {"Metadata": json.dumps({"os": "A" * 1020})}),
    ],
    "update factor": [
        Bad("FriendlyName of 65 characters", {"FriendlyName": LONG}),
        Bad("Config.TimeStep 61", {"Config.TimeStep": "61"}),
        Bad("Config.Skew 3", {"Config.Skew": "3"}),
        Bad("Config.CodeLength 9", {"Config.CodeLength": "9"}),
        Bad("Config.Alg unknown", {"Config.Alg": "md5"}),
    ],
    "create challenge": [
        Bad("FactorSid missing", {"FactorSid": None}),
        Bad("FactorSid malformed", {"FactorSid": "YF123"}),
        Bad("FactorSid of another kind", {"FactorSid": "YC" + "0" * 32}),
        Bad("FactorSid unknown", {"FactorSid": UNKNOWN_YF}, 20404, 404),
        Bad("ExpirationDate not a date", {"ExpirationDate": "tomorrow"}),
        Bad("ExpirationDate in the past", {"ExpirationDate": "2026-12-03T10:00:00Z"}),
        Bad("ExpirationDate over 60 minutes ahead", {"ExpirationDate": "2026-12-03T11:05:01Z"}),
        Bad("AuthPayload of 2 characters (3 to 8)", {"AuthPayload": "12"}),
        Bad("AuthPayload of 9 characters", {"AuthPayload": "123456789"}),
        Bad("Details.Message over 256 characters", {"Details.Message": "m" * 257}),
        Bad("Details.Fields not JSON", {"Details.Fields": "{label"}),
        Bad("Details.Fields item without a label", {"Details.Fields": '{"value": "v"}'}),
        Bad(
            "Details.Fields label over 36 characters",
            {"Details.Fields": json.dumps({"label": "l" * 37, "value": "v"})},
        ),
        Bad(
            "Details.Fields value over 128 characters",
            {"Details.Fields": json.dumps({"label": "l", "value": "v" * 129})},
        ),
        Bad(
            "Details.Fields with 21 items (up to 20)",
            {"Details.Fields": [json.dumps({"label": f"l{i}", "value": "v"}) for i in range(21)]},
        ),
        Bad("HiddenDetails not JSON", {"HiddenDetails": "{ip"}),
        Bad("HiddenDetails with a value that is not a string", {"HiddenDetails": '{"n": 1}'}),
        Bad(
            "HiddenDetails over 1024 characters", {"HiddenDetails": json.dumps({"ip": "1" * 1020})}
        ),
    ],
    "answer challenge": [
        Bad("AuthPayload of 2 characters (3 to 8)", {"AuthPayload": "12"}),
        Bad("AuthPayload of 9 characters", {"AuthPayload": "123456789"}),
        Bad("Metadata not JSON", {"Metadata": "{os"}),
        Bad("Metadata with a value that is not a string", {"Metadata": '{"os": 1}'}),
    ],
    "create factor, Identity in the path": [
        Bad("with an underscore", {"identity": "user_12345"}),
        Bad("of 7 characters", {"identity": "abc-123"}),
        Bad("with a leading dash", {"identity": "-user12345"}),
    ],
    "fetch entity, Identity in the path": [
        Bad("with an underscore", {"identity": "user_12345"}),
        Bad("with a doubled dash", {"identity": "user--12345"}),
    ],
    "list entities": [
        Bad("PageSize 0 (1 to 1000)", {"PageSize": "0"}, 60200),
        Bad("PageSize 1001", {"PageSize": "1001"}, 60200),
    ],
    "list factors": [
        Bad("PageSize 0", {"PageSize": "0"}, 60200),
        Bad("PageSize not a number", {"PageSize": "ten"}, 60200),
    ],
    "list challenges": [
        Bad("Status unknown", {"Status": "maybe"}),
        Bad("Order unknown", {"Order": "sideways"}),
        Bad("FactorSid malformed", {"FactorSid": "YF123"}),
        Bad("PageSize 1001", {"PageSize": "1001"}, 60200),
        Bad("Page -1", {"Page": "-1"}, 60200),
    ],
}
CASES = [
    pytest.param(name, bad, id=f"{name}: {bad.why}") for name, rows in TABLE.items() for bad in rows
]


class _Keep(dict[str, str]):
    """format_map filling only the names it has; every other {name} stays for World.path."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def snapshot(client: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key under the clocked server's prefix, with its serialized value."""
    return {key: client.dump(key) for key in sorted(client.scan_iter(match=f"{PREFIX}:*"))}


def send(
    base_url: str, world: World, operation: Operation, params: dict[str, Any]
) -> requests.Response:
    """The operation with `params`; a lower-case key is a part of the path, not a parameter."""
    parts = {k: v for k, v in params.items() if k.islower()}
    params = {k: v for k, v in params.items() if not k.islower()}
    merged = {**operation.valid, **params}
    values = {k: world.value(v) for k, v in merged.items() if v is not None}
    url = f"{base_url}/v2{world.path(operation.path.format_map(_Keep(parts)))}"
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    if operation.method == "GET":
        return requests.get(url, params=values, auth=auth, timeout=30)
    return requests.post(url, data=values, auth=auth, timeout=30)


def twilio_error(response: requests.Response) -> tuple[int, int] | dict[str, Any]:
    """(HTTP status, code) when the answer is a Twilio-shaped error ({code, message,
    more_info, status} and nothing else, status matching, more_info naming the code); else
    the answer itself, to show in the failure."""
    body = response.json()
    shaped = (
        set(body) == ERROR_KEYS
        and body["status"] == response.status_code
        and body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
        and isinstance(body["message"], str)
        and body["message"] != ""
    )
    return (
        (response.status_code, body["code"]) if shaped else {"http": response.status_code, **body}
    )


class KeyChanges:
    """What changed under the clocked server's prefix since it was made: {} when nothing."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._before = snapshot(client)

    def since(self) -> dict[str, list[bytes]]:
        after = snapshot(self._client)
        found = {
            "added": sorted(set(after) - set(self._before)),
            "removed": sorted(set(self._before) - set(after)),
            "changed": sorted(
                k for k in set(self._before) & set(after) if self._before[k] != after[k]
            ),
        }
        return {kind: keys for kind, keys in found.items() if keys}


@pytest.fixture
def changes(world: World, redis_client: redis.Redis) -> KeyChanges:
    """Redis as `world` left it; the spec's second half compares against it."""
    return KeyChanges(redis_client)


@pytest.mark.parametrize(("operation", "bad"), CASES)
def test_a_bad_parameter_is_a_twilio_shaped_error_and_nothing_is_stored(
    clocked_server: ClockedServer,
    world: World,
    changes: KeyChanges,
    operation: str,
    bad: Bad,
) -> None:
    response = send(clocked_server.url, world, OPERATIONS[operation], bad.params)
    assert (twilio_error(response), changes.since()) == ((bad.status, bad.code), {})


NOT_HERE = [
    # (why, method, path, params) — each a 404 20404, nothing stored.
    ("unknown service", "GET", "/Services/" + UNKNOWN_VA + "/Entities/{ID}", {}),
    ("unknown entity", "GET", "/Services/{VA}/Entities/a1b2c3d4-unknown", {}),
    (
        "an entity of another service, by this service",
        "GET",
        "/Services/{VB}/Entities/" + OTHER_IDENTITY,
        {},
    ),
    ("unknown factor", "GET", FACTORS + "/" + UNKNOWN_YF, {}),
    ("another entity's factor", "GET", FACTORS + "/{other_entity_factor}", {}),
    ("another service's factor", "GET", FACTORS + "/{other_service_factor}", {}),
    (
        "another entity's factor, update",
        "POST",
        FACTORS + "/{other_entity_factor}",
        {"FriendlyName": "x"},
    ),
    ("another entity's factor, delete", "DELETE", FACTORS + "/{other_entity_factor}", {}),
    ("another service's factor, delete", "DELETE", FACTORS + "/{other_service_factor}", {}),
    ("unknown challenge", "GET", CHALLENGES + "/" + UNKNOWN_YC, {}),
    ("another entity's challenge", "GET", CHALLENGES + "/{other_entity_challenge}", {}),
    ("another service's challenge", "GET", CHALLENGES + "/{other_service_challenge}", {}),
    (
        "another entity's challenge, answer",
        "POST",
        CHALLENGES + "/{other_entity_challenge}",
        {"AuthPayload": "123456"},
    ),
    (
        "another entity's factor, challenge",
        "POST",
        CHALLENGES,
        {"FactorSid": "{other_entity_factor}"},
    ),
    (
        "another service's factor, challenge",
        "POST",
        CHALLENGES,
        {"FactorSid": "{other_service_factor}"},
    ),
    ("delete an unknown entity", "DELETE", "/Services/{VA}/Entities/a1b2c3d4-unknown", {}),
]


@pytest.mark.parametrize(
    ("method", "template", "params"),
    [pytest.param(m, t, p, id=why) for why, m, t, p in NOT_HERE],
)
def test_a_sid_that_is_not_under_the_path_is_not_found_and_nothing_changes(
    clocked_server: ClockedServer,
    world: World,
    changes: KeyChanges,
    method: str,
    template: str,
    params: dict[str, str],
) -> None:
    response = requests.request(
        method,
        f"{clocked_server.url}/v2{world.path(template)}",
        data={k: world.value(v) for k, v in params.items()} or None,
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )
    assert (twilio_error(response), changes.since()) == ((404, 20404), {})


def test_an_unverified_factor_cannot_be_challenged(
    client: Client, world: World, changes: KeyChanges
) -> None:
    """Only verified factors answer challenges: a 4xx error, no challenge stored."""
    entity = client.verify.v2.services(world.service).entities(IDENTITY)
    with pytest.raises(TwilioRestException) as refused:
        entity.challenges.create(factor_sid=world.unverified, auth_payload="123456")
    assert 400 <= refused.value.status < 500
    assert changes.since() == {}


def test_the_sdk_raises_twilio_rest_exception_with_the_code(client: Client, world: World) -> None:
    """What an SDK user sees of the table above: TwilioRestException, status and code."""
    entities = client.verify.v2.services(world.service).entities
    with pytest.raises(TwilioRestException) as bad_identity:
        entities.create(identity="user_12345")
    assert (bad_identity.value.status, bad_identity.value.code) == (400, 60306)
    with pytest.raises(TwilioRestException) as bad_step:
        entities(IDENTITY).new_factors.create(
            friendly_name="Ann's tablet", factor_type="totp", config_time_step=61
        )
    assert (bad_step.value.status, bad_step.value.code) == (400, 60306)
    with pytest.raises(TwilioRestException) as unknown:
        entities(IDENTITY).factors(UNKNOWN_YF).fetch()
    assert (unknown.value.status, unknown.value.code) == (404, 20404)

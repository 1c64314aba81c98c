"""Deletes under concurrent requests, and the bounds on an entity's challenges (docs/mfa.md,
"Deletes" and "Limits"). A concurrent request is made to land between two steps of a delete
by wrapping the store's script runner (the only seam: the requests themselves go through the
use cases and the API)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from tests.conftest import ACCOUNT_SID, Api
from tests.support.fakes import FixedClock
from tests.support.mfa import IDENTITY, totp_code
from verify_service.app import CONTAINER_KEY
from verify_service.application.access.access import Principal
from verify_service.application.mfa.challenges import NewChallengeRequest
from verify_service.application.mfa.factors import NewFactorRequest
from verify_service.domain.mfa.limits import MAX_LISTED_CHALLENGES, MAX_PENDING_CHALLENGES

ADMIN = Principal(ACCOUNT_SID, ACCOUNT_SID, "admin")
Hook = Callable[[str], None]


@pytest.fixture
def before_script(app: Flask) -> Iterator[Callable[[Hook], None]]:
    """`before_script(hook)`: `hook(name)` runs before each MFA script the store runs."""
    scripts = app.extensions[CONTAINER_KEY].mfa.factors._store._scripts
    real_run = scripts.run
    hooks: list[Hook] = []

    def run(client: Any, name: str, keys: Any, args: Any) -> Any:
        for hook in hooks:
            hook(name)
        return real_run(client, name, keys, args)

    scripts.run = run
    yield hooks.append
    scripts.run = real_run


class Enrolled:
    def __init__(self, api: Api, clock: FixedClock) -> None:
        self.api = api
        self.service = api.create_service()
        self.base = f"/v2/Services/{self.service}/Entities/{IDENTITY}"
        created = api.post(f"{self.base}/Factors", FriendlyName="phone", FactorType="totp").json
        self.sid: str = created["sid"]  # type: ignore[index]
        self.secret: str = created["binding"]["secret"]  # type: ignore[index]
        verified = api.post(
            f"{self.base}/Factors/{self.sid}", AuthPayload=totp_code(self.secret, clock.now)
        )
        assert verified.json["status"] == "verified"  # type: ignore[index]
        clock.advance(60)

    def delete(self, path: str = "") -> int:
        return self.api.client.delete(self.base + path, headers=self.api.headers).status_code


@pytest.fixture
def enrolled(api: Api, clock: FixedClock) -> Enrolled:
    return Enrolled(api, clock)


def test_an_entity_made_again_by_a_racing_factor_create_is_listed_and_dies_with_its_service(
    app: Flask,
    api: Api,
    enrolled: Enrolled,
    redis_client: redis.Redis,
    before_script: Callable[[Hook], None],
) -> None:
    """A factor create lands between the entity's delete and its unindexing: the entity it
    makes again is listed (the delete looks again after unindexing), so the service's delete
    walks to it and nothing of the service is left in Redis."""
    mfa = app.extensions[CONTAINER_KEY].mfa
    fired: list[str] = []

    def create_factor_once(name: str) -> None:
        if name == "unindex_entity" and not fired:
            fired.append(name)
            mfa.factors.create(enrolled.service, IDENTITY, NewFactorRequest("new", "totp"), ADMIN)

    before_script(create_factor_once)
    assert enrolled.delete() == 204
    assert fired
    assert api.get(enrolled.base).status_code == 200
    listed = api.get(f"/v2/Services/{enrolled.service}/Entities").json
    assert [e["identity"] for e in listed["entities"]] == [IDENTITY]  # type: ignore[index]
    assert (
        enrolled.api.client.delete(
            f"/v2/Services/{enrolled.service}", headers=api.headers
        ).status_code
        == 204
    )
    assert list(redis_client.scan_iter(match=f"it:mfa:*{enrolled.service}*")) == []


def test_a_stream_of_challenge_creations_blocks_no_delete(
    app: Flask, api: Api, enrolled: Enrolled, before_script: Callable[[Hook], None]
) -> None:
    """A login page driven by a bot creates a challenge before every delete script: the
    factor delete ("I lost my phone") and the entity delete still succeed at once."""
    mfa = app.extensions[CONTAINER_KEY].mfa
    created = []

    def challenge(name: str) -> None:
        if name in ("delete_factor", "delete_entity"):
            request = NewChallengeRequest(enrolled.sid)
            try:
                created.append(mfa.challenges.create(enrolled.service, IDENTITY, request, ADMIN))
            except Exception as exc:  # the factor is gone for the entity delete
                created.append(exc)

    before_script(challenge)
    assert enrolled.delete(f"/Factors/{enrolled.sid}") == 204
    assert api.get(f"{enrolled.base}/Factors/{enrolled.sid}").status_code == 404
    assert api.get(f"{enrolled.base}/Challenges").json["challenges"] == []  # type: ignore[index]
    assert enrolled.delete() == 204
    assert api.get(enrolled.base).status_code == 404
    assert len(created) == 2


def test_an_entity_has_at_most_50_pending_challenges(
    api: Api, enrolled: Enrolled, clock: FixedClock
) -> None:
    """Past 50 pending challenges a new pending one is refused (429 20429, until one ends,
    with its Retry-After); a challenge answered right at once is still created; an answered
    or expired one frees its place; a deleted factor frees its challenges' places."""
    assert MAX_PENDING_CHALLENGES == 50
    path = f"{enrolled.base}/Challenges"
    first = None
    for _ in range(MAX_PENDING_CHALLENGES):
        created = api.post(path, FactorSid=enrolled.sid)
        assert created.status_code == 201, created.json
        first = first or created.json["sid"]  # type: ignore[index]
    refused = api.post(path, FactorSid=enrolled.sid)
    assert (refused.status_code, refused.json["code"]) == (429, 20429)  # type: ignore[index]
    assert "pending challenges for this entity" in refused.json["message"]  # type: ignore[index]
    assert refused.headers["Retry-After"] == "300"
    wrong = api.post(path, FactorSid=enrolled.sid, AuthPayload="000000")
    assert wrong.status_code == 429
    right = api.post(
        path, FactorSid=enrolled.sid, AuthPayload=totp_code(enrolled.secret, clock.now)
    )
    assert right.json["status"] == "approved"  # type: ignore[index]
    clock.advance(30)
    answered = api.post(f"{path}/{first}", AuthPayload=totp_code(enrolled.secret, clock.now))
    assert answered.json["status"] == "approved"  # type: ignore[index]
    assert api.post(path, FactorSid=enrolled.sid).status_code == 201
    assert api.post(path, FactorSid=enrolled.sid).status_code == 429
    clock.advance(5 * 60)
    assert api.post(path, FactorSid=enrolled.sid).status_code == 201


def test_a_deleted_factor_frees_its_pending_places(
    api: Api, enrolled: Enrolled, clock: FixedClock
) -> None:
    path = f"{enrolled.base}/Challenges"
    for _ in range(MAX_PENDING_CHALLENGES):
        assert api.post(path, FactorSid=enrolled.sid).status_code == 201
    assert enrolled.delete(f"/Factors/{enrolled.sid}") == 204
    created = api.post(f"{enrolled.base}/Factors", FriendlyName="new phone", FactorType="totp")
    sid, secret = created.json["sid"], created.json["binding"]["secret"]  # type: ignore[index]
    api.post(f"{enrolled.base}/Factors/{sid}", AuthPayload=totp_code(secret, clock.now))
    assert api.post(path, FactorSid=sid).status_code == 201


def test_an_entitys_list_keeps_its_200_newest_challenges(
    api: Api, enrolled: Enrolled, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """Each list reads every listed challenge: the list is bounded; an older challenge is
    still fetched by its sid until it expires."""
    path = f"{enrolled.base}/Challenges"
    used = totp_code(enrolled.secret, clock.now)
    assert api.post(path, FactorSid=enrolled.sid, AuthPayload=used).json["status"] == "approved"  # type: ignore[index]
    sids = []
    for _ in range(MAX_LISTED_CHALLENGES + 5):
        clock.advance(0.001)
        replayed = api.post(path, FactorSid=enrolled.sid, AuthPayload=used)
        assert replayed.json["status"] == "denied"  # type: ignore[index]
        sids.append(replayed.json["sid"])  # type: ignore[index]
    [listed] = redis_client.scan_iter(match="it:mfa:*:challenges")
    assert redis_client.zcard(listed) == MAX_LISTED_CHALLENGES
    listed_sids = []
    for page in range(4):
        answer = api.get(f"{path}?PageSize=100&Page={page}").json
        listed_sids += [c["sid"] for c in answer["challenges"]]  # type: ignore[index]
    assert sorted(listed_sids) == sorted(sids[-MAX_LISTED_CHALLENGES:])
    assert api.get(f"{path}/{sids[0]}").status_code == 200


def test_racing_factor_creates_are_a_429_that_names_no_phone_number(
    app: Flask, api: Api, enrolled: Enrolled, before_script: Callable[[Hook], None]
) -> None:
    """When the entity's factor list keeps changing under a create (here: another create
    before each try), the create gives up with 429 60212 and an MFA message."""
    mfa = app.extensions[CONTAINER_KEY].mfa
    depth: list[int] = []

    def another_factor(name: str) -> None:
        if name == "create_factor" and not depth:
            depth.append(1)
            try:
                mfa.factors.create(enrolled.service, IDENTITY, NewFactorRequest("x", "totp"), ADMIN)
            finally:
                depth.pop()

    before_script(another_factor)
    refused = api.post(f"{enrolled.base}/Factors", FriendlyName="phone 2", FactorType="totp")
    assert (refused.status_code, refused.json["code"]) == (429, 60212)  # type: ignore[index]
    assert "phone" not in refused.json["message"]  # type: ignore[index]
    assert "entity" in refused.json["message"]  # type: ignore[index]
    assert refused.headers["Retry-After"] == "1"

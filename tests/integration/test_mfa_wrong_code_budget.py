"""The long-run wrong-code budget (docs/mfa.md, "Limits"): besides 5 wrong codes per factor
in 15 minutes, an entity has 20 wrong codes in any 24 hours across all its TOTP factors;
past it every answer (a right code included) is refused — 60308 for challenges, 60310 for
factor verification — with the `Retry-After` of the binding window. Both windows are
measured in Redis's time, so app nodes whose clocks disagree share one window."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from flask import Flask
from werkzeug.test import TestResponse

from tests.conftest import Api
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.mfa import IDENTITY, age_wrong_code_windows, other_code, totp_code
from verify_service.app import create_app
from verify_service.domain.mfa.limits import (
    ENTITY_WRONG_CODE_WINDOW_MS,
    MAX_ENTITY_WRONG_CODES,
    MAX_WRONG_CODES,
    WRONG_CODE_WINDOW_MS,
)
from verify_service.settings import Settings

DAY_S = ENTITY_WRONG_CODE_WINDOW_MS // 1000
WINDOW_S = WRONG_CODE_WINDOW_MS // 1000


class Identity:
    """An entity of a new service with `n` verified TOTP factors."""

    def __init__(self, api: Api, clock: FixedClock, n: int, identity: str = IDENTITY) -> None:
        self.api = api
        self.clock = clock
        self.service = api.create_service()
        self.base = f"/v2/Services/{self.service}/Entities/{identity}"
        self.factors: list[tuple[str, str]] = [self.add_factor(f"phone {i}") for i in range(n)]
        clock.advance(90)  # past the steps the verifications used

    def add_factor(self, name: str, verify: bool = True) -> tuple[str, str]:
        created = self.api.post(f"{self.base}/Factors", FriendlyName=name, FactorType="totp")
        assert created.status_code == 201, created.json
        sid, secret = created.json["sid"], created.json["binding"]["secret"]  # type: ignore[index]
        if verify:
            verified = self.api.post(
                f"{self.base}/Factors/{sid}", AuthPayload=totp_code(secret, self.clock.now)
            )
            assert verified.json["status"] == "verified", verified.json  # type: ignore[index]
        return sid, secret

    def right(self, index: int) -> str:
        return totp_code(self.factors[index][1], self.clock.now)

    def wrong(self, index: int) -> str:
        return other_code(self.right(index))

    def challenge(self, index: int, code: str, api: Api | None = None) -> TestResponse:
        return (api or self.api).post(
            f"{self.base}/Challenges", FactorSid=self.factors[index][0], AuthPayload=code
        )


def outcome(response: TestResponse) -> tuple[int, Any]:
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return response.status_code, body.get("status") if response.status_code < 400 else body["code"]


def test_an_entity_has_20_wrong_codes_in_24_hours_across_its_factors(
    api: Api, clock: FixedClock, redis_client: redis.Redis
) -> None:
    assert (MAX_ENTITY_WRONG_CODES, DAY_S) == (20, 24 * 3600)
    entity = Identity(api, clock, 5)
    for index in range(4):
        for _ in range(MAX_WRONG_CODES):
            assert outcome(entity.challenge(index, entity.wrong(index))) == (201, "pending")
    # The fifth factor has its own 15-minute window, but the entity's day is spent.
    refused = entity.challenge(4, entity.right(4))
    assert outcome(refused) == (429, 60308)
    assert int(refused.headers["Retry-After"]) in (DAY_S - 1, DAY_S)
    assert refused.json["message"] == (  # type: ignore[index]
        "Max challenge verification attempts reached: too many wrong codes for this entity"
        " in 24 hours (all its factors); try again in 24 hours"
    )
    # The factors' windows pass; the entity's day still binds, for challenges and for the
    # verification of a new factor (60310).
    age_wrong_code_windows(redis_client, WINDOW_S + 1)
    refused = entity.challenge(0, entity.right(0))
    assert outcome(refused) == (429, 60308)
    assert int(refused.headers["Retry-After"]) in (DAY_S - WINDOW_S - 2, DAY_S - WINDOW_S - 1)
    sid, secret = entity.add_factor("new phone", verify=False)
    refused = api.post(f"{entity.base}/Factors/{sid}", AuthPayload=totp_code(secret, clock.now))
    assert outcome(refused) == (429, 60310)
    # Another identity of the same service keeps its own budget.
    other = f"/v2/Services/{entity.service}/Entities/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
    created = api.post(f"{other}/Factors", FriendlyName="p", FactorType="totp").json
    assert (
        api.post(  # type: ignore[index]
            f"{other}/Factors/{created['sid']}",  # type: ignore[index]
            AuthPayload=totp_code(created["binding"]["secret"], clock.now),  # type: ignore[index]
        ).json["status"]
        == "verified"
    )  # type: ignore[index]
    # A day after the first wrong code, the entity answers again.
    age_wrong_code_windows(redis_client, DAY_S)
    assert outcome(entity.challenge(4, entity.right(4))) == (201, "approved")


def test_the_day_budget_is_rolling_not_reset_by_a_right_code(
    api: Api, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """Four factor windows of 5 wrong codes an hour apart: the 20th wrong code spends the
    day; a right code resets the factor's window, not the day; each batch leaves the day 24
    hours after it was counted, not all at once."""
    entity = Identity(api, clock, 1)
    for _ in range(4):
        for _ in range(MAX_WRONG_CODES):
            assert outcome(entity.challenge(0, entity.wrong(0))) == (201, "pending")
        age_wrong_code_windows(redis_client, 3600)
        clock.advance(30)
    assert outcome(entity.challenge(0, entity.right(0))) == (429, 60308)
    age_wrong_code_windows(redis_client, DAY_S - 4 * 3600 + 1)  # the first 5 leave the day
    clock.advance(30)
    assert outcome(entity.challenge(0, entity.right(0))) == (201, "approved")
    clock.advance(30)
    for _ in range(MAX_WRONG_CODES):
        assert outcome(entity.challenge(0, entity.wrong(0))) == (201, "pending")
    refused = entity.challenge(0, entity.right(0))
    assert outcome(refused) == (429, 60308)
    # Both are spent: the factor's window ends in 15 minutes, the day's second batch leaves
    # it in an hour: the later one binds, and the message says it is the entity's.
    assert int(refused.headers["Retry-After"]) in (3599, 3600)
    assert "entity" in refused.json["message"]  # type: ignore[index]
    age_wrong_code_windows(redis_client, 3600)
    clock.advance(30)
    assert outcome(entity.challenge(0, entity.right(0))) == (201, "approved")


def test_60_concurrent_wrong_codes_over_5_factors_count_exactly_20(
    app: Flask, api: Api, clock: FixedClock
) -> None:
    entity = Identity(api, clock, 5)
    codes = [entity.wrong(index) for index in range(5)]

    def answer(n: int) -> tuple[int, Any]:
        return outcome(entity.challenge(n % 5, codes[n % 5], Api(app.test_client())))

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(answer, range(60)))
    assert sorted(set(outcomes)) == [(201, "pending"), (429, 60308)], outcomes
    assert outcomes.count((201, "pending")) == MAX_ENTITY_WRONG_CODES


def test_app_nodes_with_skewed_clocks_share_one_window(
    api: Api, settings: Settings, clock: FixedClock
) -> None:
    """A node whose clock is 15 minutes ahead does not see the window as over: the window
    is Redis's time, the same for every node (the TOTP step is still the node's clock)."""
    ahead = FixedClock()
    ahead.now = clock.now + WRONG_CODE_WINDOW_MS + 60_000
    node_b = Api(
        create_app(settings, clock=ahead, providers=RecordingSender().as_providers()).test_client()
    )
    entity = Identity(api, clock, 1)
    ahead.advance(90)
    counted = 0
    for node, node_clock in ((api, clock), (node_b, ahead)):
        for _ in range(MAX_WRONG_CODES + 1):
            wrong = other_code(totp_code(entity.factors[0][1], node_clock.now))
            counted += entity.challenge(0, wrong, node).status_code == 201
    assert counted == MAX_WRONG_CODES
    refused = entity.challenge(0, totp_code(entity.factors[0][1], ahead.now), node_b)
    assert outcome(refused) == (429, 60308)
    assert int(refused.headers["Retry-After"]) in (WINDOW_S - 1, WINDOW_S)

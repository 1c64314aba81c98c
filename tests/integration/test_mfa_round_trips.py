"""What a TOTP challenge costs in Redis round trips (issue 11, item 9: docs/performance.md
"MFA (issue 11)"), and that the savings keep every guarantee: three round trips (the
service's existence with the factor; the challenge script with the audit log's head; the
audit append), every challenge audited in one unbroken chain even when another process
appends between them, and an unknown service still answered 404 before any input error."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
import redis
from flask import Flask

from tests.conftest import Api
from tests.integration.test_audit_log import entry, stored
from tests.integration.test_rate_limiter import CountingClient
from tests.support.fakes import FixedClock
from verify_service.adapters.redis_store.audit.audit_log import RedisAuditLog
from verify_service.adapters.redis_store.keys import AuditKeys
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.application.audit.audit import MFA_ACTIVITY_LOG
from verify_service.settings import Settings

IDENTITY = "c0ffee00-1234-abcd-9876-feedfacecafe"
# Challenges are recorded in the MFA activity log (docs/audit-log.md, "Two logs").
KEYS = AuditKeys("it", MFA_ACTIVITY_LOG)


def round_trips_of(action: Any) -> tuple[int, Any]:
    CountingClient.round_trips = 0
    response = action()
    return CountingClient.round_trips, response


class Enrolled:
    """A verified TOTP factor, created through the API of an app counting round trips."""

    def __init__(self, app: Flask, clock: FixedClock) -> None:
        self.app, self.clock = app, clock
        self.api = Api(app.test_client())
        self.service = self.api.create_service(FriendlyName="Acme")
        self.base = f"/v2/Services/{self.service}/Entities/{IDENTITY}"
        created = self.api.post(f"{self.base}/Factors", FriendlyName="phone", FactorType="totp")
        assert created.status_code == 201, created.json
        self.sid, self.secret = created.json["sid"], created.json["binding"]["secret"]
        verified = self.api.post(f"{self.base}/Factors/{self.sid}", AuthPayload=self.code())
        assert verified.json["status"] == "verified"

    def code(self) -> str:
        return pyotp.TOTP(self.secret).at(self.clock.now_ms() // 1000)

    def challenge(self, **params: Any) -> Any:
        """A challenge with the next step's right code (every one a new step: no replay)."""
        self.clock.advance(30)
        params.setdefault("AuthPayload", self.code())
        return self.api.post(f"{self.base}/Challenges", FactorSid=self.sid, **params)


@pytest.fixture
def counting_app(settings: Settings, redis_client: redis.Redis, clock: FixedClock) -> Flask:
    counting = CountingClient(connection_pool=redis_client.connection_pool)
    return create_app(settings, clock=clock, redis_client=counting)


def audit_log(app: Flask) -> RedisAuditLog:
    log: RedisAuditLog = app.extensions[CONTAINER_KEY].mfa_activity
    return log


def test_a_totp_challenge_is_three_round_trips_and_audited(
    counting_app: Flask, clock: FixedClock, redis_client: redis.Redis
) -> None:
    enrolled = Enrolled(counting_app, clock)
    for _ in range(3):
        trips, response = round_trips_of(enrolled.challenge)
        assert response.status_code == 201, response.json
        assert response.json["status"] == "approved"
        assert trips == 3
        newest = stored(redis_client, KEYS)[-1][1]
        assert (newest["action"], newest["outcome"]) == ("mfa.challenge.create", "approved")
        assert newest["target"].endswith(f"/{enrolled.sid}/{response.json['sid']}")
    assert audit_log(counting_app).verify().ok


def test_an_answer_to_a_pending_challenge_reads_the_audit_head_in_its_script_round_trip(
    counting_app: Flask, clock: FixedClock
) -> None:
    enrolled = Enrolled(counting_app, clock)
    created = enrolled.api.post(f"{enrolled.base}/Challenges", FactorSid=enrolled.sid)
    assert created.json["status"] == "pending"
    clock.advance(30)
    url = f"{enrolled.base}/Challenges/{created.json['sid']}"
    trips, answered = round_trips_of(lambda: enrolled.api.post(url, AuthPayload=enrolled.code()))
    assert answered.json["status"] == "approved"
    # Service, challenge, factor (reads); the script with the audit head; the append.
    assert trips == 5
    assert audit_log(counting_app).verify().ok


def test_appends_from_another_process_in_between_keep_one_chain(
    counting_app: Flask, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """Another process (its own log object) appends before each challenge and between the
    challenge's script and its append: the head this process saw is then stale, the
    compare-and-set refuses it, and the append chains onto the head the script answered."""
    enrolled = Enrolled(counting_app, clock)
    other = RedisAuditLog(
        redis_client, audit_log(counting_app)._scripts, KEYS, audit_log(counting_app)._ring, 1000
    )
    mine = audit_log(counting_app)
    original = mine.note_head

    def then_another_appends(raw: list[bytes | None]) -> None:
        original(raw)
        other.append(entry(7))

    for n in range(3):
        other.append(entry(n))
        mine.note_head = then_another_appends  # type: ignore[method-assign]
        trips, response = round_trips_of(enrolled.challenge)
        mine.note_head = original  # type: ignore[method-assign]
        assert response.json["status"] == "approved"
        assert trips == 4  # the refused append, then the one chained onto the answered head
    actions = [e["action"] for _, e in stored(redis_client, KEYS)][-9:]
    assert actions == ["services.update", "services.update", "mfa.challenge.create"] * 3
    seqs = [e["seq"] for _, e in stored(redis_client, KEYS)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert mine.verify().ok


def test_an_unknown_service_is_404_before_any_input_error(counting_app: Flask) -> None:
    api = Api(counting_app.test_client())
    unknown = "VA" + "0" * 32
    for identity, params in (
        (IDENTITY, {"FactorSid": "YF" + "0" * 32, "AuthPayload": "123456"}),
        ("not an identity!", {"FactorSid": "YF" + "0" * 32, "AuthPayload": "123456"}),
        (IDENTITY, {"FactorSid": "bad", "AuthPayload": "123456"}),
        (IDENTITY, {"FactorSid": "YF" + "0" * 32, "AuthPayload": "1"}),
    ):
        response = api.post(f"/v2/Services/{unknown}/Entities/{identity}/Challenges", **params)
        assert response.status_code == 404, (identity, params, response.json)

"""Every factor and challenge change leaves exactly one entry (who, role, action, target
`VA…/YE…[/YF…[/YC…]]`, outcome), and no entry ever holds a secret, a code, an AuthPayload,
a binding or the identity. Entities and factors are recorded in the audit log, challenges
in the MFA activity log (docs/audit-log.md, "Two logs")."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.conftest import ACCOUNT_SID, Api
from tests.support.fakes import FixedClock
from verify_service.app import CONTAINER_KEY
from verify_service.application.audit.audit import AUDIT_LOG, LOG_NAMES, MFA_ACTIVITY_LOG

IDENTITY = "c0ffee00-1234-abcd-9876-feedfacecafe"


def entries(app: Flask, log: str) -> list[dict[str, Any]]:
    """One log's entries, oldest first, each with the log's name as `log`."""
    records, _more = app.extensions[CONTAINER_KEY].audit_logs()[log].newest(500)
    return [{**dataclasses.asdict(r.entry), "log": log} for r in reversed(records)]


class Recorder:
    """Runs one API call and returns the entries it added to either log."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def added_by(
        self, call: Callable[[], TestResponse]
    ) -> tuple[TestResponse, list[dict[str, Any]]]:
        before = {log: len(entries(self.app, log)) for log in LOG_NAMES}
        response = call()
        return response, [e for log in LOG_NAMES for e in entries(self.app, log)[before[log] :]]


@pytest.fixture
def recorder(app: Flask) -> Recorder:
    return Recorder(app)


@pytest.fixture
def service(api: Api) -> str:
    return api.create_service(FriendlyName="Acme Bank")


def code_at(secret: str, clock: FixedClock) -> str:
    return pyotp.TOTP(secret).at(clock.now_ms() // 1000)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def one(added: list[dict[str, Any]], log: str = AUDIT_LOG) -> dict[str, Any]:
    """The one entry added, in `log`."""
    assert len(added) == 1, added
    assert added[0]["log"] == log, added
    return added[0]


def activity(added: list[dict[str, Any]]) -> dict[str, Any]:
    return one(added, MFA_ACTIVITY_LOG)


def test_every_factor_and_challenge_change_leaves_exactly_one_entry(
    app: Flask, api: Api, service: str, clock: FixedClock, recorder: Recorder
) -> None:
    base = f"/v2/Services/{service}/Entities"
    secrets: list[str] = []
    codes: list[str] = []
    actions: list[str] = []

    response, added = recorder.added_by(lambda: api.post(base, Identity=IDENTITY))
    assert response.status_code == 201
    entity_sid = response.json["sid"]  # type: ignore[index]
    entry = one(added)
    assert entry["target"] == f"{service}/{entity_sid}"
    actions.append(entry["action"])

    response, added = recorder.added_by(
        lambda: api.post(f"{base}/{IDENTITY}/Factors", FactorType="totp", FriendlyName="Phone")
    )
    assert response.status_code == 201
    factor: dict[str, Any] = response.json  # type: ignore[assignment]
    secrets += [factor["binding"]["secret"], factor["binding"]["uri"]]
    factor_path = f"{base}/{IDENTITY}/Factors/{factor['sid']}"
    entry = one(added)
    assert entry["target"] == f"{service}/{entity_sid}/{factor['sid']}"
    assert (entry["actor"], entry["role"], entry["outcome"]) == (ACCOUNT_SID, "admin", "ok")
    actions.append(entry["action"])

    bad = wrong(code_at(factor["binding"]["secret"], clock))
    codes.append(bad)
    response, added = recorder.added_by(lambda: api.post(factor_path, AuthPayload=bad))
    entry = one(added)
    assert entry["outcome"] == "wrong"
    actions.append(entry["action"])

    good = code_at(factor["binding"]["secret"], clock)
    codes.append(good)
    response, added = recorder.added_by(lambda: api.post(factor_path, AuthPayload=good))
    assert response.json["status"] == "verified"  # type: ignore[index]
    entry = one(added)
    assert entry["target"] == f"{service}/{entity_sid}/{factor['sid']}"
    assert entry["outcome"] == "verified"
    actions.append(entry["action"])

    response, added = recorder.added_by(lambda: api.post(factor_path, FriendlyName="Old phone"))
    assert response.status_code == 200
    actions.append(one(added)["action"])

    clock.advance(60)
    good = code_at(factor["binding"]["secret"], clock)
    codes.append(good)
    challenges = f"{base}/{IDENTITY}/Challenges"
    response, added = recorder.added_by(
        lambda: api.post(challenges, FactorSid=factor["sid"], AuthPayload=good)
    )
    assert response.json["status"] == "approved"  # type: ignore[index]
    entry = activity(added)
    challenge_target = f"{service}/{entity_sid}/{factor['sid']}/{response.json['sid']}"  # type: ignore[index]
    assert entry["target"] == challenge_target
    actions.append(entry["action"])

    response, added = recorder.added_by(lambda: api.post(challenges, FactorSid=factor["sid"]))
    assert response.json["status"] == "pending"  # type: ignore[index]
    pending = response.json["sid"]  # type: ignore[index]
    actions.append(activity(added)["action"])

    clock.advance(60)
    bad = wrong(code_at(factor["binding"]["secret"], clock))
    codes.append(bad)
    response, added = recorder.added_by(
        lambda: api.post(f"{challenges}/{pending}", AuthPayload=bad)
    )
    entry = activity(added)
    assert entry["target"] == f"{service}/{entity_sid}/{factor['sid']}/{pending}"
    actions.append(entry["action"])

    response, added = recorder.added_by(lambda: api.post(challenges, FactorSid=factor["sid"]))
    second = response.json["sid"]  # type: ignore[index]
    activity(added)
    clock.advance(60)
    good = code_at(factor["binding"]["secret"], clock)
    codes.append(good)
    response, added = recorder.added_by(
        lambda: api.post(f"{challenges}/{second}", AuthPayload=good)
    )
    assert response.json["status"] == "approved"  # type: ignore[index]
    assert activity(added)["outcome"] == "approved"

    response, added = recorder.added_by(lambda: api.client.delete(factor_path, headers=api.headers))
    assert response.status_code == 204
    entry = one(added)
    assert entry["target"] == f"{service}/{entity_sid}/{factor['sid']}"
    actions.append(entry["action"])

    api.post(f"{base}/{IDENTITY}/Factors", FactorType="totp", FriendlyName="Another")
    api.post(f"{base}/{IDENTITY}/Factors", FactorType="totp", FriendlyName="And another")
    response, added = recorder.added_by(
        lambda: api.client.delete(f"{base}/{IDENTITY}", headers=api.headers)
    )
    assert response.status_code == 204
    entry = one(added)  # one entry for the entity, not one per factor
    assert entry["target"] == f"{service}/{entity_sid}"
    actions.append(entry["action"])

    everything = json.dumps([e for log in LOG_NAMES for e in entries(app, log)])
    for value in secrets + codes:
        assert value not in everything
    assert IDENTITY not in everything
    assert "AuthPayload" not in everything
    assert "otpauth" not in everything
    assert all(action for action in actions)

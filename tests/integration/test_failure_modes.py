"""What the service answers when Redis or its own configuration is in a bad state."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from tests.conftest import Api
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import create_app
from verify_service.application.verifications.ports import PendingSnapshot, StartContext
from verify_service.http.wiring import EXTENSION_KEY
from verify_service.settings import Settings

TO = "+14155552671"


@pytest.fixture
def redis_out_of_memory(redis_client: redis.Redis) -> Iterator[None]:
    redis_client.config_set("maxmemory", "1")
    redis_client.config_set("maxmemory-policy", "noeviction")
    yield
    redis_client.config_set("maxmemory", "0")


def test_a_redis_that_refuses_writes_is_a_503_not_a_500(
    api: Api, sender: RecordingSender, redis_out_of_memory: None, redis_client: redis.Redis
) -> None:
    """OOM (like MISCONF, NOPERM, BUSY) fails closed with 20503, and nothing is sent."""
    service = api.post("/v2/Services", FriendlyName="Acme")
    assert (service.status_code, service.json["code"]) == (503, 20503)  # type: ignore[index]
    redis_client.config_set("maxmemory", "0")
    service_sid = api.create_service()
    redis_client.config_set("maxmemory", "1")
    started = api.start(service_sid, TO)
    assert (started.status_code, started.json["code"]) == (503, 20503)  # type: ignore[index]
    assert sender.sent == []


def test_verifications_stored_under_a_previous_secret_key_are_gone_not_broken(
    api: Api, settings: Settings, sender: RecordingSender, redis_client: redis.Redis
) -> None:
    """After VERIFY_SECRET_KEY changes, old verifications answer 404, never 500."""
    service_sid = api.create_service()
    started = api.start(service_sid, TO).json
    assert started is not None
    old_code = sender.last_code(started["sid"])

    rotated = Settings(
        **{**_fields(settings), "secret_key": b"another-secret-key-of-at-least-32-bytes"}
    )
    app_after = create_app(rotated, clock=FixedClock(), providers=RecordingSender().as_providers())
    api_after = Api(app_after.test_client())
    for response in (
        api_after.fetch(service_sid, started["sid"]),
        api_after.check(service_sid, old_code, VerificationSid=started["sid"]),
        api_after.update(service_sid, started["sid"], "canceled"),
    ):
        assert (response.status_code, response.json["code"]) == (404, 20404)  # type: ignore[index]


def _fields(settings: Settings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in Settings.__dataclass_fields__}


def test_a_start_that_keeps_losing_races_answers_60212(
    app: Flask, api: Api, sender: RecordingSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the pending verification keeps changing under a start, it gives up with 60212."""
    service_sid = api.create_service()
    assert api.start(service_sid, TO).status_code == 201
    store = app.extensions[EXTENSION_KEY].verifications._store
    real_prepare = store.prepare_protected_start

    def stale_read(ref: object, now_ms: int, probe: object) -> StartContext:
        # Every read sees a verification that another request has just replaced.
        context = real_prepare(ref, now_ms, probe)
        stale = PendingSnapshot("VE" + "0" * 32, b"\0" * 16, to=TO)
        return dataclasses.replace(context, pending=stale)

    monkeypatch.setattr(store, "prepare_protected_start", stale_read)
    response = api.start(service_sid, TO)
    assert (response.status_code, response.json["code"]) == (429, 60212)  # type: ignore[index]
    assert response.headers["Retry-After"] == "1"
    assert len(sender.sent) == 1  # only the first start delivered a code

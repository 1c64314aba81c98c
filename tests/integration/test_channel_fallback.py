"""Automatic channel fallback (extension): FallbackChannels / FallbackAfterSeconds, steps kept
in Redis and run by delivery workers, with a fixed clock and recording providers."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
from flask import Flask

from tests.conftest import Api, deliver_queued
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.adapters.redis_store.delivery.fallback_schedule import RedisFallbackSchedule
from verify_service.adapters.redis_store.keys import FallbackKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.domain.delivery.delivery import (
    DeliveryReceipt,
    DeliveryRequest,
    PermanentDeliveryError,
)
from verify_service.domain.models import Channel
from verify_service.settings import Settings

TO = "+14155552671"


class RefusingProvider:
    """A gateway that refuses every message permanently (an invalid number, say)."""

    name = "refusing"

    def __init__(self) -> None:
        self.refused = 0

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        self.refused += 1
        raise PermanentDeliveryError(f"{request.attempt_sid} rejected", "21211")


def _service(api: Api, **params: Any) -> str:
    params.setdefault("FallbackChannels", "call")
    params.setdefault("FallbackAfterSeconds", 60)
    return api.create_service(**params)


def _start(api: Api, service_sid: str, channel: str = "sms") -> str:
    response = api.start(service_sid, TO, channel)
    assert response.status_code == 201, response.json
    sid: str = response.json["sid"]  # type: ignore[index]
    return sid


def _attempts(api: Api, service_sid: str, verification_sid: str) -> list[str]:
    body: Any = api.fetch(service_sid, verification_sid).json
    return [attempt["channel"] for attempt in body["send_code_attempts"]]


def _channels(sender: RecordingSender) -> list[Channel]:
    return [message.channel for message in sender.sent]


# -- service parameters -------------------------------------------------------------------------


def test_service_json_echoes_the_fallback_fields(api: Api) -> None:
    response = api.post(
        "/v2/Services",
        FriendlyName="Acme",
        FallbackChannels="call, whatsapp",
        FallbackAfterSeconds=45,
    )
    assert response.status_code == 201, response.json
    body: Any = response.json
    assert body["fallback_channels"] == ["call", "whatsapp"]
    assert body["fallback_after_seconds"] == 45
    fetched: Any = api.get(f"/v2/Services/{body['sid']}").json
    assert fetched["fallback_channels"] == ["call", "whatsapp"]
    assert fetched["fallback_after_seconds"] == 45


def test_fallback_is_off_by_default_and_can_be_turned_off(api: Api) -> None:
    plain: Any = api.post("/v2/Services", FriendlyName="Acme").json
    assert plain["fallback_channels"] == []
    assert plain["fallback_after_seconds"] == 60
    sid = _service(api)
    updated: Any = api.post(f"/v2/Services/{sid}", FallbackChannels="").json
    assert updated["fallback_channels"] == []
    updated = api.post(f"/v2/Services/{sid}", FallbackChannels="whatsapp,sms").json
    assert updated["fallback_channels"] == ["whatsapp", "sms"]


@pytest.mark.parametrize(
    "params",
    [
        {"FallbackChannels": "email"},
        {"FallbackChannels": "fax"},
        {"FallbackChannels": "call,call"},
        {"FallbackChannels": "sms,call,whatsapp,sms"},
        {"FallbackAfterSeconds": 29},
        {"FallbackAfterSeconds": 601},
        {"FallbackAfterSeconds": "soon"},
    ],
)
def test_invalid_fallback_parameters_are_60200(api: Api, params: dict[str, Any]) -> None:
    created = api.post("/v2/Services", FriendlyName="Acme", **params)
    assert created.status_code == 400
    assert created.json["code"] == 60200  # type: ignore[index]
    sid = api.create_service()
    updated = api.post(f"/v2/Services/{sid}", **params)
    assert updated.status_code == 400
    assert updated.json["code"] == 60200  # type: ignore[index]


# -- steps ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("approve_with", [0, 1], ids=["sms-code", "call-code"])
def test_call_follows_an_unanswered_sms_with_a_fresh_code(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender, approve_with: int
) -> None:
    service_sid = _service(api)
    verification_sid = _start(api, service_sid)
    assert _channels(sender) == [Channel.SMS]

    clock.advance(59)
    deliver_queued(app)
    assert _channels(sender) == [Channel.SMS]

    clock.advance(2)
    deliver_queued(app)
    assert _channels(sender) == [Channel.SMS, Channel.CALL]
    assert sender.sent[1].to == TO
    assert _attempts(api, service_sid, verification_sid) == ["SMS", "CALL"]
    fetched: Any = api.fetch(service_sid, verification_sid).json
    assert fetched["channel"] == "call"
    assert fetched["status"] == "pending"

    codes = sender.codes_for(verification_sid)
    assert len(codes) == 2
    checked: Any = api.check(service_sid, codes[approve_with], To=TO).json
    assert checked["status"] == "approved"


def test_each_step_follows_the_previous_one(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    service_sid = _service(api, FallbackChannels="whatsapp,call", FallbackAfterSeconds=30)
    verification_sid = _start(api, service_sid)
    clock.advance(31)
    deliver_queued(app)
    clock.advance(29)
    deliver_queued(app)
    assert _channels(sender) == [Channel.SMS, Channel.WHATSAPP]
    clock.advance(2)
    deliver_queued(app)
    assert _attempts(api, service_sid, verification_sid) == ["SMS", "WHATSAPP", "CALL"]
    clock.advance(300)  # the list is used up: nothing more
    deliver_queued(app)
    assert _channels(sender) == [Channel.SMS, Channel.WHATSAPP, Channel.CALL]


def test_no_call_once_approved(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    service_sid = _service(api)
    verification_sid = _start(api, service_sid)
    code = sender.last_code(verification_sid)
    clock.advance(30)
    assert api.check(service_sid, code, To=TO).json["status"] == "approved"  # type: ignore[index]
    clock.advance(31)
    deliver_queued(app)
    assert _channels(sender) == [Channel.SMS]


def test_no_call_once_canceled(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    service_sid = _service(api)
    verification_sid = _start(api, service_sid)
    assert api.update(service_sid, verification_sid, "canceled").status_code == 200
    clock.advance(61)
    deliver_queued(app)
    assert _channels(sender) == [Channel.SMS]


def test_no_step_after_five_sends(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    service_sid = _service(api)
    verification_sid = _start(api, service_sid)
    for _ in range(4):
        clock.advance(10)
        assert _start(api, service_sid) == verification_sid
    clock.advance(61)
    deliver_queued(app)
    assert _channels(sender) == [Channel.SMS] * 5
    assert len(_attempts(api, service_sid, verification_sid)) == 5


def test_a_resend_restarts_the_wait(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    service_sid = _service(api)
    verification_sid = _start(api, service_sid)
    clock.advance(40)
    _start(api, service_sid)  # the user asked for another SMS
    clock.advance(40)
    deliver_queued(app)
    assert _channels(sender) == [Channel.SMS, Channel.SMS]
    clock.advance(21)
    deliver_queued(app)
    assert _attempts(api, service_sid, verification_sid) == ["SMS", "SMS", "CALL"]


def test_no_fallback_for_email_destinations(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    service_sid = _service(api)
    response = api.start(service_sid, "someone@example.com", "email")
    assert response.status_code == 201
    clock.advance(61)
    deliver_queued(app)
    assert _channels(sender) == [Channel.EMAIL]


def test_failed_delivery_sends_the_next_channel_at_once(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    refusing = RefusingProvider()
    providers: dict[Channel, list[Any]] = {**sender.as_providers(), Channel.SMS: [refusing]}
    app = create_app(settings, clock=clock, providers=providers)
    api = Api(app.test_client())
    service_sid = _service(api)
    verification_sid = _start(api, service_sid)  # delivers: the SMS fails, the call follows
    assert refusing.refused == 1
    assert _channels(sender) == [Channel.CALL]
    assert _attempts(api, service_sid, verification_sid) == ["SMS", "CALL"]
    code = sender.last_code(verification_sid)
    assert api.check(service_sid, code, To=TO).json["status"] == "approved"  # type: ignore[index]


def test_two_workers_take_a_due_step_once(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    service_sid = _service(api)
    verification_sid = _start(api, service_sid)
    clock.advance(61)
    container = app.extensions[CONTAINER_KEY]
    workers = 4
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            container.fallback.run_due()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    deliver_queued(app)
    assert _channels(sender) == [Channel.SMS, Channel.CALL]
    assert _attempts(api, service_sid, verification_sid) == ["SMS", "CALL"]


def test_due_steps_survive_a_restart(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    first = Api(create_app(settings, clock=clock, providers=sender.as_providers()).test_client())
    service_sid = _service(first)
    verification_sid = _start(first, service_sid)

    clock.advance(61)
    restarted = create_app(settings, clock=clock, providers=sender.as_providers())
    deliver_queued(restarted)
    assert _channels(sender) == [Channel.SMS, Channel.CALL]
    assert _attempts(Api(restarted.test_client()), service_sid, verification_sid) == [
        "SMS",
        "CALL",
    ]


def test_steps_keep_no_destination_in_the_clear(
    api: Api, app: Flask, redis_client: redis.Redis
) -> None:
    service_sid = _service(api)
    _start(api, service_sid)
    for key in redis_client.keys("*{fallback*"):
        dump = redis_client.dump(key) or b""
        assert b"4155552671" not in dump


def test_only_the_failed_sends_own_step_is_hastened(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    """A dead-lettered earlier send does not hurry the step a later send scheduled."""
    service_sid = _service(api)
    verification_sid = _start(api, service_sid)
    first = _attempt_sids(api, service_sid, verification_sid)[0]
    container = app.extensions[CONTAINER_KEY]
    schedule = RedisFallbackSchedule(
        container.redis, ScriptBook(), FallbackKeys(container.settings.key_prefix)
    )
    member = f"{service_sid}:{verification_sid}"
    clock.advance(10)
    _start(api, service_sid)
    due_before = schedule.pending()[member]
    assert not schedule.hasten(service_sid, verification_sid, first, clock.now_ms())
    assert schedule.pending()[member] == due_before
    latest = _attempt_sids(api, service_sid, verification_sid)[-1]
    assert schedule.hasten(service_sid, verification_sid, latest, clock.now_ms())
    assert schedule.pending()[member] == clock.now_ms()


def _attempt_sids(api: Api, service_sid: str, verification_sid: str) -> list[str]:
    body: Any = api.fetch(service_sid, verification_sid).json
    return [attempt["attempt_sid"] for attempt in body["send_code_attempts"]]

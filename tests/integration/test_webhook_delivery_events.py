"""delivery.sent / delivered / failed and fraud_guard.tripped: a Twilio provider pointed at
an HTTP stand-in sends the code, the stand-in's status callbacks (signed as Twilio signs
them) report what became of it, and the events loop tells the webhook (a second stand-in)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask
from twilio.request_validator import RequestValidator

from tests.conftest import Api
from tests.support.events import LOOPBACK, Hooks, run_events
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.standin_http import Failure, StandinHttp
from verify_service.adapters.delivery.providers.registry import (
    build_providers,
    close_providers,
    parse_provider_list,
)
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.domain.models import Channel
from verify_service.settings import Settings

TO = "+14155552671"
TWILIO_SID = "AC" + "5eed" * 8
TWILIO_TOKEN = "twilio-standin-token-0123456789"


@pytest.fixture
def gateway() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, webhook_allowed_networks=LOOPBACK)


@pytest.fixture
def app(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    gateway: StandinHttp,
) -> Iterator[Flask]:
    dsn = f"twilio+http://{TWILIO_SID}:{TWILIO_TOKEN}@{gateway.netloc}?from=+15005550006"
    configured = replace(
        settings,
        sms_providers=parse_provider_list(Channel.SMS, dsn),
        delivery_tries_per_provider=1,
    )
    providers = {Channel.SMS: build_providers(Channel.SMS, configured.sms_providers)}
    yield create_app(configured, clock=clock, providers=providers)
    close_providers(providers)


@pytest.fixture
def events(app: Flask) -> Any:
    return app.extensions[CONTAINER_KEY].event_worker("tests")


@pytest.fixture
def service_sid(api: Api, receiver: StandinHttp) -> str:
    sid = api.create_service()
    Hooks(api).add(sid, f"http://{receiver.netloc}/events")
    return sid


def receipt(app: Flask, gateway: StandinHttp, status: str, error_code: str = "") -> None:
    callback = gateway.requests[-1].form["StatusCallback"]
    sid = gateway.replies[-1]["sid"]
    params = {"AccountSid": TWILIO_SID, "MessageSid": sid, "MessageStatus": status}
    if error_code:
        params["ErrorCode"] = error_code
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(callback, params)
    parts = urlsplit(callback)
    response = app.test_client().post(
        parts.path, data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code in (200, 204), response.data


def delivery_events(receiver: StandinHttp) -> list[dict[str, str]]:
    return [r.form for r in receiver.requests if r.form["type"].startswith("delivery.")]


def test_a_receipt_that_says_delivered_sends_delivery_delivered(
    app: Flask, api: Api, service_sid: str, gateway: StandinHttp, receiver: StandinHttp, events: Any
) -> None:
    response = api.start(service_sid, TO)
    attempt_sid = response.json["send_code_attempts"][-1]["attempt_sid"]  # type: ignore[index]
    receipt(app, gateway, "delivered")
    run_events(events)
    sent, delivered = delivery_events(receiver)
    assert sent["type"] == "delivery.sent"
    assert sent["provider"] == f"twilio+http://{gateway.netloc}"
    assert delivered["type"] == "delivery.delivered"
    assert delivered["attempt_sid"] == attempt_sid
    assert delivered["status"] == "delivered"
    assert "to" not in delivered  # a receipt's record holds no destination


def test_a_receipt_that_says_undelivered_sends_delivery_failed_with_its_error(
    app: Flask, api: Api, service_sid: str, gateway: StandinHttp, receiver: StandinHttp, events: Any
) -> None:
    api.start(service_sid, TO)
    receipt(app, gateway, "undelivered", "30003")
    run_events(events)
    failed = delivery_events(receiver)[-1]
    assert failed["type"] == "delivery.failed"
    assert failed["error_code"] == "30003"


def test_a_message_no_provider_accepts_sends_delivery_failed(
    api: Api, service_sid: str, gateway: StandinHttp, receiver: StandinHttp, events: Any
) -> None:
    gateway.fail_next(Failure.twilio_rejection(21211))
    api.start(service_sid, TO)
    run_events(events)
    (failed,) = delivery_events(receiver)
    assert failed["type"] == "delivery.failed"
    assert failed["status"] == "failed"
    assert failed["error_code"] == "21211"
    assert failed["to"] == "+14•••••••71"


def test_a_dead_letter_s_delivery_failed_names_the_provider_that_refused_it(
    api: Api, service_sid: str, gateway: StandinHttp, receiver: StandinHttp, events: Any
) -> None:
    """The documented shape: as delivery.sent (with `provider` and `country`), plus
    `error_code`."""
    gateway.fail_next(Failure.twilio_rejection(21211))
    api.start(service_sid, TO)
    run_events(events)
    (failed,) = delivery_events(receiver)
    assert failed["provider"] == f"twilio+http://{gateway.netloc}"
    assert failed["country"] == "US"


def test_a_receipt_without_an_error_code_says_undelivered_or_failed_in_error_code(
    app: Flask, api: Api, service_sid: str, gateway: StandinHttp, receiver: StandinHttp, events: Any
) -> None:
    """A receipt's `undelivered` and `failed` stay apart when the provider gives no code."""
    api.start(service_sid, TO)
    receipt(app, gateway, "undelivered")
    run_events(events)
    failed = delivery_events(receiver)[-1]
    assert failed["type"] == "delivery.failed"
    assert failed["status"] == "failed"
    assert failed["error_code"] == "undelivered"
    assert failed["provider"] == f"twilio+http://{gateway.netloc}"
    assert "to" not in failed


# -- Fraud Guard ------------------------------------------------------------------------------


def test_a_fraud_guard_trip_sends_fraud_guard_tripped_once(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    receiver: StandinHttp,
) -> None:
    sender = RecordingSender()
    app = create_app(settings, clock=clock, providers=sender.as_providers())
    api = Api(app.test_client())
    service = api.create_service(FraudGuardMinSends=10, FraudGuardMinApprovalRate=30)
    Hooks(api).add(service, f"http://{receiver.netloc}/fg", event_types=("fraud_guard.tripped",))
    for n in range(1, 41):
        if api.start(service, f"+447400{n:06d}").status_code == 403:
            break
        clock.advance(20)
    else:
        raise AssertionError("Fraud Guard never tripped")
    api.start(service, "+447400999999")  # refused by the block: no second event
    run_events(app.extensions[CONTAINER_KEY].event_worker("tests"))
    (tripped,) = receiver.requests
    assert tripped.form["type"] == "fraud_guard.tripped"
    assert tripped.form["destination_prefix"] == "+44740"
    assert tripped.form["mode"] == "block"
    assert tripped.form["service_sid"] == service
    assert "4474000000" not in tripped.body.decode()  # a prefix, never a number

"""The delivery worker, step by step, on real Redis with real providers pointed at HTTP
stand-ins: a webhook gateway first, then Twilio as the failover.

A start only queues; the worker sends. Transient failures wait for their backoff on the same
provider, exhausted or permanent failures move to the next provider, and a message nobody
accepts becomes a dead letter. Time is the FixedClock's, except for the visibility timeout,
which Redis measures itself.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
import redis
from flask import Flask

from tests.conftest import Api
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.standin_http import Failure, StandinHttp
from verify_service.adapters.delivery.providers.registry import (
    ManagedProvider,
    build_providers,
    parse_provider_list,
)
from verify_service.adapters.redis_store.delivery.delivery_queue import GROUP
from verify_service.adapters.redis_store.keys import OutboxKeys
from verify_service.app import CONTAINER_KEY, Container, build_container, create_app
from verify_service.application.delivery.delivery_worker import DeliveryWorker, RetryPolicy
from verify_service.domain.models import Channel
from verify_service.settings import Settings

TO = "+14155552671"
WEBHOOK_SECRET = "whsec-primary-0123456789"
TWILIO_SID = "AC" + "5eed" * 8
TWILIO_TOKEN = "twilio-standin-token-0123456789"
CLIENT_TIMEOUT = 0.2  # seconds; a stand-in told to time out answers far later
_CODE = re.compile(r"verification code is: (\d+)")

POLICY = RetryPolicy(
    tries_per_provider=3, base_delay_ms=1_000, max_delay_ms=30_000, visibility_timeout_ms=60_000
)


@pytest.fixture
def webhook_gateway() -> Iterator[StandinHttp]:
    """The first provider of the list."""
    with StandinHttp() as server:
        yield server


@pytest.fixture
def twilio_gateway() -> Iterator[StandinHttp]:
    """The failover provider."""
    with StandinHttp(twilio_credentials=(TWILIO_SID, TWILIO_TOKEN)) as server:
        yield server


@pytest.fixture
def providers(
    webhook_gateway: StandinHttp, twilio_gateway: StandinHttp
) -> Iterator[list[ManagedProvider]]:
    dsn = (
        f"webhook+http://{webhook_gateway.netloc}/otp?secret={WEBHOOK_SECRET}"
        f"&timeout={CLIENT_TIMEOUT}"
        f" || twilio+http://{TWILIO_SID}:{TWILIO_TOKEN}@{twilio_gateway.netloc}"
        f"?from=+15005550006&timeout={CLIENT_TIMEOUT}"
    )
    built = build_providers(Channel.SMS, parse_provider_list(Channel.SMS, dsn))
    yield built
    for provider in built:
        provider.close()


@pytest.fixture
def app(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    providers: list[ManagedProvider],
) -> Flask:
    return create_app(settings, clock=clock, providers={Channel.SMS: providers})


@pytest.fixture
def container(app: Flask) -> Container:
    found: Container = app.extensions[CONTAINER_KEY]
    return found


@pytest.fixture
def keys(settings: Settings) -> OutboxKeys:
    return OutboxKeys(settings.key_prefix)


@pytest.fixture
def service_sid(api: Api) -> str:
    return api.create_service()


@dataclass(frozen=True)
class Queued:
    verification_sid: str
    attempt_sid: str


def start(api: Api, service_sid: str, to: str = TO) -> Queued:
    """Start a verification through the API, without running any worker."""
    response = api.post(f"/v2/Services/{service_sid}/Verifications", To=to, Channel="sms")
    assert response.status_code == 201, response.json
    body = response.json
    assert body is not None
    (attempt,) = body["send_code_attempts"]
    return Queued(body["sid"], attempt["attempt_sid"])


def worker(
    container: Container, consumer: str = "t", policy: RetryPolicy = POLICY
) -> DeliveryWorker:
    return container.delivery_worker(consumer, policy=policy)


def code_in(request_body: str) -> str:
    match = _CODE.search(request_body)
    assert match is not None, "a message without a code"
    return match.group(1)


def due_ms(redis_client: redis.Redis, keys: OutboxKeys) -> int:
    """When the one delayed retry falls due (whichever shard holds it)."""
    ((_member, score),) = [
        entry
        for shard in keys.every_shard
        for entry in redis_client.zrange(shard.delayed, 0, -1, withscores=True)
    ]
    return int(score)


def outbox_is_empty(redis_client: redis.Redis, keys: OutboxKeys) -> bool:
    """Nothing queued, delayed or pending for a worker, on any shard."""
    return all(
        redis_client.xlen(shard.stream) == 0
        and redis_client.zcard(shard.delayed) == 0
        and redis_client.hlen(shard.delayed_jobs) == 0
        and (
            redis_client.exists(shard.stream) == 0
            or redis_client.xpending(shard.stream, GROUP)["pending"] == 0
        )
        for shard in keys.every_shard
    )


def queued_entries(redis_client: redis.Redis, keys: OutboxKeys) -> int:
    """Stream entries on every shard."""
    return sum(redis_client.xlen(shard.stream) for shard in keys.every_shard)


def test_a_start_queues_the_message_and_calls_no_provider(
    api: Api,
    service_sid: str,
    container: Container,
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
    twilio_gateway: StandinHttp,
) -> None:
    """Starting never waits on a provider: the message is queued and its attempt is queued."""
    queued = start(api, service_sid)

    assert webhook_gateway.requests == []
    assert twilio_gateway.requests == []
    assert queued_entries(redis_client, keys) == 1
    assert redis_client.xlen(keys.for_attempt(queued.attempt_sid).stream) == 1
    status = container.outbox.attempt_status(queued.attempt_sid)
    assert status["status"] == "queued"
    assert status["ve"] == queued.verification_sid
    assert status["ch"] == "sms"


def test_the_worker_sends_a_queued_message_once_and_records_it_as_sent(
    api: Api,
    service_sid: str,
    container: Container,
    providers: list[ManagedProvider],
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
    twilio_gateway: StandinHttp,
) -> None:
    """One request to the first provider; the attempt says sent, by whom, under which id."""
    queued = start(api, service_sid)
    delivery = worker(container)

    assert delivery.run_once(block_ms=0) == 1
    assert delivery.run_once(block_ms=0) == 0

    (sent,) = webhook_gateway.requests
    assert sent.json["to"] == TO
    assert sent.json["attempt_sid"] == queued.attempt_sid
    assert sent.json["verification_sid"] == queued.verification_sid
    assert twilio_gateway.requests == []
    status = container.outbox.attempt_status(queued.attempt_sid)
    assert status["status"] == "sent"
    assert status["provider"] == providers[0].name == f"webhook+http://{webhook_gateway.netloc}"
    assert status["pmid"] == webhook_gateway.replies[0]["id"]
    assert outbox_is_empty(redis_client, keys)


@pytest.mark.parametrize(
    "failure",
    [Failure.server_error(), Failure.too_many_requests(), Failure.timeout(seconds=5)],
    ids=["500", "429", "timeout"],
)
def test_a_transient_failure_is_retried_after_backoff_on_the_same_provider(
    api: Api,
    service_sid: str,
    container: Container,
    clock: FixedClock,
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
    twilio_gateway: StandinHttp,
    failure: Failure,
) -> None:
    """Not delivered, still queued, and untouched until the backoff (1 s, half jittered)
    has passed; then the same provider gets it."""
    queued = start(api, service_sid)
    webhook_gateway.fail_next(failure)
    delivery = worker(container)
    failed_at = clock.now

    assert delivery.run_once(block_ms=0) == 1
    assert len(webhook_gateway.requests) == 1
    assert container.outbox.attempt_status(queued.attempt_sid)["status"] == "queued"
    due = due_ms(redis_client, keys)
    assert failed_at + 500 <= due <= failed_at + 1_000

    clock.now = due - 1
    assert delivery.run_once(block_ms=0) == 0
    assert len(webhook_gateway.requests) == 1
    assert container.outbox.attempt_status(queued.attempt_sid)["status"] == "queued"

    clock.now = due
    assert delivery.run_once(block_ms=0) == 1
    first, second = webhook_gateway.requests
    assert first.json["attempt_sid"] == second.json["attempt_sid"] == queued.attempt_sid
    assert first.body == second.body  # the same message, the same code
    assert twilio_gateway.requests == []
    assert container.outbox.attempt_status(queued.attempt_sid)["status"] == "sent"
    assert outbox_is_empty(redis_client, keys)


def test_the_backoff_doubles_with_each_try_up_to_the_maximum(
    api: Api,
    service_sid: str,
    container: Container,
    clock: FixedClock,
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
) -> None:
    """Delays of 1 s, 2 s, then 2.5 s (the bound), each between half and all of it."""
    queued = start(api, service_sid)
    webhook_gateway.fail_next(Failure.server_error(), times=3)
    delivery = worker(container, policy=replace(POLICY, tries_per_provider=4, max_delay_ms=2_500))

    for ceiling in (1_000, 2_000, 2_500):
        failed_at = clock.now
        assert delivery.run_once(block_ms=0) == 1
        due = due_ms(redis_client, keys)
        assert failed_at + ceiling // 2 <= due <= failed_at + ceiling
        clock.now = due

    assert delivery.run_once(block_ms=0) == 1
    assert len(webhook_gateway.requests) == 4
    assert container.outbox.attempt_status(queued.attempt_sid)["status"] == "sent"


def test_after_its_tries_on_one_provider_the_next_provider_is_tried(
    api: Api,
    service_sid: str,
    container: Container,
    providers: list[ManagedProvider],
    clock: FixedClock,
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
    twilio_gateway: StandinHttp,
) -> None:
    """Two tries per provider: two 500s from the webhook, then Twilio sends it at once."""
    queued = start(api, service_sid)
    webhook_gateway.fail_next(Failure.server_error(), times=2)
    delivery = worker(container, policy=replace(POLICY, tries_per_provider=2))

    assert delivery.run_once(block_ms=0) == 1
    clock.now = due_ms(redis_client, keys)
    assert delivery.run_once(block_ms=0) == 1
    assert len(webhook_gateway.requests) == 2
    assert twilio_gateway.requests == []

    # No backoff before the next provider: the clock does not move.
    assert delivery.run_once(block_ms=0) == 1
    assert len(webhook_gateway.requests) == 2
    (sent,) = twilio_gateway.requests
    assert sent.form["To"] == TO
    assert code_in(sent.form["Body"]) == code_in(webhook_gateway.requests[0].json["body"])
    status = container.outbox.attempt_status(queued.attempt_sid)
    assert status["status"] == "sent"
    assert status["provider"] == providers[1].name
    assert status["pmid"] == twilio_gateway.replies[0]["sid"]
    assert outbox_is_empty(redis_client, keys)


@pytest.mark.parametrize(
    "refusal",
    [Failure(400, {"error_code": "INVALID_NUMBER"}), Failure(422, {}), Failure(403, {})],
    ids=["400 invalid number", "422", "403"],
)
def test_a_permanent_failure_is_not_retried_and_the_next_provider_is_tried_at_once(
    api: Api,
    service_sid: str,
    container: Container,
    providers: list[ManagedProvider],
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
    twilio_gateway: StandinHttp,
    refusal: Failure,
) -> None:
    """A 4xx rejection gets no second try on that provider, and no backoff."""
    queued = start(api, service_sid)
    webhook_gateway.fail_next(refusal)
    delivery = worker(container)

    assert delivery.run_once(block_ms=0) == 1
    assert delivery.run_once(block_ms=0) == 1
    assert delivery.run_once(block_ms=0) == 0

    assert len(webhook_gateway.requests) == 1
    assert len(twilio_gateway.requests) == 1
    status = container.outbox.attempt_status(queued.attempt_sid)
    assert status["status"] == "sent"
    assert status["provider"] == providers[1].name
    assert outbox_is_empty(redis_client, keys)


@pytest.mark.parametrize(
    ("webhook_failure", "twilio_failure", "error_code"),
    [
        (Failure(400, {"error_code": "INVALID_NUMBER"}), Failure.twilio_rejection(), "21211"),
        (Failure.timeout(seconds=5), Failure.server_error(), "20500"),
    ],
    ids=["both refuse", "both fail transiently"],
)
def test_a_message_every_provider_fails_becomes_a_dead_letter_without_code_or_destination(
    api: Api,
    service_sid: str,
    container: Container,
    providers: list[ManagedProvider],
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
    twilio_gateway: StandinHttp,
    webhook_failure: Failure,
    twilio_failure: Failure,
    error_code: str,
) -> None:
    """The letter names the last provider and why, never the code or the number; the
    attempt is failed with the provider's error code."""
    queued = start(api, service_sid)
    webhook_gateway.fail_next(webhook_failure)
    twilio_gateway.fail_next(twilio_failure)
    delivery = worker(container, policy=replace(POLICY, tries_per_provider=1))

    assert delivery.run_once(block_ms=0) == 1
    assert delivery.run_once(block_ms=0) == 1
    assert delivery.run_once(block_ms=0) == 0

    code = code_in(webhook_gateway.requests[0].json["body"])
    (letter,) = container.outbox.dead_letters(10)
    assert letter.attempt_sid == queued.attempt_sid
    assert letter.channel == "sms"
    assert letter.reason.startswith(providers[1].name)
    assert letter.reason.count(providers[1].name) == 1  # not `name: name could not be …`
    for secret in (code, TO, TO.removeprefix("+")):
        assert secret not in letter.reason
    status = container.outbox.attempt_status(queued.attempt_sid)
    assert status["status"] == "failed"
    assert status["err"] == error_code
    assert outbox_is_empty(redis_client, keys)


@pytest.mark.parametrize("ending", ["approved", "canceled", "expired"])
def test_a_queued_message_whose_verification_has_ended_is_dropped_not_sent(
    api: Api,
    service_sid: str,
    container: Container,
    clock: FixedClock,
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
    twilio_gateway: StandinHttp,
    ending: str,
) -> None:
    """Its code is useless: no provider is called, the attempt fails as verification_ended,
    and nothing is dead-lettered."""
    queued = start(api, service_sid)
    if ending == "expired":
        clock.advance(600)  # the service's 10-minute lifetime
    else:
        response = api.update(service_sid, queued.verification_sid, ending)
        assert response.status_code == 200, response.json

    assert worker(container).run_once(block_ms=0) == 1

    assert webhook_gateway.requests == []
    assert twilio_gateway.requests == []
    status = container.outbox.attempt_status(queued.attempt_sid)
    assert status["status"] == "failed"
    assert status["err"] == "verification_ended"
    assert container.outbox.dead_letters(10) == []
    assert outbox_is_empty(redis_client, keys)


def test_the_queued_stream_entry_is_sealed_and_deleted_once_delivered(
    api: Api,
    service_sid: str,
    container: Container,
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
) -> None:
    """Neither the code nor the destination is readable in the stream; after the send the
    entry is gone (XDEL), not just acknowledged."""
    queued = start(api, service_sid)
    stream = keys.for_attempt(queued.attempt_sid).stream
    ((_entry_id, fields),) = redis_client.xrange(stream)

    assert worker(container).run_once(block_ms=0) == 1

    code = code_in(webhook_gateway.requests[0].json["body"])
    assert set(fields) == {b"att", b"job", b"p", b"t", b"q"}
    assert fields[b"att"] == queued.attempt_sid.encode()
    assert code.encode() not in fields[b"job"]
    for value in fields.values():
        assert TO.encode() not in value
        assert TO.removeprefix("+").encode() not in value
    assert redis_client.xlen(stream) == 0
    assert redis_client.xrange(stream) == []


def test_a_message_left_by_a_dead_worker_is_reclaimed_after_the_visibility_timeout(
    api: Api,
    service_sid: str,
    container: Container,
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
) -> None:
    """Taken and never finished: live workers leave it alone until it has been idle for the
    visibility timeout, then one takes it over and delivers it once."""
    queued = start(api, service_sid)
    (taken,) = container.outbox.read("dead-worker", 10, 0, 60_000)
    assert taken.attempt_sid == queued.attempt_sid

    patient = worker(container, "patient")  # visibility timeout 60 s
    assert patient.run_once(block_ms=0) == 0

    time.sleep(0.15)
    rescuer = worker(container, "rescuer", replace(POLICY, visibility_timeout_ms=100))
    assert rescuer.run_once(block_ms=0) == 1
    assert rescuer.run_once(block_ms=0) == 0
    assert patient.run_once(block_ms=0) == 0

    (sent,) = webhook_gateway.requests
    assert sent.json["attempt_sid"] == queued.attempt_sid
    assert container.outbox.attempt_status(queued.attempt_sid)["status"] == "sent"
    # The presumed-dead worker finishing late changes nothing.
    assert container.outbox.complete(taken) is False
    assert outbox_is_empty(redis_client, keys)


def test_a_message_that_keeps_killing_its_workers_ends_as_a_dead_letter(
    api: Api,
    service_sid: str,
    container: Container,
    keys: OutboxKeys,
    redis_client: redis.Redis,
    webhook_gateway: StandinHttp,
) -> None:
    """Handed out more than `max_deliveries` times (each worker died or hung with it), it
    is dead-lettered instead of being sent again."""
    queued = start(api, service_sid)
    policy = replace(POLICY, visibility_timeout_ms=1, max_deliveries=3)
    for number in range(3):  # three workers take it and die (never finish)
        time.sleep(0.005)
        (taken,) = container.outbox.read(f"doomed-{number}", 1, 0, 1)
        assert taken.attempt_sid == queued.attempt_sid
    time.sleep(0.005)
    assert worker(container, "last", policy).run_once(block_ms=0) == 1

    assert webhook_gateway.requests == []
    (letter,) = container.outbox.dead_letters(10)
    assert letter.attempt_sid == queued.attempt_sid
    assert "abandoned by 3 workers" in letter.reason
    assert container.outbox.attempt_status(queued.attempt_sid)["status"] == "failed"
    assert outbox_is_empty(redis_client, keys)


def test_an_unexpected_error_does_not_stop_the_worker(
    settings: Settings, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug or a bad entry is logged and the loop goes on; only `stop` ends it."""
    container = build_container(settings, providers=RecordingSender().as_providers())
    worker = container.delivery_worker("survivor")
    stop = threading.Event()
    calls: list[int] = []

    def flaky_read(*_args: object, **_kwargs: object) -> list[object]:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("a malformed entry")
        stop.set()
        return []

    monkeypatch.setattr(container.outbox, "read", flaky_read)
    worker.run(stop, block_ms=0, idle_wait_s=0)
    assert len(calls) == 2


def test_a_waiting_worker_is_woken_by_a_message_on_any_outbox_shard(
    api: Api, service_sid: str, container: Container
) -> None:
    """On one Redis server the worker waits on every shard at once: whichever shard a new
    message lands on ends the wait (not only the shard whose turn it was)."""
    assert container.outbox.read("waiter", 1, 0, 60_000) == []  # every shard empty
    taken: list[str] = []

    def wait() -> None:
        taken.extend(job.attempt_sid for job in container.outbox.read("waiter", 1, 30_000, 60_000))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)  # the waiter is blocked (were it not, its first pass would find it)
    queued = start(api, service_sid)
    waiter.join(10)

    assert not waiter.is_alive(), "the worker slept through a message on another shard"
    assert taken == [queued.attempt_sid]

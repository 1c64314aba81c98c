"""Event deliveries across a key rotation: they are sealed at rest (an IncludeDestination
webhook's events carry the full destination), so a rotation must move them like the
delivery outbox's jobs, and no worker may drop one it cannot open."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator

import pytest
import redis
from click.testing import CliRunner
from flask import Flask

from tests.conftest import Api
from tests.support.events import LOOPBACK, Hooks, run_events
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.standin_http import Failure, StandinHttp
from verify_service.app import CONTAINER_KEY, Container, create_app
from verify_service.application.events.event_delivery import EventRetryPolicy
from verify_service.cli import main
from verify_service.settings import Settings

SECRETS = {
    "k1": "k1-secret-of-at-least-thirty-two-bytes-0001",
    "k2": "k2-secret-of-at-least-thirty-two-bytes-0002",
}
TO = "+14155552671"
ONE_TRY = EventRetryPolicy(max_tries=1)


@pytest.fixture
def receiver() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def make_app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock
) -> Callable[[str], Flask]:
    def make(ring: str) -> Flask:
        entries = tuple((key_id, SECRETS[key_id].encode()) for key_id in ring.split(","))
        configured = dataclasses.replace(
            settings,
            secret_key=entries[0][1],
            secret_keys=entries,
            webhook_allowed_networks=LOOPBACK,
        )
        return create_app(configured, clock=clock, providers=RecordingSender().as_providers())

    return make


def container(app: Flask) -> Container:
    found: Container = app.extensions[CONTAINER_KEY]
    return found


def test_a_worker_without_the_sealing_key_puts_the_delivery_back_for_one_that_has_it(
    make_app: Callable[[str], Flask],
    receiver: StandinHttp,
    redis_client: redis.Redis,
    clock: FixedClock,
) -> None:
    """Mid-rotation, an old worker (ring k1) meets a delivery a new process sealed under
    k2: it neither sends nor drops it; a new worker sends it once it is due again."""
    new = make_app("k2,k1")
    api = Api(new.test_client())
    service = api.create_service()
    Hooks(api).add(service, f"http://{receiver.netloc}/e", event_types=("verification.started",))
    assert api.start(service, TO).status_code == 201
    old = make_app("k1")
    assert run_events(container(old).event_worker("old", ONE_TRY)) == 0
    assert receiver.requests == []
    seconds, _micros = redis_client.time()
    clock.now = int(seconds) * 1000 + 10_000  # past the put-back's delay (Redis's time)
    assert run_events(container(new).event_worker("new", ONE_TRY)) == 1
    (sent,) = receiver.requests
    assert sent.form["type"] == "verification.started"


def test_a_reseal_moves_event_dead_letters_to_the_new_key(
    make_app: Callable[[str], Flask], receiver: StandinHttp, cli: CliRunner
) -> None:
    old = make_app("k1")
    api = Api(old.test_client())
    service = api.create_service()
    Hooks(api).add(
        service,
        f"http://{receiver.netloc}/e",
        event_types=("verification.started",),
        include_destination=True,
    )
    receiver.fail_next(Failure.server_error())
    assert api.start(service, TO).status_code == 201
    run_events(container(old).event_worker("old", ONE_TRY))

    def run(ring: str, *args: str) -> str:
        env = {
            "VERIFY_SECRET_KEY": "",
            "VERIFY_SECRET_KEYS": ",".join(f"{k}:{SECRETS[k]}" for k in ring.split(",")),
        }
        done = cli.invoke(main, list(args), env=env)
        assert done.exit_code == 0, done.output
        return done.output

    status = run("k2,k1", "secrets", "status")
    assert "k1=1" in status.split("\nevent outbox: ", 1)[1].split("\n", 1)[0], status
    run("k2,k1", "secrets", "reseal")
    status = run("k2,k1", "secrets", "status")
    assert "k1: holds nothing" in status, status

    (letter,) = [
        json.loads(line) for line in run("k2", "webhooks", "dead-letters", "list").splitlines()
    ]
    run("k2", "webhooks", "dead-letters", "requeue", letter["key"])
    new = make_app("k2")
    assert run_events(container(new).event_worker("new", ONE_TRY)) == 1
    assert receiver.requests[-1].form["to"] == TO


def test_a_delivery_under_a_key_no_longer_on_the_ring_is_kept_and_reported(
    make_app: Callable[[str], Flask],
    receiver: StandinHttp,
    redis_client: redis.Redis,
    clock: FixedClock,
    cli: CliRunner,
) -> None:
    """As docs/webhooks.md says ("Sealed at rest"): never sent, never dropped (a newer
    worker may hold the key mid-rotation), put back again and again, and shown by
    `secrets status` as a key not on the ring, so an operator sees what is stuck."""
    new = make_app("k2")
    api = Api(new.test_client())
    service = api.create_service()
    Hooks(api).add(service, f"http://{receiver.netloc}/e", event_types=("verification.started",))
    assert api.start(service, TO).status_code == 201
    old = container(make_app("k1"))
    for _ in range(3):
        seconds, _micros = redis_client.time()
        clock.now = int(seconds) * 1000 + 10_000
        assert run_events(old.event_worker("old", ONE_TRY)) == 0
    assert receiver.requests == []
    assert old.event_outbox is not None
    assert old.event_outbox.depth() == 1
    env = {"VERIFY_SECRET_KEY": "", "VERIFY_SECRET_KEYS": f"k1:{SECRETS['k1']}"}
    status = cli.invoke(main, ["secrets", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert "\nevent outbox: k2=1\n" in status.output
    assert "k2: not on the ring;" in status.output

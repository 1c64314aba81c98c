"""Webhook events on a real Redis Cluster: the event outbox's shards and the expiry
schedule spread over the masters, read in pipelines that span slots, and the events reach
the receiver as on one server (an in-process app and events loop, their own key prefix)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY, Api
from tests.support.events import LOOPBACK, Hooks, run_events
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.redis_cluster import RedisCluster
from tests.support.standin_http import Failure, StandinHttp
from verify_service.app import Container, build_container, create_app
from verify_service.application.events.event_delivery import EventRetryPolicy
from verify_service.cli import main
from verify_service.settings import Settings

pytestmark = pytest.mark.cluster

PREFIX = "ce"  # apart from the cluster specs' server and worker (prefix `vs`)


@pytest.fixture
def receiver() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def cluster_settings(fresh_cluster: RedisCluster) -> Settings:
    return Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        secret_key=SECRET_KEY.encode(),
        redis_url=fresh_cluster.url,
        public_url="https://verify.example.test",
        key_prefix=PREFIX,
        webhook_allowed_networks=LOOPBACK,
    )


@pytest.fixture
def container(cluster_settings: Settings) -> Iterator[Container]:
    sender = RecordingSender()
    built = build_container(cluster_settings, clock=FixedClock(), providers=sender.as_providers())
    yield built
    built.redis.close()


def test_events_and_expiries_are_delivered_on_the_cluster(
    cluster_settings: Settings,
    container: Container,
    receiver: StandinHttp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = Api(create_app(cluster_settings, container=container).test_client())
    service = api.create_service()
    # Webhooks whose deliveries land on several shards (a shard is chosen by webhook sid).
    hooks = Hooks(api)
    sids = [
        hooks.add(
            service,
            f"http://{receiver.netloc}/hook{n}",
            event_types=("verification.started", "verification.expired"),
        )
        for n in range(6)
    ]
    receiver.fail_next(Failure.server_error())  # one retry, through the delayed set
    for n in range(3):
        assert api.start(service, f"+1415555267{n}").status_code == 201
    clock = container.clock
    assert isinstance(clock, FixedClock)
    policy = EventRetryPolicy(max_tries=2, base_delay_ms=1_000, max_delay_ms=1_000)
    worker = container.event_worker("cluster", policy)
    run_events(worker)
    clock.advance(601)  # every verification expires, and the retry is due
    run_events(worker)

    got = {(r.path.lstrip("/"), r.form["type"], r.form["uuid"]) for r in receiver.requests}
    assert len(sids) == 6
    for n in range(6):
        mine = [kind for path, kind, _uuid in got if path == f"hook{n}"]
        assert mine.count("verification.expired") == 3
        assert mine.count("verification.started") == 3
    # 6 webhooks x (3 started + 3 expired), one of them twice (the 500, then its retry)
    assert len(receiver.requests) == 6 * 6 + 1

    for name in list(os.environ):
        if name.startswith("VERIFY_"):
            monkeypatch.delenv(name)
    runner = CliRunner(
        env={
            "VERIFY_REDIS_URL": cluster_settings.redis_url or "",
            "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
            "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
            "VERIFY_SECRET_KEY": SECRET_KEY,
            "VERIFY_REDIS_KEY_PREFIX": PREFIX,
        }
    )
    listed = runner.invoke(main, ["webhooks", "dead-letters", "list"])
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line) for line in listed.stdout.splitlines()] == []

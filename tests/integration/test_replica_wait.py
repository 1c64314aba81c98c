"""`ScriptBook.run_pipeline(durable=True)` with a `ReplicaWait`: `WAIT` rides in the same
pipeline (one round trip), its answer is recorded and not returned, and a script Redis has
forgotten (NOSCRIPT) is waited for after it is run again. The test Redis has no replica, so
every wait falls short: the shortfall is counted and logged once."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from bench.inprocess import counting_round_trips
from verify_service.adapters.redis_store.replica_wait import ReplicaWait
from verify_service.adapters.redis_store.scripts import ScriptBook

PROBE = "return redis.call('INCR', KEYS[1])"


def build(pipe: Any) -> None:
    pipe.set("it:durable", "1")
    pipe.get("it:durable")


def test_a_durable_pipeline_is_one_round_trip_and_returns_only_its_own_results(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """SET, GET and WAIT in one round trip; the caller sees [True, b"1"]; no replica
    acknowledged (there is none): counted, logged once for two writes."""
    wait = ReplicaWait(replicas=1, timeout_ms=1)
    book = ScriptBook(wait)
    book.load_all(redis_client)
    with counting_round_trips() as counter:
        assert book.run_pipeline(redis_client, build, durable=True) == [True, b"1"]
    assert counter[0] == 1
    book.run_pipeline(redis_client, build, durable=True)
    assert wait.shortfalls == 2
    assert caplog.text.count("only 0 of the 1 Redis replicas required") == 1


def test_a_pipeline_not_marked_durable_never_waits(redis_client: redis.Redis) -> None:
    wait = ReplicaWait(replicas=1, timeout_ms=1)
    assert ScriptBook(wait).run_pipeline(redis_client, build) == [True, b"1"]
    assert wait.shortfalls == 0


def test_a_forgotten_script_is_run_again_and_waited_for_once(redis_client: redis.Redis) -> None:
    """After SCRIPT FLUSH the EVALSHA fails with NOSCRIPT: the script is run again with
    WAIT in the same second pipeline, and one wait is recorded for the call."""
    wait = ReplicaWait(replicas=1, timeout_ms=1)
    book = ScriptBook(wait)
    book.adopt("it_probe", PROBE)
    redis_client.script_flush()

    def with_script(pipe: Any) -> None:
        pipe.set("it:durable", "1")
        pipe.evalsha(book.sha("it_probe"), 1, "it:probe")

    assert book.run_pipeline(redis_client, with_script, durable=True) == [True, 1]
    assert wait.shortfalls == 1
    assert redis_client.get("it:probe") == b"1"  # run once, not twice

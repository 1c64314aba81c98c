"""An audit append that loses the compare-and-set race (docs/audit-log.md, "Storage and the
chain"): it chains onto the head the script answered at once, a few times, then backs off
and reads the head afresh (the answered one is old by the end of a sleep), and the chain
stays whole however often the head moved."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask import Flask

from tests.integration.test_audit_log import KEYS, audit_log, entry, stored
from verify_service.adapters.redis_store.audit import audit_log as audit_log_module
from verify_service.adapters.redis_store.audit.audit_log import (
    IMMEDIATE_RETRIES,
    RedisAuditLog,
)
from verify_service.domain.errors import TooManyConcurrentRequests


class Crowded:
    """Another process that appends just before each of `mine`'s next `times` attempts."""

    def __init__(self, mine: RedisAuditLog, times: int) -> None:
        self.other = RedisAuditLog(mine._client, mine._scripts, KEYS, mine._ring, 1000)
        self.left = times
        self.reads = 0
        run, read = mine._scripts.run, mine._client.hmget

        def crowded_run(client: Any, name: str, keys: Any, args: Any) -> Any:
            if name == "append_audit_entry" and client is mine._client and self.left > 0:
                self.left -= 1
                self.other.append(entry(100 + self.left))
            return run(client, name, keys, args)

        def counted_read(*args: Any, **kwargs: Any) -> Any:
            self.reads += 1
            return read(*args, **kwargs)

        mine._scripts = _Book(mine._scripts, crowded_run)  # type: ignore[assignment]
        mine._client = _Client(mine._client, counted_read)  # type: ignore[assignment]


class _Book:
    def __init__(self, book: Any, run: Any) -> None:
        self._book, self.run = book, run

    def __getattr__(self, name: str) -> Any:
        return getattr(self._book, name)


class _Client:
    def __init__(self, client: Any, hmget: Any) -> None:
        self._client, self.hmget = client, hmget

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(audit_log_module.time, "sleep", slept.append)
    return slept


def test_the_first_refusals_chain_onto_the_answered_head_without_sleeping(
    app: Flask, redis_client: redis.Redis, sleeps: list[float]
) -> None:
    mine = audit_log(app)
    mine.append(entry(1))
    crowded = Crowded(mine, IMMEDIATE_RETRIES - 1)
    mine.append(entry(2))
    assert sleeps == []
    assert crowded.reads == 0  # every retry linked against the head the script answered
    assert [e["seq"] for _, e in stored(redis_client)] == list(range(1, IMMEDIATE_RETRIES + 2))
    assert stored(redis_client)[-1][1]["target"] == entry(2).target
    assert mine.verify().ok


def test_after_backing_off_the_head_is_read_again(
    app: Flask, redis_client: redis.Redis, sleeps: list[float]
) -> None:
    mine = audit_log(app)
    mine.append(entry(1))
    crowded = Crowded(mine, IMMEDIATE_RETRIES + 3)
    mine.append(entry(2))
    assert len(sleeps) == 4  # from the IMMEDIATE_RETRIES-th refusal on
    assert crowded.reads == 4
    entries = stored(redis_client)
    assert [e["seq"] for _, e in entries] == list(range(1, IMMEDIATE_RETRIES + 6))
    assert entries[-1][1]["target"] == entry(2).target
    assert mine.verify().ok


def test_an_append_that_never_wins_gives_up(
    app: Flask, redis_client: redis.Redis, sleeps: list[float]
) -> None:
    mine = audit_log(app)
    Crowded(mine, audit_log_module.APPEND_ATTEMPTS)
    with pytest.raises(TooManyConcurrentRequests):
        mine.append(entry(2))
    assert mine.verify().ok
    assert all(e["action"] == "services.update" for _, e in stored(redis_client))

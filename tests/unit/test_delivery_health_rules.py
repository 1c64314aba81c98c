"""The rules of worker supervision (application/delivery/supervision.py), with fakes for the
store: when a worker beats, when it counts as fresh, and which `/readyz` delivery status a
count of live workers and an outbox age give. (Against Redis and real processes:
tests/e2e/test_worker_supervision.py.)"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from verify_service.application.delivery.supervision import (
    DeliveryHealthCheck,
    WorkerHeartbeat,
)
from verify_service.domain.errors import StoreUnavailable


@dataclass
class FakeHeartbeats:
    now: int = 1_000_000
    beats: list[str] = field(default_factory=list)
    live: list[str] = field(default_factory=list)
    down: bool = False

    def beat(self, worker: str) -> int:
        if self.down:
            raise StoreUnavailable("ConnectionError")
        self.beats.append(worker)
        return self.now

    def leave(self, worker: str) -> None:
        self.live = [name for name in self.live if name != worker]

    def live_workers(self, now_ms: int) -> list[str]:
        assert now_ms == self.now  # asked at the store's own time
        return self.live

    def now_ms(self) -> int:
        return self.now


@dataclass(frozen=True)
class Backlog:
    depth: int
    oldest_ms: int | None


@dataclass
class FakeOutbox:
    backlog_now: Backlog

    def backlog(self) -> Backlog:
        return self.backlog_now


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_worker_beats_while_its_loop_turns_and_stops_when_it_is_stuck() -> None:
    """A loop that has not turned for longer than `stuck_after_s` writes no beat, and its
    heartbeat goes stale after 15 s."""
    store, clock = FakeHeartbeats(), Monotonic()
    heartbeat = WorkerHeartbeat(store, "host-1", stuck_after_s=60, monotonic=clock)
    assert not heartbeat.fresh()
    assert heartbeat.beat_if_turning()
    assert heartbeat.fresh()
    clock.now += 61
    assert not heartbeat.beat_if_turning()
    assert not heartbeat.fresh()
    heartbeat.turned()
    assert heartbeat.beat_if_turning()
    assert store.beats == ["host-1", "host-1"]


def test_a_beat_lost_to_a_redis_outage_is_not_fresh() -> None:
    """The worker goes on; its liveness says the store did not get the beat."""
    store, clock = FakeHeartbeats(down=True), Monotonic()
    heartbeat = WorkerHeartbeat(store, "host-1", stuck_after_s=60, monotonic=clock)
    assert not heartbeat.beat_if_turning()
    assert not heartbeat.fresh()


@pytest.mark.parametrize(
    ("live", "oldest_age_ms", "status"),
    [
        ([], None, "no_live_worker"),
        ([], 900_000, "no_live_worker"),
        (["a-1"], None, "ok"),
        (["a-1"], 300_000, "ok"),
        (["a-1"], 300_001, "backlog_too_old"),
    ],
)
def test_the_delivery_status(live: list[str], oldest_age_ms: int | None, status: str) -> None:
    """No live worker first; then an oldest message older than the threshold."""
    store = FakeHeartbeats(live=live)
    oldest_ms = None if oldest_age_ms is None else store.now - oldest_age_ms
    outbox = FakeOutbox(Backlog(3 if oldest_ms else 0, oldest_ms))
    report = DeliveryHealthCheck(store, outbox, max_outbox_age_seconds=300).report()
    assert report.status == status
    assert report.live_workers == len(live)
    assert report.as_json()["oldest_message_age_seconds"] == (
        None if oldest_age_ms is None else oldest_age_ms / 1000
    )

"""What lets an operator supervise delivery (docs/operations.md, "Health and supervision"):
each worker's heartbeat in Redis, written while its loop makes progress, and the delivery
section of `/readyz` (live workers, outbox depth, oldest message age)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from verify_service.domain.errors import StoreUnavailable

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 5.0
# A worker is live while its last beat is younger than this (LIVE_FOR_MS in the store).
LIVE_FOR_S = 15.0


class Heartbeats(Protocol):
    def beat(self, worker: str) -> int: ...

    def leave(self, worker: str) -> None: ...

    def live_workers(self, now_ms: int) -> list[str]: ...

    def now_ms(self) -> int:
        """The store's clock (every process agrees on it), in ms."""
        ...


class Backlog(Protocol):
    @property
    def depth(self) -> int: ...

    @property
    def oldest_ms(self) -> int | None:
        """When the oldest queued message was put on its stream (the store's clock, ms)."""
        ...


class OutboxBacklog(Protocol):
    def backlog(self) -> Backlog: ...


class WorkerHeartbeat:
    """A worker's heartbeat: a thread beats every HEARTBEAT_INTERVAL_S, as long as the
    worker's loop has turned within `stuck_after_s` (a loop stuck in a call stops beating,
    and the worker stops counting as live); at a clean stop the worker leaves the set."""

    def __init__(
        self,
        heartbeats: Heartbeats,
        worker: str,
        stuck_after_s: float,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._heartbeats = heartbeats
        self.worker = worker
        self._stuck_after_s = stuck_after_s
        self._interval_s = interval_s
        self._monotonic = monotonic
        self._last_turn = monotonic()
        self._last_beat: float | None = None

    def turned(self) -> None:
        """The worker's loop completed a turn (called by the loop)."""
        self._last_turn = self._monotonic()

    def beat_if_turning(self) -> bool:
        """One beat, if the loop turned lately; True when one was written."""
        if self._monotonic() - self._last_turn > self._stuck_after_s:
            log.warning("worker %s: its loop has not turned lately, no heartbeat", self.worker)
            return False
        try:
            self._heartbeats.beat(self.worker)
        except StoreUnavailable:
            log.warning("worker %s: heartbeat not written, store unavailable", self.worker)
            return False
        self._last_beat = self._monotonic()
        return True

    def fresh(self) -> bool:
        """True while this process's last beat is younger than LIVE_FOR_S: what the
        worker's own `/healthz` answers, and what `/readyz` counts as live."""
        return self._last_beat is not None and self._monotonic() - self._last_beat < LIVE_FOR_S

    def run(self, stop: threading.Event) -> None:
        """Beat until `stop` is set, then leave the set of live workers."""
        while not stop.is_set():
            self.beat_if_turning()
            stop.wait(self._interval_s)
        with contextlib.suppress(StoreUnavailable):  # else its entry goes stale by itself
            self._heartbeats.leave(self.worker)

    def start_thread(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="heartbeat", daemon=True)
        thread.start()
        return thread


@dataclass(frozen=True, slots=True)
class DeliveryHealth:
    """`/readyz`'s `delivery` section. `status` is `ok`, `no_live_worker` (no worker beat
    within LIVE_FOR_S) or `backlog_too_old` (the oldest queued message waits longer than
    `max_outbox_age_seconds`)."""

    status: str
    live_workers: int
    outbox_depth: int
    oldest_message_age_seconds: float | None
    max_outbox_age_seconds: int

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "live_workers": self.live_workers,
            "outbox_depth": self.outbox_depth,
            "oldest_message_age_seconds": self.oldest_message_age_seconds,
            "max_outbox_age_seconds": self.max_outbox_age_seconds,
        }


class DeliveryHealthCheck:
    def __init__(
        self, heartbeats: Heartbeats, outbox: OutboxBacklog, max_outbox_age_seconds: int
    ) -> None:
        self._heartbeats = heartbeats
        self._outbox = outbox
        self._max_age_s = max_outbox_age_seconds

    def report(self) -> DeliveryHealth:
        """Raises StoreUnavailable when Redis does not answer."""
        backlog = self._outbox.backlog()
        now_ms = self._heartbeats.now_ms()
        live = len(self._heartbeats.live_workers(now_ms))
        age_s = None
        if backlog.oldest_ms is not None:
            age_s = round(max(0, now_ms - backlog.oldest_ms) / 1000, 3)
        if live == 0:
            status = "no_live_worker"
        elif age_s is not None and age_s > self._max_age_s:
            status = "backlog_too_old"
        else:
            status = "ok"
        return DeliveryHealth(status, live, backlog.depth, age_s, self._max_age_s)

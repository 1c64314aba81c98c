"""`serve`'s child worker (`ChildWorker`) is restarted when it dies, with a delay that
doubles while it keeps dying (never a tight loop) and starts over once a child ran long
enough; stopping `serve` stops it and ends the restarts. Processes are fakes here (the real
ones: tests/e2e/test_worker_supervision.py)."""

from __future__ import annotations

import logging
import subprocess
import threading
from typing import Any

import pytest

from verify_service.delivery_runner import ChildWorker


class FakeChild:
    """A child that dies at once (`dies=True`) or runs until terminated."""

    def __init__(self, pid: int, dies: bool) -> None:
        self.pid = pid
        self._ended = threading.Event()
        self.terminated = False
        if dies:
            self._ended.set()

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired("worker", timeout or 0)
        return -9

    def poll(self) -> int | None:
        return -9 if self._ended.is_set() else None

    def terminate(self) -> None:
        self.terminated = True
        self._ended.set()

    def kill(self) -> None:
        self._ended.set()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def supervisor(deaths: int, clock: Clock) -> tuple[ChildWorker, list[FakeChild], threading.Event]:
    """A ChildWorker whose first `deaths` children die at once; the next one lives."""
    children: list[FakeChild] = []
    living = threading.Event()

    def spawn() -> Any:
        child = FakeChild(1000 + len(children), dies=len(children) < deaths)
        children.append(child)
        if len(children) > deaths:
            living.set()
        return child

    worker = ChildWorker(spawn=spawn, monotonic=clock)
    worker.FIRST_RESTART_DELAY_S = 0.001
    worker.LONGEST_RESTART_DELAY_S = 0.004
    return worker, children, living


def test_a_child_that_keeps_dying_is_restarted_with_a_doubling_capped_delay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Five deaths in a row: restarted after 1, 2, 4, 4, 4 times the first delay, each logged."""
    worker, children, living = supervisor(deaths=5, clock=Clock())
    with caplog.at_level(logging.ERROR, "verify_service.delivery_runner"):
        worker.start()
        assert living.wait(5)
        worker.stop(timeout_s=5)
    assert worker.restarts == 5
    assert children[-1].terminated
    delays = [record.args[2] for record in caplog.records if "restarting" in record.getMessage()]  # type: ignore[index]
    assert delays == [0.001, 0.002, 0.004, 0.004, 0.004]


def test_stopping_ends_the_restarts() -> None:
    """Once `serve` stops, a child that exits is not replaced."""
    worker, children, _living = supervisor(deaths=0, clock=Clock())
    worker.start()
    worker.stop(timeout_s=5)
    assert len(children) == 1
    assert children[0].terminated
    assert worker.restarts == 0

"""Where the delivery worker runs: its own process (`verify-service worker`), a child of
`serve` (restarted when it dies, `ChildWorker`), or a thread beside the embedded store
(which lives in one process). The channel fallback loop runs beside it, in a thread of its
own, and so does its heartbeat (application/delivery/supervision.py)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import FrameType

from verify_service.adapters.delivery.providers.registry import (
    close_providers,
    providers_by_channel,
)
from verify_service.adapters.delivery.providers.routes import (
    close_route_providers,
    providers_by_route,
)
from verify_service.adapters.metrics.exposition import exposition
from verify_service.adapters.metrics.prometheus_metrics import PrometheusMetrics
from verify_service.adapters.metrics.worker_listener import LastTurn, WorkerListener
from verify_service.app import Container
from verify_service.application.delivery.supervision import WorkerHeartbeat

log = logging.getLogger(__name__)


def consumer_name() -> str:
    """Unique per process, so the consumer group can tell workers apart."""
    return f"{socket.gethostname()}-{os.getpid()}"


def heartbeat_for(container: Container) -> WorkerHeartbeat:
    """This process's heartbeat. Its loop counts as stuck (no beat) once a turn has taken
    longer than the visibility timeout and a minute: by then another worker takes its
    message over anyway."""
    stuck_after_s = container.settings.delivery_visibility_timeout_ms / 1000 + 60
    return WorkerHeartbeat(container.worker_heartbeats(), consumer_name(), stuck_after_s)


def run_until_signalled(container: Container, parent_pid: int | None = None) -> None:
    """Run a worker in this process until SIGTERM or SIGINT: the message in hand is
    finished (sent and acknowledged, or put back for a retry), then the worker leaves the
    live set and exits. The heartbeat's `fresh` is what the worker's own `/healthz` says.

    `parent_pid` (a child of `serve`): the worker also stops, the same way, when that
    process dies, even by SIGKILL (`die_with_parent`)."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info(
                "delivery worker %s: %s, finishing the message in hand",
                consumer_name(),
                signal.Signals(signum).name,
            )
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if parent_pid is not None:
        die_with_parent(parent_pid, stop)
    providers = providers_by_channel(container.settings)
    settings = container.settings
    routes = providers_by_route(settings.routes, settings.console_outbox)
    turns = LastTurn(max(30.0, container.settings.delivery_visibility_timeout_ms / 1000))
    listener = start_listener(container, turns.alive)
    worker = replace(container, providers=providers, route_providers=routes).delivery_worker(
        consumer_name(), on_turn=turns.tick
    )
    fallback = start_fallback_thread(container, stop)
    events = start_events_thread(container, stop)
    heartbeat = heartbeat_for(container)
    heartbeat.beat_if_turning()  # live from the start, not after the first interval
    beating = heartbeat.start_thread(stop)
    log.info("delivery worker %s started", consumer_name())
    # Block on the stream for less than the socket timeout, or every wait would time out.
    block_ms = max(10, min(200, int(container.settings.redis_timeout_seconds * 500)))
    try:
        worker.run(stop, block_ms=block_ms, turned=heartbeat.turned)
    finally:
        stop.set()
        if fallback is not None:
            fallback.join()
        if events is not None:
            events.join()
        beating.join()
        close_providers(providers)
        close_route_providers(routes)
        if listener is not None:
            listener.close()
        log.info("delivery worker %s stopped", consumer_name())


PARENT_WATCH_INTERVAL_S = 1.0
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, stop: threading.Event) -> threading.Thread:
    """A child of `serve` must not outlive it: an orphan would keep delivering, unsupervised,
    and hold the worker metrics port against the next `serve`'s child. On Linux the kernel
    sends SIGTERM when the parent dies (`prctl(PR_SET_PDEATHSIG)`); everywhere, a thread
    sees the parent change (`getppid()`) and sets `stop`, as SIGTERM would."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watch below still stops it, within a second

    def watch() -> None:
        while not stop.is_set():
            if os.getppid() != parent_pid:
                log.warning(
                    "delivery worker %s: its serve process %d is gone, stopping",
                    consumer_name(),
                    parent_pid,
                )
                stop.set()
                return
            stop.wait(PARENT_WATCH_INTERVAL_S)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def worker_is_live_here(container: Container) -> bool:
    """`verify-service worker --check`: a worker on this host beat lately (its name is
    `<host>-<pid>`; a container or pod has a host name of its own). The host must match
    whole: a worker on `api-2` does not make host `api` live."""
    heartbeats = container.worker_heartbeats()
    return any(
        is_on_host(name, socket.gethostname())
        for name in heartbeats.live_workers(heartbeats.now_ms())
    )


def is_on_host(worker_name: str, hostname: str) -> bool:
    """Whether a worker named `<host>-<pid>` runs on `hostname`."""
    host, _, pid = worker_name.rpartition("-")
    return host == hostname and pid.isdigit()


def start_thread(container: Container) -> threading.Event:
    """A daemon worker thread in this process (the embedded mode); set the event to stop.
    The embedded store cannot block, so the worker polls."""
    stop = threading.Event()
    worker = container.delivery_worker(consumer_name())
    heartbeat = heartbeat_for(container)
    thread = threading.Thread(
        target=worker.run,
        args=(stop,),
        kwargs={"block_ms": 0, "turned": heartbeat.turned},
        name="delivery",
        daemon=True,
    )
    thread.start()
    start_fallback_thread(container, stop)
    start_events_thread(container, stop)
    heartbeat.start_thread(stop)
    return stop


def start_fallback_thread(container: Container, stop: threading.Event) -> threading.Thread | None:
    """The channel fallback loop beside the delivery loop (a thread of its own, so that a
    backlog of either never holds up the other), until `stop` is set."""
    if container.fallback is None:
        return None
    thread = threading.Thread(
        target=container.fallback.run, args=(stop,), name="fallback", daemon=True
    )
    thread.start()
    return thread


def start_events_thread(container: Container, stop: threading.Event) -> threading.Thread | None:
    """The webhook events loop (docs/webhooks.md) beside the delivery loop, in a thread of
    its own (a slow receiver never holds up a code's delivery), until `stop` is set. It
    runs with no webhook at all too: its expiry watches count verify_verifications_expired_total."""
    if container.event_outbox is None:
        return None
    worker = container.event_worker(consumer_name())
    thread = threading.Thread(target=worker.run, args=(stop,), name="events", daemon=True)
    thread.start()
    return thread


def spawn_process() -> subprocess.Popen[bytes]:
    """`verify-service worker` as a child process with this process's environment; it
    stops when this process dies (`die_with_parent`)."""
    command = [sys.executable, "-m", "verify_service.cli", "worker"]
    return subprocess.Popen([*command, "--parent-pid", str(os.getpid())])  # noqa: S603 - ours


class ChildWorker:
    """`serve`'s delivery worker child, restarted when it dies: after 1 s, doubling up to
    60 s while it keeps dying (a child that ran a minute starts the count again), so a
    worker that cannot start retries once a minute, logged each time, never in a tight
    loop. `stop` asks it to finish its message and waits for it (then kills it)."""

    FIRST_RESTART_DELAY_S = 1.0
    LONGEST_RESTART_DELAY_S = 60.0
    STEADY_AFTER_S = 60.0

    def __init__(
        self,
        spawn: Callable[[], subprocess.Popen[bytes]] = spawn_process,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._spawn = spawn
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._watcher: threading.Thread | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None else None

    def start(self) -> ChildWorker:
        self._process = self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="child-worker", daemon=True)
        self._watcher.start()
        return self

    def _watch(self) -> None:
        delay_s = self.FIRST_RESTART_DELAY_S
        while True:
            process = self._process
            if process is None:
                return
            started_s = self._monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if self._monotonic() - started_s >= self.STEADY_AFTER_S:
                delay_s = self.FIRST_RESTART_DELAY_S
            log.error(
                "delivery worker child %d exited (status %s), restarting it in %.0f s",
                process.pid,
                code,
                delay_s,
            )
            if self._stopping.wait(delay_s):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._process = self._spawn()
                self.restarts += 1
            log.info("delivery worker child %d started", self._process.pid)
            delay_s = min(delay_s * 2, self.LONGEST_RESTART_DELAY_S)

    def begin_stop(self) -> None:
        """Ask the child to finish its message and exit (SIGTERM); do not wait."""
        with self._lock:
            self._stopping.set()
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()

    def stop(self, timeout_s: float = 30) -> None:
        """`begin_stop`, then wait up to `timeout_s` for the child, and kill it after."""
        self.begin_stop()
        with self._lock:
            process = self._process
        if process is not None:
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.error("delivery worker child %d did not stop in time, killed", process.pid)
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(timeout_s)


def start_listener(container: Container, alive: Callable[[], bool]) -> WorkerListener | None:
    """The worker's `/metrics` and `/healthz` on `VERIFY_WORKER_METRICS_PORT`, if set."""
    settings = container.settings
    if settings.worker_metrics_port is None:
        return None
    metrics = container.metrics
    scrape = (
        exposition(metrics, container.queue_probes(), container.clock)
        if isinstance(metrics, PrometheusMetrics)
        else None
    )
    try:
        listener = WorkerListener(
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            alive=alive,
            exposition=scrape,
            token=settings.metrics_token,
        )
    except OSError as exc:
        # Through the log (JSON in JSON mode), then a plain exit status: never a bare line.
        log.error(
            "VERIFY_WORKER_METRICS_PORT: cannot listen on %s:%d: %s",
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            exc.strerror,
        )
        raise SystemExit(1) from None
    return listener.start()

"""Where the delivery worker runs: its own process (`verify-service worker`), a child of
`serve`, or a thread beside the embedded store (which lives in one process). The channel
fallback loop runs beside it, in a thread of its own."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from types import FrameType

from verify_service.adapters.delivery.providers.registry import (
    close_providers,
    providers_by_channel,
)
from verify_service.app import Container

log = logging.getLogger(__name__)


def consumer_name() -> str:
    """Unique per process, so the consumer group can tell workers apart."""
    return f"{socket.gethostname()}-{os.getpid()}"


def run_until_signalled(container: Container) -> None:
    """Run a worker in this process until SIGTERM or SIGINT; finish the current batch."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    providers = providers_by_channel(container.settings)
    worker = replace(container, providers=providers).delivery_worker(consumer_name())
    fallback = start_fallback_thread(container, stop)
    events = start_events_thread(container, stop)
    log.info("delivery worker %s started", consumer_name())
    # Block on the stream for less than the socket timeout, or every wait would time out.
    block_ms = max(10, min(200, int(container.settings.redis_timeout_seconds * 500)))
    try:
        worker.run(stop, block_ms=block_ms)
    finally:
        stop.set()
        if fallback is not None:
            fallback.join()
        if events is not None:
            events.join()
        close_providers(providers)
        log.info("delivery worker %s stopped", consumer_name())


def start_thread(container: Container) -> threading.Event:
    """A daemon worker thread in this process (the embedded mode); set the event to stop.
    The embedded store cannot block, so the worker polls."""
    stop = threading.Event()
    worker = container.delivery_worker(consumer_name())
    thread = threading.Thread(
        target=worker.run, args=(stop,), kwargs={"block_ms": 0}, name="delivery", daemon=True
    )
    thread.start()
    start_fallback_thread(container, stop)
    start_events_thread(container, stop)
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
    its own (a slow receiver never holds up a code's delivery), until `stop` is set."""
    if container.event_outbox is None:
        return None
    worker = container.event_worker(consumer_name())
    thread = threading.Thread(target=worker.run, args=(stop,), name="events", daemon=True)
    thread.start()
    return thread


def spawn_process() -> subprocess.Popen[bytes]:
    """`verify-service worker` as a child process with this process's environment."""
    return subprocess.Popen([sys.executable, "-m", "verify_service.cli", "worker"])

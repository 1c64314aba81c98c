"""`serve` (the API under gunicorn), `worker` (delivery) and `credentials`."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from verify_service import delivery_runner
from verify_service.adapters.metrics import multiprocess
from verify_service.app import build_container, create_app
from verify_service.cli.common import check_redis_or_exit, configure_logging, load_settings
from verify_service.cli.embedded_demo import create_demo, embedded_banner
from verify_service.domain.errors import StoreUnavailable
from verify_service.domain.models import Channel
from verify_service.settings import Settings

DEFAULT_PORT = 8080


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=min((os.cpu_count() or 1) * 2, 64),  # the IntRange below also checks the default
    show_default="2 x CPU cores",
    type=click.IntRange(1, 64),
    help="gunicorn worker processes (always 1 on the embedded store).",
)
@click.option(
    "--timeout",
    default=30,
    show_default=True,
    type=click.IntRange(1, 600),
    help="Seconds per request; also how long SIGTERM waits for requests in flight.",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@click.option(
    "--worker/--no-worker",
    "with_worker",
    default=True,
    show_default=True,
    help=(
        "Also run a delivery worker (a child process, restarted when it dies; a thread on "
        "the embedded store)."
    ),
)
def serve(
    host: str, port: int, workers: int, timeout: int, access_log: bool, with_worker: bool
) -> None:
    """Run the HTTP API under gunicorn."""
    from verify_service import server  # noqa: PLC0415 - not needed by other commands
    from verify_service.server import (  # noqa: PLC0415
        CannotListen,
        GunicornServer,
        ensure_can_listen,
    )

    settings = load_settings()
    configure_logging(settings)
    server.LOG_FORMAT[0] = settings.log_format  # gunicorn's own lines in the same format
    try:
        ensure_can_listen(host, port)
    except CannotListen as exc:
        raise click.ClickException(str(exc)) from None
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "timeout": timeout,
        # SIGTERM: stop accepting, let each request in flight finish (up to `timeout`).
        "graceful_timeout": timeout,
        "worker_class": "sync",
        "accesslog": "-" if access_log else None,
        "logger_class": "verify_service.server.MaskingLogger",
        "proc_name": "verify-service",
        "control_socket_disable": True,  # several servers may share a machine (tests, bench)
    }
    if settings.embedded:
        # The embedded store lives in memory: build it once in the master, before the fork,
        # so the single worker inherits the demo service and console user.
        container = build_container(settings)
        demo = create_demo(container)
        base = settings.public_url or f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"  # noqa: S104
        click.echo(embedded_banner(settings, demo, base), err=True)
        app = create_app(settings, container=container)
        # No worker timeout: a restarted worker would come back with the start-up state.
        embedded_options = {**options, "workers": 1, "preload_app": True, "timeout": 0}
        if with_worker:
            # The delivery thread must live in the gunicorn worker, beside the store.
            embedded_options["post_worker_init"] = lambda _worker: delivery_runner.start_thread(
                container
            )
        GunicornServer(lambda: app, embedded_options).run()
        return
    # No console-provider warning here: the worker sends (`serve`'s child says it itself).
    check_redis_or_exit(settings)  # in the master, before any worker: fail fast
    metrics_dir = _shared_metrics_directory(settings, options)
    child = delivery_runner.ChildWorker().start() if with_worker else None
    if child is not None:
        # The child is told to stop as soon as gunicorn is (both finish what they hold
        # at once, not one after the other), and restarted whenever it dies before.
        options["when_ready"] = lambda _arbiter: _stop_child_with_master(child)
    master_pid = os.getpid()
    try:
        GunicornServer(lambda: create_app(settings), options).run()
    finally:
        # gunicorn's workers are forks of this process and leave `run` through here too:
        # only the master, whose child it is, stops the worker.
        if os.getpid() == master_pid:
            if child is not None:
                child.stop(timeout_s=timeout + 5)
            if metrics_dir is not None:
                multiprocess.remove_directory(metrics_dir)


def warn_of_console_delivery(settings: Settings) -> None:
    """Said by the process that sends: `worker` (standalone, or `serve`'s child); never
    by `serve --no-worker`, which sends nothing."""
    if any(
        config.KIND == "console"
        for channel in Channel
        for config in settings.providers_for(channel)
    ):
        logging.getLogger(__name__).warning(
            "a channel delivers through the console provider: codes are written to %s",
            settings.console_outbox or "standard output",
        )


def _stop_child_with_master(child: delivery_runner.ChildWorker) -> None:
    """Chain a step before gunicorn's own handlers of the signals that stop it (installed
    by then): the child worker gets SIGTERM at the same moment."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue

        def handler(
            number: int, frame: FrameType | None, previous: Callable[..., Any] = previous
        ) -> None:
            child.begin_stop()
            previous(number, frame)

        signal.signal(signum, handler)


def _shared_metrics_directory(settings: Settings, options: dict[str, Any]) -> Path | None:
    """With metrics on, gunicorn's workers share their samples through a directory set up
    here, before the fork (adapters/metrics/multiprocess.py); returns it when `serve` made
    it (a temporary directory, removed at exit)."""
    if settings.metrics_token is None:
        return None
    try:
        directory, created = multiprocess.prepare_shared_directory(settings.metrics_dir)
    except multiprocess.MetricsDirectoryError as exc:
        raise click.ClickException(str(exc)) from None
    options["child_exit"] = lambda _server, worker: multiprocess.worker_exited(worker.pid)
    return directory if created else None


@click.command()
@click.option(
    "--check",
    is_flag=True,
    help="Exit 0 if a worker on this host beat lately, else 1 (a liveness probe).",
)
@click.option(
    "--parent-pid",
    type=int,
    default=None,
    hidden=True,
    help="Set by `serve` for its child: stop when that process dies.",
)
def worker(check: bool, parent_pid: int | None) -> None:
    """Run a delivery worker: queued messages to providers, with retries and failover.
    SIGTERM: it finishes the message in hand, then exits."""
    settings = load_settings()
    configure_logging(settings)
    if settings.embedded:
        raise click.ClickException(
            "set VERIFY_REDIS_URL: on the embedded store `serve` runs the worker itself"
        )
    if check:
        container = build_container(settings)
        try:
            live = delivery_runner.worker_is_live_here(container)
        except StoreUnavailable:
            raise click.ClickException("Redis unavailable") from None
        finally:
            container.redis.close()
        if not live:
            raise click.ClickException("no live delivery worker on this host")
        click.echo("live")
        return
    warn_of_console_delivery(settings)
    check_redis_or_exit(settings)
    # Scraped on its own port, never through the API's directory (a child of `serve` inherits it).
    multiprocess.single_process()
    delivery_runner.run_until_signalled(build_container(settings), parent_pid=parent_pid)


@click.command()
def credentials() -> None:
    """Print the account credentials this configuration uses."""
    settings = load_settings()
    if settings.ephemeral_credentials:
        raise click.ClickException(
            "no credentials configured: the embedded mode generates new ones at every start "
            "(set VERIFY_ACCOUNT_SID, VERIFY_AUTH_TOKEN and VERIFY_SECRET_KEY to fix them)"
        )
    click.echo(f"VERIFY_ACCOUNT_SID={settings.account_sid}")
    click.echo(f"VERIFY_AUTH_TOKEN={settings.auth_token}")

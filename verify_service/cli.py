"""`verify-service`: serve the API, manage services, show the credentials in use."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from verify_service import delivery_runner
from verify_service.app import Container, build_container, create_app
from verify_service.application.fraud_guard_blocks import FraudGuardBlocks
from verify_service.domain.errors import NotFound, VerifyError
from verify_service.domain.models import Channel
from verify_service.http.representations import twilio_time
from verify_service.settings import ConfigError, Settings

DEFAULT_PORT = 8080
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group()
def main() -> None:
    """Self-hosted one-time-code verification, speaking the Twilio Verify v2 API."""


def _embedded_banner(settings: Settings, service_sid: str, base: str) -> str:
    # Print the token only when it was generated here; one the operator set stays unprinted.
    token = (
        f"{settings.auth_token}   (generated for this run)"
        if settings.generated_auth_token
        else "(the value of VERIFY_AUTH_TOKEN)"
    )
    example_token = settings.auth_token if settings.generated_auth_token else "$AUTH_TOKEN"
    return f"""
  WARNING: no VERIFY_REDIS_URL -- running on the EMBEDDED in-process store.
  All state is lost when this process exits or its worker restarts. One worker only.
  Not for production.

  Account SID : {settings.account_sid}
  Auth token  : {token}
  Service SID : {service_sid}   ("Demo", created at start)
  Codes are written by the console provider to {settings.console_outbox or "standard output"}.

  curl -u {settings.account_sid}:{example_token} --data-urlencode To=+14155552671 \\
       -d Channel=sms \\
       {base}/v2/Services/{service_sid}/Verifications

  python -c 'from twilio.rest import Client
  c = Client("{settings.account_sid}", "{example_token}")
  c.verify.base_url = "{base}"
  v = c.verify.v2.services("{service_sid}")
  print(v.verifications.create(to="+14155552671", channel="sms").status)'
"""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=min((os.cpu_count() or 1) * 2, 64),  # the IntRange below also checks the default
    show_default="2 x CPU cores",
    type=click.IntRange(1, 64),
    help="gunicorn worker processes (always 1 on the embedded store).",
)
@click.option("--timeout", default=30, show_default=True, type=click.IntRange(1, 600))
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@click.option(
    "--worker/--no-worker",
    "with_worker",
    default=True,
    show_default=True,
    help="Also run a delivery worker (a child process; a thread on the embedded store).",
)
def serve(
    host: str, port: int, workers: int, timeout: int, access_log: bool, with_worker: bool
) -> None:
    """Run the HTTP API under gunicorn."""
    from verify_service.server import GunicornServer  # noqa: PLC0415 - not needed by other commands

    settings = _settings()
    _configure_logging(settings.log_level)
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "timeout": timeout,
        "worker_class": "sync",
        "accesslog": "-" if access_log else None,
        "logger_class": "verify_service.server.MaskingLogger",
        "proc_name": "verify-service",
        "control_socket_disable": True,  # several servers may share a machine (tests, bench)
    }
    if settings.embedded:
        # The embedded store lives in memory: build it once in the master, before the fork,
        # so the single worker inherits the demo service.
        container = build_container(settings)
        demo = container.catalog.create({"friendly_name": "Demo"})
        base = settings.public_url or f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"  # noqa: S104
        click.echo(_embedded_banner(settings, demo.sid, base), err=True)
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
    if any(
        config.KIND == "console"
        for channel in Channel
        for config in settings.providers_for(channel)
    ):
        logging.getLogger(__name__).warning(
            "a channel delivers through the console provider: codes are written to %s",
            settings.console_outbox or "standard output",
        )
    child = delivery_runner.spawn_process() if with_worker else None
    try:
        GunicornServer(lambda: create_app(settings), options).run()
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()


@main.command()
def worker() -> None:
    """Run a delivery worker: queued messages to providers, with retries and failover."""
    settings = _settings()
    _configure_logging(settings.log_level)
    if settings.embedded:
        raise click.ClickException(
            "set VERIFY_REDIS_URL: on the embedded store `serve` runs the worker itself"
        )
    delivery_runner.run_until_signalled(build_container(settings))


@main.group("dead-letters")
def dead_letters() -> None:
    """Messages every provider refused: list and requeue them."""


@dead_letters.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def list_dead_letters(limit: int) -> None:
    """Newest first, one JSON object per line (no code, no destination)."""
    container = _redis_container()
    for letter in container.outbox.dead_letters(limit):
        click.echo(
            json.dumps(
                {
                    "attempt_sid": letter.attempt_sid,
                    "channel": letter.channel,
                    "failed_at": twilio_time(letter.failed_ms),
                    "reason": letter.reason,
                }
            )
        )


@dead_letters.command("requeue")
@click.argument("attempt_sids", nargs=-1, required=True)
def requeue_dead_letters(attempt_sids: tuple[str, ...]) -> None:
    """Queue these attempts again, from the first provider. A letter whose verification
    has ended since is dropped by the worker, not sent."""
    container = _redis_container()
    missing = [
        sid for sid in attempt_sids if not container.outbox.requeue(sid, container.clock.now_ms())
    ]
    if missing:
        raise click.ClickException(f"no dead letter for {', '.join(missing)}")
    click.echo(f"requeued {len(attempt_sids)}")


def _redis_container() -> Container:
    settings = _settings()
    if settings.embedded:
        raise click.ClickException("set VERIFY_REDIS_URL: the embedded store lives in `serve` only")
    return build_container(settings)


@main.command()
def credentials() -> None:
    """Print the account credentials this configuration uses."""
    settings = _settings()
    if settings.ephemeral_credentials:
        raise click.ClickException(
            "no credentials configured: the embedded mode generates new ones at every start "
            "(set VERIFY_ACCOUNT_SID, VERIFY_AUTH_TOKEN and VERIFY_SECRET_KEY to fix them)"
        )
    click.echo(f"VERIFY_ACCOUNT_SID={settings.account_sid}")
    click.echo(f"VERIFY_AUTH_TOKEN={settings.auth_token}")


@main.group()
def service() -> None:
    """Manage Verify Services."""


@service.command("create")
@click.argument("friendly_name")
@click.option("--code-length", type=click.IntRange(4, 10), default=6, show_default=True)
@click.option("--ttl-seconds", type=click.IntRange(60, 86_400), default=600, show_default=True)
@click.option("--custom-code/--no-custom-code", default=False)
@click.option("--psd2/--no-psd2", default=False)
@click.option("--do-not-share-warning/--no-do-not-share-warning", default=False)
def create_service(
    friendly_name: str,
    code_length: int,
    ttl_seconds: int,
    custom_code: bool,
    psd2: bool,
    do_not_share_warning: bool,
) -> None:
    """Create a service and print it as JSON."""
    settings = _settings()
    if settings.embedded:
        raise click.ClickException(
            "set VERIFY_REDIS_URL: the embedded store lives inside the `serve` process"
        )
    catalog = build_container(settings).catalog
    try:
        created = catalog.create(
            {
                "friendly_name": friendly_name,
                "code_length": code_length,
                "verification_ttl_seconds": ttl_seconds,
                "custom_code_enabled": custom_code,
                "psd2_enabled": psd2,
                "do_not_share_warning_enabled": do_not_share_warning,
            }
        )
    except VerifyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        json.dumps(
            {"sid": created.sid, "friendly_name": created.friendly_name, "code_length": code_length}
        )
    )


if __name__ == "__main__":
    main()


@main.group("fraud-guard")
def fraud_guard() -> None:
    """The SMS-pumping breaker: prefixes it blocked (or would have), and lifting a block."""


@fraud_guard.command("list")
@click.argument("service_sid")
def list_fraud_guard(service_sid: str) -> None:
    """Blocks in force and monitor-mode trips, newest first, one JSON object per line."""
    blocks = _fraud_guard_blocks()
    for trip in _cli_call(lambda: blocks.list(service_sid)):
        click.echo(
            json.dumps(
                {
                    "prefix": trip.prefix,
                    "mode": trip.mode,
                    "tripped_at": twilio_time(trip.tripped_ms),
                    "until": twilio_time(trip.until_ms),
                    "sends": trip.sends,
                    "approvals": trip.approvals,
                    "window_seconds": trip.window_seconds,
                    "destinations": list(trip.destinations),
                },
                ensure_ascii=False,
            )
        )


@fraud_guard.command("lift")
@click.argument("service_sid")
@click.argument("prefix")
def lift_fraud_guard(service_sid: str, prefix: str) -> None:
    """End a block before its cool-down (sends to the prefix resume at once)."""
    blocks = _fraud_guard_blocks()
    _cli_call(lambda: blocks.lift(service_sid, prefix))
    click.echo(f"lifted {prefix}")


def _fraud_guard_blocks() -> FraudGuardBlocks:
    container = _redis_container()
    if container.fraud_guard is None:
        raise click.ClickException("this configuration has no Fraud Guard store")
    return FraudGuardBlocks(container.fraud_guard, container.catalog, container.clock)


def _cli_call(action: Callable[[], T]) -> T:
    try:
        return action()
    except NotFound:
        raise click.ClickException("no such service or block") from None
    except VerifyError as exc:
        raise click.ClickException(str(exc)) from None

"""`fraud-guard`: the SMS-pumping breaker's blocks."""

from __future__ import annotations

import json

import click

from verify_service.application.protection.fraud_guard_blocks import FraudGuardBlocks
from verify_service.cli.common import cli_call, redis_container
from verify_service.http.representations import twilio_time


@click.group("fraud-guard")
def fraud_guard() -> None:
    """The SMS-pumping breaker: prefixes it blocked (or would have), and lifting a block."""


@fraud_guard.command("list")
@click.argument("service_sid")
def list_fraud_guard(service_sid: str) -> None:
    """Blocks in force and monitor-mode trips, newest first, one JSON object per line."""
    blocks = _fraud_guard_blocks()
    trips = cli_call(lambda: blocks.list(service_sid))
    if not trips:
        # On standard error: standard output stays empty JSON lines for scripts.
        click.echo(f"no Fraud Guard blocks or trips for {service_sid}", err=True)
    for trip in trips:
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
    cli_call(lambda: blocks.lift(service_sid, prefix))
    click.echo(f"lifted {prefix}")


def _fraud_guard_blocks() -> FraudGuardBlocks:
    container = redis_container()
    if container.fraud_guard is None:
        raise click.ClickException("this configuration has no Fraud Guard store")
    return FraudGuardBlocks(container.fraud_guard, container.catalog, container.clock)

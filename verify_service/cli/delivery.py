"""`dead-letters`: messages every provider refused."""

from __future__ import annotations

import json

import click

from verify_service.cli.common import redis_container
from verify_service.http.representations import twilio_time


@click.group("dead-letters")
def dead_letters() -> None:
    """Messages every provider refused: list and requeue them."""


@dead_letters.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def list_dead_letters(limit: int) -> None:
    """Newest first, one JSON object per line (no code, no destination)."""
    container = redis_container()
    letters = container.outbox.dead_letters(limit)
    if not letters:
        # On standard error: standard output stays empty JSON lines for scripts.
        click.echo("no dead letters", err=True)
    for letter in letters:
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
    container = redis_container()
    missing = [
        sid for sid in attempt_sids if not container.outbox.requeue(sid, container.clock.now_ms())
    ]
    if missing:
        raise click.ClickException(f"no dead letter for {', '.join(missing)}")
    click.echo(f"requeued {len(attempt_sids)}")

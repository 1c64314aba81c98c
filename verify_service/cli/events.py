"""`webhooks`: what an operator needs of webhook events: the signing token a receiver
validates with, and the event deliveries that went to the dead letters."""

from __future__ import annotations

import json
import os

import click

from verify_service.cli.common import load_settings, redis_container
from verify_service.domain.keyring import Keyring
from verify_service.http.representations import twilio_time


@click.group("webhooks")
def webhooks() -> None:
    """Webhook events: the signing token, and dead-lettered deliveries."""


@webhooks.command("signing-token")
@click.option("--all", "every_key", is_flag=True, help="One line per ring key: `<id> <token>`.")
def signing_token(every_key: bool) -> None:
    """The token events are signed with (`X-Twilio-Signature`): give it to the receiver's
    `RequestValidator(token)`. With --all, the token of every ring key (a receiver picks by
    the `X-Verify-Signature-Key-Id` header during a rotation). It is not an API
    credential, but keep it secret: it lets anyone forge events."""
    if not (os.environ.get("VERIFY_SECRET_KEYS") or os.environ.get("VERIFY_SECRET_KEY")):
        raise click.ClickException(
            "set VERIFY_SECRET_KEY or VERIFY_SECRET_KEYS as the service has them (the "
            "embedded store of `make run` makes a key per run: its banner prints the token)"
        )
    settings = load_settings()
    keyring = Keyring(settings.key_ring())
    if not every_key:
        click.echo(keyring.webhook_signing_token())
        return
    for key_id in keyring.ids:
        click.echo(f"{key_id} {keyring.webhook_signing_token(key_id)}")


@webhooks.group("dead-letters")
def dead_letters() -> None:
    """Event deliveries that failed every try (or whose target was refused at send)."""


@dead_letters.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def list_dead_letters(limit: int) -> None:
    """Newest first, one JSON object per line (`key` = `<event uuid>.<YW sid>`)."""
    container = redis_container()
    if container.event_outbox is None:
        raise click.ClickException("no event outbox")
    letters = container.event_outbox.dead_letters(limit)
    if not letters:
        click.echo("no dead letters", err=True)
    for letter in letters:
        event_id, _, webhook_sid = letter.key.rpartition(".")
        click.echo(
            json.dumps(
                {
                    "key": letter.key,
                    "uuid": event_id,
                    "webhook_sid": webhook_sid,
                    "type": letter.event_type,
                    "failed_at": twilio_time(letter.failed_ms),
                    "reason": letter.reason,
                }
            )
        )


@dead_letters.command("requeue")
@click.argument("keys", nargs=-1, required=True, metavar="<uuid>.<YW sid>...")
def requeue_dead_letters(keys: tuple[str, ...]) -> None:
    """Send these deliveries again (same `uuid`), with a fresh try count. Each key is
    `<event uuid>.<YW sid>`, the `key` that `dead-letters list` prints (an event sent to
    several webhooks has one dead letter per webhook). One whose webhook was deleted or
    disabled since is dropped by the worker, not sent."""
    container = redis_container()
    outbox = container.event_outbox
    if outbox is None:
        raise click.ClickException("no event outbox")
    missing = [key for key in keys if not outbox.requeue(key, container.clock.now_ms())]
    if missing:
        raise click.ClickException(
            f"no dead letter for {', '.join(missing)} (a key is `<event uuid>.<YW sid>`, "
            "as `verify-service webhooks dead-letters list` prints it)"
        )
    click.echo(f"requeued {len(keys)}")

"""`secrets`: move stored values to the ring's primary key, and say what each key still
holds (docs/key-rotation.md)."""

from __future__ import annotations

import functools
from collections import Counter

import click

from verify_service.application.secrets.ports import ResealCount
from verify_service.cli.common import cli_call, redis_container
from verify_service.domain.keyring import Keyring

PROGRESS_EVERY = 100


@click.group()
def secrets() -> None:
    """Key rotation: reseal stored values under the primary key, and check what is left."""


def _ring_line(keyring: Keyring) -> str:
    others = ", ".join(keyring.ids[1:])
    return f"ring: {keyring.primary_id} (primary)" + (f", {others}" if others else "")


@secrets.command("status")
def status() -> None:
    """How many stored values each key id still holds, and whether the other keys can be
    dropped from the ring."""
    container = redis_container()
    keyring = container.keyring or Keyring(container.settings.key_ring())
    click.echo(_ring_line(keyring))
    totals: Counter[str] = Counter()
    for kind in container.resealables():
        counts = cli_call(kind.key_ids)
        totals.update(counts)
        listed = ", ".join(f"{key_id}={n}" for key_id, n in sorted(counts.items())) or "empty"
        click.echo(f"{kind.kind}: {listed}")
    for key_id in sorted(set(totals) - set(keyring.ids)):
        click.echo(f"{key_id}: not on the ring; {totals[key_id]} values cannot be opened")
    for key_id in keyring.ids[1:]:
        if totals[key_id]:
            click.echo(f"{key_id}: still needed by {totals[key_id]} values: run `secrets reseal`")
        else:
            click.echo(f"{key_id}: holds nothing: it can be dropped from the ring")


@secrets.command("reseal")
def reseal() -> None:
    """Re-seal and re-MAC every long-lived value under the primary key.

    Idempotent (values under the primary are skipped) and resumable (each value is replaced
    by a compare-and-set script, so an interrupted run or a concurrent writer loses nothing:
    run it again)."""
    container = redis_container()
    keyring = container.keyring or Keyring(container.settings.key_ring())
    click.echo(_ring_line(keyring))

    def progress(kind: str, looked_at: int) -> None:
        if looked_at % PROGRESS_EVERY == 0:
            click.echo(f"{kind}: {looked_at} looked at", err=True)

    results: list[ResealCount] = []
    for kind in container.resealables():
        click.echo(f"{kind.kind}: resealing…", err=True)
        now_ms = container.clock.now_ms()
        count = cli_call(functools.partial(kind.reseal, progress, now_ms))
        results.append(count)
        click.echo(_count_line(count))
        for note in count.notes:
            click.echo(f"  note: {note}")
    resealed = sum(count.resealed for count in results)
    left = sum(count.unreadable + count.raced for count in results)
    click.echo(
        f"summary: {resealed} resealed under {keyring.primary_id}"
        + (f", {left} left (see the notes)" if left else ", nothing left")
    )


def _count_line(count: ResealCount) -> str:
    return (
        f"{count.kind}: {count.resealed} resealed, {count.already_primary} already under the "
        f"primary, {count.unreadable} unreadable, {count.raced} changed meanwhile"
    )

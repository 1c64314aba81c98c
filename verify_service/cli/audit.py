"""`audit`: check and export the hash-chained audit log."""

from __future__ import annotations

import sys
from typing import TextIO

import click

from verify_service.adapters.redis_store.audit.audit_log import RedisAuditLog
from verify_service.application.audit.audit import export_line, valid_entry_id
from verify_service.cli.common import cli_call, redis_container
from verify_service.domain.errors import VerifyError


@click.group()
def audit() -> None:
    """The hash-chained audit log: check it, export it (docs/audit-log.md)."""


def _audit_log() -> RedisAuditLog:
    container = redis_container()
    if not isinstance(container.audit, RedisAuditLog):
        raise click.ClickException("this configuration has no audit log")
    return container.audit


@audit.command("verify")
def verify_audit() -> None:
    """Check the chain of retained entries and the head; exit 1 naming the first break.

    Prints the head hash: keep it elsewhere, and a later run that does not reach it tells
    you the newest entries were removed.
    """
    log = _audit_log()
    report = cli_call(log.verify)
    if report.first_break is None:
        trimmed = f" ({report.trimmed} older trimmed by retention)" if report.trimmed else ""
        click.echo(f"ok: {report.checked} entries{trimmed}, head {report.head or 'none'}")
        return
    problem = report.first_break
    click.echo(
        f"broken at {problem.entry_id}: {problem.problem} "
        f"({report.checked} entries checked before it)"
    )
    click.get_current_context().exit(1)


@audit.command("export")
@click.option("--since", metavar="ID", help="Only entries after this entry id.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of standard output.",
)
def export_audit(since: str | None, output: str | None) -> None:
    """Every retained entry, oldest first, one JSON object per line (no secret)."""
    if since is not None and not valid_entry_id(since):
        raise click.BadParameter("an entry id looks like 1700000000000-0", param_hint="--since")
    log = _audit_log()
    try:
        if output is None:
            _export_lines(log, since, sys.stdout)
            return
        with open(output, "w", encoding="utf-8") as handle:
            count = _export_lines(log, since, handle)
    except VerifyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"exported {count} entries to {output}", err=True)


def _export_lines(log: RedisAuditLog, since: str | None, stream: TextIO) -> int:
    count = 0
    for record in log.records(since):
        stream.write(export_line(record) + "\n")
        count += 1
    return count

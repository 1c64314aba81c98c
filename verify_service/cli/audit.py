"""`audit`: check and export the hash-chained audit log."""

from __future__ import annotations

import sys
from typing import TextIO

import click

from verify_service.adapters.redis_store.audit.audit_log import RedisAuditLog
from verify_service.application.audit.audit import (
    AUDIT_LOG,
    LOG_NAMES,
    export_line,
    valid_entry_id,
)
from verify_service.cli.common import cli_call, redis_container
from verify_service.domain.errors import VerifyError


@click.group()
def audit() -> None:
    """The hash-chained logs: check them, export them (docs/audit-log.md).

    Two logs: `audit` (what operators and support did) and `mfa-activity` (MFA challenges
    created and answered), each its own chain and bound.
    """


def _logs() -> dict[str, RedisAuditLog]:
    logs = redis_container().audit_logs()
    if not logs:
        raise click.ClickException("this configuration has no audit log")
    return logs


def _audit_log(name: str) -> RedisAuditLog:
    found = _logs().get(name)
    if found is None:
        raise click.ClickException(f"this configuration has no {name} log")
    return found


_LOG_OPTION = click.option(
    "--log",
    "log_name",
    type=click.Choice(LOG_NAMES),
    default=None,
    help="Which log: audit (operators' changes) or mfa-activity (MFA challenges).",
)


@audit.command("verify")
@_LOG_OPTION
def verify_audit(log_name: str | None) -> None:
    """Check the chain of retained entries and the head; exit 1 naming the first break.
    Without --log, both are checked: the audit log's line first, as with `--log audit`,
    then the MFA activity log's, prefixed `mfa-activity: `; exit 1 if either breaks.

    Prints the head hash: keep it elsewhere, and a later run that does not reach it tells
    you the newest entries were removed.
    """
    if log_name is not None:
        if not _verify_one(_audit_log(log_name), ""):
            click.get_current_context().exit(1)
        return
    results = [
        _verify_one(log, "" if name == AUDIT_LOG else f"{name}: ") for name, log in _logs().items()
    ]
    if not all(results):
        click.get_current_context().exit(1)


def _verify_one(log: RedisAuditLog, label: str) -> bool:
    report = cli_call(log.verify)
    if report.first_break is None:
        trimmed = f" ({report.trimmed} older trimmed by retention)" if report.trimmed else ""
        click.echo(f"{label}ok: {report.checked} entries{trimmed}, head {report.head or 'none'}")
        return True
    problem = report.first_break
    click.echo(
        f"{label}broken at {problem.entry_id}: {problem.problem} "
        f"({report.checked} entries checked before it)"
    )
    return False


@audit.command("export")
@click.option("--since", metavar="ID", help="Only entries after this entry id.")
@click.option(
    "--log",
    "log_name",
    type=click.Choice(LOG_NAMES),
    default=AUDIT_LOG,
    show_default=True,
    help="Which log: audit (operators' changes) or mfa-activity (MFA challenges).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of standard output.",
)
def export_audit(since: str | None, log_name: str, output: str | None) -> None:
    """Every retained entry of one log, oldest first, one JSON object per line (no secret)."""
    if since is not None and not valid_entry_id(since):
        raise click.BadParameter("an entry id looks like 1700000000000-0", param_hint="--since")
    log = _audit_log(log_name)
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

"""`verify-service`: serve the API, manage services, show the credentials in use."""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

import click

from verify_service import delivery_runner
from verify_service.adapters.redis_store.audit_log import RedisAuditLog
from verify_service.app import Container, build_container, build_staff_users, create_app
from verify_service.application.access import ROLES, Principal
from verify_service.application.api_keys import ApiKeys
from verify_service.application.audit import export_line, valid_entry_id
from verify_service.application.fraud_guard_blocks import FraudGuardBlocks
from verify_service.application.ports import AuditEntry
from verify_service.application.staff_users import StaffUserExists, StaffUsers, UnknownStaffUser
from verify_service.domain.errors import NotFound, VerifyError
from verify_service.domain.models import Channel
from verify_service.domain.staff import StaffRole
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
    container = build_container(settings)
    # A command's connections close with it, not whenever the garbage collector runs.
    click.get_current_context().call_on_close(container.redis.close)
    return container


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


@main.group()
def keys() -> None:
    """API keys (`SK…`): each acts for the account with one role (admin, backend, support)."""


# The CLI acts as the operator, with the admin role; the audit log names it so.
_CLI_ACTOR = "cli"


def _api_keys() -> ApiKeys:
    container = _redis_container()
    if container.api_keys is None:
        raise click.ClickException("this configuration has no API key store")
    # No HTTP audit hook runs here: the use case appends the entries itself.
    audit = container.audit
    return container.api_keys if audit is None else container.api_keys.audited(audit)


@keys.command("create")
@click.argument("friendly_name")
@click.option("--role", type=click.Choice(list(ROLES)), required=True)
def create_key(friendly_name: str, role: str) -> None:
    """Create a key; its secret is printed this once and cannot be shown again."""
    settings = _settings()
    actor = Principal(settings.account_sid, _CLI_ACTOR, "admin")
    created = _cli_call(lambda: _api_keys().create(friendly_name, role, actor))
    click.echo(f"sid    : {created.key.sid}")
    click.echo(f"secret : {created.secret}")
    click.echo(f"role   : {created.key.role}")
    click.echo("The secret is shown this once: store it now (only a keyed hash is kept).", err=True)


@keys.command("list")
def list_keys() -> None:
    """Every key, oldest first, one JSON object per line (never a secret)."""
    api_keys = _api_keys()
    page = 0
    while True:
        found, more = _cli_call(functools.partial(api_keys.list, page, 1000))
        for key in found:
            click.echo(
                json.dumps(
                    {
                        "sid": key.sid,
                        "friendly_name": key.friendly_name,
                        "role": key.role,
                        "date_created": twilio_time(key.created_ms),
                    },
                    ensure_ascii=False,
                )
            )
        if not more:
            return
        page += 1


@keys.command("revoke")
@click.argument("key_sid")
def revoke_key(key_sid: str) -> None:
    """Delete a key: the next request made with it is refused (401)."""
    settings = _settings()
    actor = Principal(settings.account_sid, _CLI_ACTOR, "admin")
    api_keys = _api_keys()
    try:
        api_keys.revoke(key_sid, actor)
    except NotFound:
        raise click.ClickException(f"no API key {key_sid}") from None
    except VerifyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {key_sid}")


@main.group()
def audit() -> None:
    """The hash-chained audit log: check it, export it (docs/audit-log.md)."""


def _audit_log() -> RedisAuditLog:
    container = _redis_container()
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
    report = _cli_call(log.verify)
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


@main.group()
def user() -> None:
    """Support console users (`/console`): add, list, disable, enable, unlock."""


def _staff_users() -> StaffUsers:
    return build_staff_users(_redis_container())


def _staff_change(action: str, name: str, change: Callable[[StaffUsers], T]) -> T:
    """Apply a change to a console user and record it in the audit log (no hook covers the
    CLI): actor `cli`, outcome `ok` or `refused`. No password ever reaches the entry."""
    container = _redis_container()
    staff = build_staff_users(container)
    try:
        result = _staff_call(lambda: change(staff))
    except click.ClickException:
        _audit_cli(container, f"users.{action}", name, "refused")
        raise
    _audit_cli(container, f"users.{action}", name, "ok")
    return result


def _audit_cli(container: Container, action: str, target: str, outcome: str) -> None:
    if container.audit is not None:
        container.audit.append(
            AuditEntry("cli", "admin", action, target, outcome, container.clock.now_ms())
        )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _staff_call(action: Callable[[], T]) -> T:
    try:
        return action()
    except StaffUserExists:
        raise click.ClickException("a console user has this name already") from None
    except UnknownStaffUser:
        raise click.ClickException("no such console user") from None
    except VerifyError as exc:
        raise click.ClickException(str(exc)) from None


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice([role.value for role in StaffRole]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def add_user(name: str, role: str, password_stdin: bool) -> None:
    """Create a console user (password: at least 12 characters, stored as argon2id)."""
    password = _read_password(password_stdin)
    created = _staff_change("add", name, lambda staff: staff.add(name, password, role))
    click.echo(f"added {created.name} ({created.role.value})")


@user.command("list")
def list_users() -> None:
    """Every console user, one JSON object per line (never a password hash)."""
    for found in _staff_call(_staff_users().list):
        click.echo(
            json.dumps(
                {
                    "name": found.name,
                    "role": found.role.value,
                    "disabled": found.disabled,
                    "locked": found.locked,
                    "date_created": twilio_time(found.created_ms),
                    "last_login": twilio_time(found.last_login_ms) if found.last_login_ms else None,
                }
            )
        )


@user.command("disable")
@click.argument("name")
def disable_user(name: str) -> None:
    """Refuse the user's sign-ins; its open sessions end at their next request."""
    _staff_change("disable", name, lambda staff: staff.disable(name))
    click.echo(f"disabled {name}")


@user.command("enable")
@click.argument("name")
def enable_user(name: str) -> None:
    _staff_change("enable", name, lambda staff: staff.enable(name))
    click.echo(f"enabled {name}")


@user.command("unlock")
@click.argument("name")
def unlock_user(name: str) -> None:
    """Lift the lockout that repeated wrong passwords set."""
    _staff_change("unlock", name, lambda staff: staff.unlock(name))
    click.echo(f"unlocked {name}")


@user.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_user_password(name: str, password_stdin: bool) -> None:
    """Give the user a new password."""
    password = _read_password(password_stdin)
    _staff_change("password", name, lambda staff: staff.set_password(name, password))
    click.echo(f"new password set for {name}")


if __name__ == "__main__":
    main()

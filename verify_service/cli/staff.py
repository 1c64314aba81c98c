"""`user`: support console users."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import click

from verify_service.app import build_staff_users
from verify_service.application.support.staff_users import (
    StaffUserExists,
    StaffUsers,
    UnknownStaffUser,
)
from verify_service.cli.common import T, audit_cli, redis_container
from verify_service.domain.errors import VerifyError
from verify_service.domain.staff import StaffRole
from verify_service.http.representations import twilio_time


@click.group()
def user() -> None:
    """Support console users (`/console`): add, list, disable, enable, unlock."""


def _staff_users() -> StaffUsers:
    return build_staff_users(redis_container())


def _staff_change(action: str, name: str, change: Callable[[StaffUsers], T]) -> T:
    """Apply a change to a console user and record it in the audit log (no hook covers the
    CLI): actor `cli`, outcome `ok` or `refused`. No password ever reaches the entry."""
    container = redis_container()
    staff = build_staff_users(container)
    try:
        result = _staff_call(lambda: change(staff))
    except click.ClickException:
        audit_cli(container, f"users.{action}", name, "refused")
        raise
    audit_cli(container, f"users.{action}", name, "ok")
    return result


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
    users = _staff_call(_staff_users().list)
    if not users:
        click.echo("no console users", err=True)
    for found in users:
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
    """Let a disabled user sign in again."""
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

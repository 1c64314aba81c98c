"""What every command shares: settings from the environment, logging, a container on the
real Redis, and the mapping of use-case errors to click's."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

import click

from verify_service.adapters.logs.formatting import configure_logging as set_up_logging
from verify_service.adapters.redis_connection import connect
from verify_service.adapters.redis_preflight import RedisNotUsable, check_redis
from verify_service.adapters.template_files import TemplateFileError, load_template_dir
from verify_service.app import Container, build_container
from verify_service.application.audit.ports import AuditEntry
from verify_service.domain.errors import NotFound, VerifyError
from verify_service.settings import ConfigError, Settings, unknown_variables

T = TypeVar("T")
log = logging.getLogger(__name__)
# The CLI acts as the operator, with the admin role; the audit log names it so.
CLI_ACTOR = "cli"


def load_settings() -> Settings:
    """The settings, after a warning for each unknown `VERIFY_*` name: a log line when the
    log format is `json` (every line of the process stays JSON), else plain text."""
    warnings = unknown_variables(os.environ)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        raise click.ClickException(f"configuration error: {exc}") from None
    try:  # checked here too, so that `serve` stops before its workers start
        load_template_dir(settings.templates_dir)
    except TemplateFileError as exc:
        raise click.ClickException(f"configuration error: VERIFY_TEMPLATES_DIR: {exc}") from None
    if settings.log_format == "json" and warnings:
        configure_logging(settings)
        for warning in warnings:
            log.warning("%s", warning, extra={"event": "unknown_variable"})
    else:
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
    return settings


def configure_logging(settings: Settings) -> None:
    """This process's log lines in `VERIFY_LOG_FORMAT` (adapters/logs/formatting.py)."""
    set_up_logging(settings.log_level, settings.log_format)


def check_redis_or_exit(settings: Settings) -> None:
    """Before a long-running command starts: Redis answers and will keep its state."""
    client = connect(settings.redis_url or "", settings.redis_timeout_seconds)
    try:
        check_redis(client, allow_eviction=settings.allow_redis_eviction)
    except RedisNotUsable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()


def redis_container() -> Container:
    settings = load_settings()
    if settings.embedded:
        raise click.ClickException("set VERIFY_REDIS_URL: the embedded store lives in `serve` only")
    container = build_container(settings)
    # A command's connections close with it, not whenever the garbage collector runs.
    click.get_current_context().call_on_close(container.redis.close)
    return container


def cli_call(action: Callable[[], T]) -> T:
    try:
        return action()
    except NotFound:
        raise click.ClickException("no such service or block") from None
    except VerifyError as exc:
        raise click.ClickException(str(exc)) from None


def audit_cli(container: Container, action: str, target: str, outcome: str) -> None:
    if container.audit is not None:
        container.audit.append(
            AuditEntry(CLI_ACTOR, "admin", action, target, outcome, container.clock.now_ms())
        )

"""`service`: Verify Services."""

from __future__ import annotations

import json

import click

from verify_service.cli.common import audit_cli, load_settings, redis_container
from verify_service.domain.errors import VerifyError


@click.group()
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
    """Create a service and print it as JSON (the audit log records it, actor `cli`)."""
    settings = load_settings()
    if settings.embedded:
        raise click.ClickException(
            "set VERIFY_REDIS_URL: the embedded store lives inside the `serve` process"
        )
    container = redis_container()
    try:
        created = container.catalog.create(
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
        # No HTTP hook sees the CLI: the entry is written here, like keys' and users'.
        audit_cli(container, "services.create", "", "refused")
        raise click.ClickException(str(exc)) from None
    audit_cli(container, "services.create", created.sid, "ok")
    click.echo(
        json.dumps(
            {"sid": created.sid, "friendly_name": created.friendly_name, "code_length": code_length}
        )
    )

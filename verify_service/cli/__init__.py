"""`verify-service`: serve the API, run delivery workers, manage services, keys, console
users, Fraud Guard blocks and the audit log, and show the operator's routes. One module per
capability; this one assembles them."""

from __future__ import annotations

import click

from verify_service import __version__
from verify_service.cli import (
    access,
    audit,
    delivery,
    events,
    protection,
    routing,
    secrets,
    serve,
    services,
    staff,
    templates,
)
from verify_service.settings import KNOWN_VARIABLES


def _configuration_epilog() -> str:
    # `\b` keeps click from re-wrapping the list into one paragraph.
    names = "\n".join(f"  {name}" for name in sorted(KNOWN_VARIABLES))
    return (
        "Configuration comes only from these environment variables (README: Configuration); "
        "without VERIFY_REDIS_URL, `serve` runs on an embedded in-process store.\n\n"
        f"\b\n{names}"
    )


@click.group(epilog=_configuration_epilog())
@click.version_option(__version__, prog_name="verify-service")
def main() -> None:
    """Self-hosted one-time-code verification, speaking the Twilio Verify v2 API."""


main.add_command(serve.serve)
main.add_command(serve.worker)
main.add_command(serve.credentials)
main.add_command(services.service)
main.add_command(delivery.dead_letters)
main.add_command(protection.fraud_guard)
main.add_command(access.keys)
main.add_command(audit.audit)
main.add_command(staff.user)
main.add_command(secrets.secrets)
main.add_command(events.webhooks)
main.add_command(routing.routes)
main.add_command(templates.templates)

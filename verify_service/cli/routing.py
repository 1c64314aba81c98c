"""`routes`: the operator's routes (VERIFY_ROUTES_FILE), as services name them."""

from __future__ import annotations

import json

import click

from verify_service.cli.common import load_settings


@click.group()
def routes() -> None:
    """Show the routes of VERIFY_ROUTES_FILE (docs/providers.md, "Routes")."""


@routes.command("list")
def list_routes() -> None:
    """Print each route's name, sid, channels and WhatsApp senders as JSON lines (no secret).

    The sid is what a MessagingConfiguration's MessagingServiceSid or a service's
    Whatsapp.MsgServiceSid names; a route without `sid =` in the file has one derived from its
    name, stable across restarts and hosts.
    """
    settings = load_settings()
    book = settings.route_book()
    found = False
    for route in settings.routes.routes:
        found = True
        click.echo(
            json.dumps(
                {
                    "name": route.name,
                    "sid": route.sid,
                    "channels": [channel.value for channel, _ in route.providers],
                    "providers": {
                        channel.value: len(configs) for channel, configs in route.providers
                    },
                    "whatsapp_senders": sorted(book.routes[route.sid].whatsapp_senders),
                }
            )
        )
    if not found:
        click.echo("no routes (VERIFY_ROUTES_FILE is not set or lists none)", err=True)
    if book.whatsapp_senders:  # Whatsapp.From without Whatsapp.MsgServiceSid
        senders = " ".join(sorted(book.whatsapp_senders))
        click.echo(f"global WhatsApp senders (no Whatsapp.MsgServiceSid): {senders}", err=True)

"""`keys`: API keys and their roles."""

from __future__ import annotations

import functools
import json

import click

from verify_service.application.access.access import ROLES, Principal
from verify_service.application.access.api_keys import ApiKeys
from verify_service.cli.common import CLI_ACTOR, cli_call, load_settings, redis_container
from verify_service.domain.errors import NotFound, VerifyError
from verify_service.http.representations import twilio_time


@click.group()
def keys() -> None:
    """API keys (`SK…`): each acts for the account with one role (admin, backend, support)."""


def _api_keys() -> ApiKeys:
    container = redis_container()
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
    settings = load_settings()
    actor = Principal(settings.account_sid, CLI_ACTOR, "admin")
    created = cli_call(lambda: _api_keys().create(friendly_name, role, actor))
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
        found, more = cli_call(functools.partial(api_keys.list, page, 1000))
        if page == 0 and not found:
            click.echo("no API keys", err=True)
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
    settings = load_settings()
    actor = Principal(settings.account_sid, CLI_ACTOR, "admin")
    api_keys = _api_keys()
    try:
        api_keys.revoke(key_sid, actor)
    except NotFound:
        raise click.ClickException(f"no API key {key_sid}") from None
    except VerifyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {key_sid}")

"""`verify-service service create` leaves an audit entry, like `keys` and `user` do: no HTTP
hook sees the CLI, so the command writes it (actor `cli`, role `admin`)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from flask import Flask

from tests.conftest import Api
from verify_service.app import CONTAINER_KEY
from verify_service.cli import main


def services_entries(app: Flask) -> list[tuple[str, str, str, str, str]]:
    """The audit log's `services.*` entries, oldest first: (actor, role, action, target,
    outcome)."""
    records, _more = app.extensions[CONTAINER_KEY].audit.newest(100)
    return [
        (r.entry.actor, r.entry.role, r.entry.action, r.entry.target, r.entry.outcome)
        for r in reversed(records)
        if r.entry.action.startswith("services.")
    ]


def test_service_create_is_audited_with_the_new_sid(cli: CliRunner, app: Flask) -> None:
    """One `services.create` entry naming the service the command made."""
    result = cli.invoke(main, ["service", "create", "Acme"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    sid = json.loads(result.stdout)["sid"]
    assert services_entries(app) == [("cli", "admin", "services.create", sid, "ok")]


def test_a_refused_service_create_is_audited_as_refused(cli: CliRunner, app: Flask) -> None:
    """A name the rules refuse creates nothing, and the attempt is still on record."""
    result = cli.invoke(main, ["service", "create", "www.evil.example"])
    assert result.exit_code == 1
    assert services_entries(app) == [("cli", "admin", "services.create", "", "refused")]


def test_the_cli_entry_matches_what_the_api_records(cli: CliRunner, app: Flask, api: Api) -> None:
    """The same action name as a `POST /v2/Services` by an admin, so one filter finds both."""
    made = api.create_service(FriendlyName="Over HTTP")
    result = cli.invoke(main, ["service", "create", "From the CLI"], catch_exceptions=False)
    sid = json.loads(result.stdout)["sid"]
    actions = [(action, target) for _a, _r, action, target, _o in services_entries(app)]
    assert actions == [("services.create", made), ("services.create", sid)]

"""`verify-service keys create|list|revoke`, in-process (click's CliRunner) against the test
Redis, with the HTTP app beside it to show that what the CLI makes or revokes takes effect."""

from __future__ import annotations

import base64
import json
import os
import re

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api
from verify_service.app import CONTAINER_KEY
from verify_service.cli import main

_SID = re.compile(r"^sid\s*: (SK[0-9a-f]{32})$", re.MULTILINE)
_SECRET = re.compile(r"^secret\s*: (\S+)$", re.MULTILINE)


def invoke(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def created(result: Result) -> tuple[str, str]:
    assert result.exit_code == 0, result.output
    sid, secret = _SID.search(result.stdout), _SECRET.search(result.stdout)
    assert sid is not None
    assert secret is not None
    return sid.group(1), secret.group(1)


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_create_prints_the_sid_and_secret_once_and_the_key_works(
    cli: CliRunner, client: FlaskClient, api: Api
) -> None:
    sid, secret = created(invoke(cli, "keys", "create", "checkout backend", "--role", "backend"))
    assert len(secret) == 43
    assert client.get("/v2/Services", headers=basic(sid, secret)).status_code == 200
    assert client.post("/v2/Services", headers=basic(sid, secret)).status_code == 403
    fetched = api.get(f"/v2/Keys/{sid}").json
    assert fetched is not None
    assert (fetched["friendly_name"], fetched["role"]) == ("checkout backend", "backend")
    assert "secret" not in fetched


def test_list_prints_json_lines_oldest_first_and_never_a_secret(cli: CliRunner) -> None:
    first, first_secret = created(invoke(cli, "keys", "create", "one", "--role", "admin"))
    second, second_secret = created(invoke(cli, "keys", "create", "twö", "--role", "support"))
    result = invoke(cli, "keys", "list")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(k["sid"], k["friendly_name"], k["role"]) for k in lines] == [
        (first, "one", "admin"),
        (second, "twö", "support"),
    ]
    assert set(lines[0]) == {"sid", "friendly_name", "role", "date_created"}
    assert first_secret not in result.output
    assert second_secret not in result.output


def test_list_of_no_keys_prints_nothing(cli: CliRunner) -> None:
    result = invoke(cli, "keys", "list")
    assert result.exit_code == 0
    assert result.stdout == ""


def test_revoke_refuses_the_key_on_the_next_request(cli: CliRunner, client: FlaskClient) -> None:
    sid, secret = created(invoke(cli, "keys", "create", "temp", "--role", "admin"))
    assert client.get("/v2/Keys", headers=basic(sid, secret)).status_code == 200
    result = invoke(cli, "keys", "revoke", sid)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"revoked {sid}\n"
    assert client.get("/v2/Keys", headers=basic(sid, secret)).status_code == 401


@pytest.mark.parametrize("sid", ["SK" + "0" * 32, "not-a-sid"])
def test_revoke_of_no_such_key_fails(cli: CliRunner, sid: str) -> None:
    result = cli.invoke(main, ["keys", "revoke", sid])
    assert result.exit_code == 1
    assert "no API key" in result.output


def test_an_unknown_role_is_refused_before_anything_is_made(cli: CliRunner) -> None:
    result = cli.invoke(main, ["keys", "create", "x", "--role", "owner"])
    assert result.exit_code == 2
    assert "owner" in result.output
    assert invoke(cli, "keys", "list").stdout == ""


def test_the_embedded_store_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VERIFY_"):
            monkeypatch.delenv(name)
    result = CliRunner().invoke(main, ["keys", "list"])
    assert result.exit_code == 1
    assert "VERIFY_REDIS_URL" in result.output


def keys_entries(app: Flask) -> list[tuple[str, str, str, str, str]]:
    """The audit log's `keys.*` entries, oldest first: (actor, role, action, target, outcome)."""
    audit = app.extensions[CONTAINER_KEY].audit
    records, _more = audit.newest(100)
    return [
        (r.entry.actor, r.entry.role, r.entry.action, r.entry.target, r.entry.outcome)
        for r in reversed(records)
        if r.entry.action.startswith("keys.")
    ]


def test_cli_changes_are_audited_once_and_without_the_secret(cli: CliRunner, app: Flask) -> None:
    """No HTTP hook sees the CLI, so the use case appends the entries itself."""
    sid, secret = created(invoke(cli, "keys", "create", "ops", "--role", "support"))
    invoke(cli, "keys", "revoke", sid)
    cli.invoke(main, ["keys", "revoke", sid])
    assert keys_entries(app) == [
        ("cli", "admin", "keys.create", sid, "ok"),
        ("cli", "admin", "keys.revoke", sid, "ok"),
        ("cli", "admin", "keys.revoke", sid, "not_found"),
    ]
    audit = app.extensions[CONTAINER_KEY].audit
    assert all(secret not in repr(record) for record in audit.records())


def test_http_changes_are_audited_once(api: Api, app: Flask) -> None:
    """The audit hook records admin API calls; the use case adds no second entry."""
    made = api.post("/v2/Keys", Role="backend")
    sid = made.json["sid"]  # type: ignore[index]
    api.client.delete(f"/v2/Keys/{sid}", headers=api.headers)
    entries = keys_entries(app)
    assert [(action, target, outcome) for _a, _r, action, target, outcome in entries] == [
        ("keys.create", sid, "ok"),
        ("keys.revoke", sid, "ok"),
    ]

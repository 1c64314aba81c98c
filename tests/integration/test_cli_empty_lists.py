"""Empty lists say so: `dead-letters list`, `fraud-guard list`, `keys list` and `user list`
with nothing to show print a line on standard error (standard output stays empty JSON lines,
for scripts)."""

from __future__ import annotations

from click.testing import CliRunner

from tests.conftest import Api
from verify_service.cli import main


def test_empty_dead_letters_list_says_there_are_none(cli: CliRunner) -> None:
    """Exit 0, nothing on standard output, `no dead letters` on standard error."""
    result = cli.invoke(main, ["dead-letters", "list"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "no dead letters\n"


def test_empty_fraud_guard_list_says_there_are_none(cli: CliRunner, api: Api) -> None:
    """Exit 0, nothing on standard output, the service named on standard error."""
    service = api.create_service()
    result = cli.invoke(main, ["fraud-guard", "list", service], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == f"no Fraud Guard blocks or trips for {service}\n"


def test_empty_keys_and_users_lists_say_there_are_none(cli: CliRunner) -> None:
    """The same for API keys and console users."""
    keys = cli.invoke(main, ["keys", "list"], catch_exceptions=False)
    assert (keys.exit_code, keys.stdout, keys.stderr) == (0, "", "no API keys\n")
    users = cli.invoke(main, ["user", "list"], catch_exceptions=False)
    assert (users.exit_code, users.stdout, users.stderr) == (0, "", "no console users\n")


def test_a_list_with_entries_prints_no_empty_notice(cli: CliRunner) -> None:
    """The notice is for an empty list only."""
    cli.invoke(main, ["keys", "create", "one", "--role", "backend"], catch_exceptions=False)
    listed = cli.invoke(main, ["keys", "list"], catch_exceptions=False)
    assert listed.stdout.count("\n") == 1
    assert "no API keys" not in listed.stderr

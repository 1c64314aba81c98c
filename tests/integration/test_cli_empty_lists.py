"""Empty lists say so: `dead-letters list` and `fraud-guard list` with nothing to show print
a line on standard error (standard output stays empty JSON lines, for scripts)."""

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

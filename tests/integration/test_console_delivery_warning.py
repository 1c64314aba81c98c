"""The console provider's warning ("codes are written to standard output") comes from the
process that sends: `worker` (also `serve`'s child), never `serve --no-worker`, which sends
nothing. Run in-process through click, with the servers themselves stubbed at the edge."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from verify_service import delivery_runner, server
from verify_service.cli import main
from verify_service.cli import serve as serve_module

WARNING = "a channel delivers through the console provider"


class _NoServer:
    def __init__(self, *_args: object) -> None:
        pass

    def run(self) -> None:
        pass


@pytest.fixture
def quiet_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """No gunicorn, no worker loop, and the test's log capture left in place."""
    monkeypatch.setattr(server, "GunicornServer", _NoServer)
    monkeypatch.setattr(server, "ensure_can_listen", lambda *_: None)
    monkeypatch.setattr(serve_module, "configure_logging", lambda _settings: None)
    monkeypatch.setattr(delivery_runner, "run_until_signalled", lambda _container, **_options: None)


@pytest.mark.usefixtures("quiet_start")
def test_serve_without_a_worker_does_not_say_it_writes_codes(
    cli: CliRunner, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        result = cli.invoke(main, ["serve", "--no-worker", "--port", "18080"])
    assert result.exit_code == 0, result.output
    assert WARNING not in caplog.text


@pytest.mark.usefixtures("quiet_start")
def test_the_worker_says_it_writes_codes(cli: CliRunner, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        result = cli.invoke(main, ["worker"])
    assert result.exit_code == 0, result.output
    assert WARNING in caplog.text
    assert "standard output" in caplog.text

"""Misconfiguration is loud, through the real CLI: a Redis URL where nothing listens stops
the start naming host:port (never a password), a port in use stops it before any credential
is printed, and an unknown `VERIFY_*` name is a warning with the closest known name."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.support.processes import RedisServer, free_port, run_cli

PASSWORD = "not-in-any-log-4f9a"


def credentials(redis_url: str) -> dict[str, str]:
    return {
        "VERIFY_REDIS_URL": redis_url,
        "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
        "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
        "VERIFY_SECRET_KEY": SECRET_KEY,
        "VERIFY_REDIS_TIMEOUT_SECONDS": "0.5",
    }


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something else already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("command", [["serve", "--no-worker"], ["worker"]])
def test_a_redis_url_where_nothing_listens_stops_the_start_naming_host_and_port(
    command: list[str],
) -> None:
    """A well-formed URL to a closed port: the command exits at once, saying where it tried
    and never echoing the URL's password."""
    port = free_port()
    arguments = [*command, "--port", str(free_port())] if command[0] == "serve" else command
    env = credentials(f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
    result = run_cli(arguments, env, timeout_seconds=30)
    assert result.returncode != 0
    assert f"cannot reach Redis at 127.0.0.1:{port}" in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


def test_a_port_in_use_stops_the_start_before_the_banner(taken_port: int) -> None:
    """The embedded quickstart on a taken port: an error naming the address, and no banner
    with credentials that would never work."""
    result = run_cli(["serve", "--port", str(taken_port)], {}, timeout_seconds=30)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{taken_port}" in result.stderr
    assert "Auth token" not in result.stderr + result.stdout
    assert "Account SID" not in result.stderr + result.stdout


def test_a_port_in_use_stops_a_redis_backed_start_too(
    taken_port: int, redis_server: RedisServer
) -> None:
    """The same check with real Redis, before Redis is even asked."""
    result = run_cli(["serve", "--port", str(taken_port)], credentials(redis_server.url))
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{taken_port}" in result.stderr


def test_a_misspelt_variable_is_a_warning_naming_the_closest_known_one() -> None:
    """`VERIFY_REDIS_ULR` would silently select the embedded store: the CLI says so."""
    env = {"VERIFY_REDIS_ULR": "redis://127.0.0.1:6379/0", "VERIFY_FLAVOUR": "x"}
    result = run_cli(["credentials"], env)
    assert (
        "warning: unknown variable VERIFY_REDIS_ULR is ignored (did you mean VERIFY_REDIS_URL?)"
        in result.stderr
    )
    assert "warning: unknown variable VERIFY_FLAVOUR is ignored\n" in result.stderr

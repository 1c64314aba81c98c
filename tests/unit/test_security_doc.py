"""docs/security.md names a test for each defence: every test it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECURITY = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
NAMED = sorted(set(re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", SECURITY)))


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_the_document_names_tests() -> None:
    """The defences table is read (a change to its format would otherwise pass silently)."""
    assert len(NAMED) >= 15


@pytest.mark.parametrize(("path", "function"), NAMED, ids=lambda value: value or "-")
def test_each_named_test_exists(path: str, function: str) -> None:
    """A renamed or deleted test leaves no defence in the document without its proof."""
    file = REPO / path
    assert file.is_file(), f"docs/security.md names {path}, which does not exist"
    if function:
        assert function in _test_functions(file), f"{path} has no test {function}"

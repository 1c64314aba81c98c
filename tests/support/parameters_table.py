"""docs/parameters.md's table read as data: (operation, parameter) -> its row.

The unit test checks the table against openapi.yaml and Twilio's list; the refused-parameters
spec sends every row whose status is `refused`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "docs" / "parameters.md"

ROW = re.compile(
    r"^\| (?P<operation>[A-Z][A-Za-z]+) \| `(?P<parameter>[^`]+)` \| (?P<status>[a-z ]+) \|"
    r" (?P<what>[^|]+) \| (?P<tests>[^|]+) \|$",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Row:
    operation: str
    parameter: str
    status: str
    what: str
    tests: tuple[str, ...]


def rows() -> dict[tuple[str, str], Row]:
    found: dict[tuple[str, str], Row] = {}
    for match in ROW.finditer(DOCUMENT.read_text(encoding="utf-8")):
        key = (match["operation"], match["parameter"])
        if key in found:
            raise AssertionError(f"docs/parameters.md has two rows for {key}")
        found[key] = Row(
            match["operation"],
            match["parameter"],
            match["status"],
            match["what"].strip(),
            tuple(t.strip() for t in match["tests"].split("<br>")),
        )
    return found

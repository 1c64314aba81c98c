"""The README's fenced code blocks, so a test can run its commands as printed.

`blocks()` returns every fenced block with its language and line; `commands()` splits a
shell block into the commands a reader would paste one by one (a line ending in `\\`
continues onto the next; blank lines and whole-line comments are not commands).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import REPO

README = REPO / "README.md"
_FENCE = re.compile(r"^```(?P<language>[\w+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    language: str  # as written after the opening fence: "sh", "python", "text", ""
    text: str
    line: int  # the first line of the block's content, 1-based

    def where(self) -> str:
        return f"README.md:{self.line}"


def blocks(path: Path = README) -> list[Block]:
    found: list[Block] = []
    language: str | None = None
    start = 0
    lines: list[str] = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        fence = _FENCE.match(line)
        if language is None:
            if fence is not None:
                language, start, lines = fence["language"], number + 1, []
            continue
        if line.rstrip() == "```":
            found.append(Block(language, "\n".join(lines) + "\n", start))
            language = None
            continue
        lines.append(line)
    if language is not None:
        raise ValueError(f"{path.name}:{start}: a code block is never closed")
    return found


def blocks_in(*languages: str, path: Path = README) -> list[Block]:
    return [block for block in blocks(path) if block.language in languages]


def commands(block: Block) -> list[str]:
    """The block's commands, continuation lines joined as the shell joins them."""
    found: list[str] = []
    pending = ""
    for line in block.text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        found.append(pending + line)
        pending = ""
    if pending:
        raise ValueError(f"{block.where()}: the last command ends in a line continuation")
    return found

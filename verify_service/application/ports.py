"""The ports every capability shares; each capability keeps its own ports beside it
(`application/<capability>/ports.py`)."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...

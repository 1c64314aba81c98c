"""What a kind of long-lived value offers a rotation: a count by key id, and a reseal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# Called after each value looked at: (kind, values looked at so far).
Progress = Callable[[str, int], None]


@dataclass(slots=True)
class ResealCount:
    """What one reseal of one kind did. `unreadable`: values under a key not on the ring (or
    that cannot be re-MAC'd, such as an API key from before key ids that was never used
    since), left as they are; `raced`: values a concurrent writer changed first (a re-run
    picks them up)."""

    kind: str
    looked_at: int = 0
    resealed: int = 0
    already_primary: int = 0
    unreadable: int = 0
    raced: int = 0
    notes: list[str] = field(default_factory=list)


class Resealable(Protocol):
    """One kind of value that must outlive a key (API keys, the safe list, the outbox …)."""

    @property
    def kind(self) -> str: ...

    def key_ids(self) -> Counter[str]:
        """How many values each key id still holds (`k0`: from before key ids)."""
        ...

    def reseal(self, progress: Progress, now_ms: int) -> ResealCount:
        """Re-seal or re-MAC every value not under the primary; each replacement is a
        compare-and-set, so concurrent writers and an interrupted run are safe."""
        ...

"""Opt-in durability: `WAIT n timeout` after the state changes that matter (docs/durability.md).

Redis replicates asynchronously: a write the master answered may be missing from the replica
Sentinel promotes. `WAIT` (sent in the same pipeline as the script, so no extra round trip)
returns once `n` replicas acknowledged every write of this connection so far, or when the
timeout ends, with how many did. It is not strong consistency: the write happened on the
master whatever WAIT answers, and cannot be taken back.

When fewer replicas acknowledge than required, the answer is still given (the attempt is
counted, the approval made, on the master; a 503 would not undo them, and would make the
client retry a check that was already used). The shortfall is counted, and logged once when
it starts and once when replicas acknowledge again, with how many writes it covered.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class ReplicaWait:
    """How many replicas must acknowledge a durable write, and for how long to wait."""

    replicas: int
    timeout_ms: int
    # Durable writes answered with fewer acknowledgements than `replicas` (this process).
    shortfalls: int = 0
    _short_since: int | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def command(self) -> tuple[str, int, int]:
        return ("WAIT", self.replicas, self.timeout_ms)

    def acknowledged(self, replicas: int) -> None:
        """Record what one `WAIT` answered."""
        with self._lock:
            if replicas < self.replicas:
                self.shortfalls += 1
                starting = self._short_since is None
                if starting:
                    self._short_since = self.shortfalls - 1
                ended = None
            else:
                starting = False
                ended = None if self._short_since is None else self.shortfalls - self._short_since
                self._short_since = None
        if starting:
            log.warning(
                "only %d of the %d Redis replicas required acknowledged a durable write "
                "within %d ms; answering anyway (a failover now may lose it, see "
                "docs/durability.md)",
                replicas,
                self.replicas,
                self.timeout_ms,
            )
        elif ended is not None:
            log.warning(
                "Redis replicas acknowledge durable writes again; %d were answered with "
                "fewer acknowledgements than the %d required",
                ended,
                self.replicas,
            )

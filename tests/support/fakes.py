"""Fakes at the process edge, and a clock the tests move by hand."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from verify_service.domain.models import OutgoingMessage

# Voice messages spell the code digit by digit ("1, 2, 3"); text messages carry it whole.
_CODE = re.compile(r"verification code is: ([0-9A-Za-z]+(?:, [0-9A-Za-z])*)")
START_MS = 1_790_000_000_000  # 2026-09-21, a fixed "now" for deterministic dates


@dataclass
class FixedClock:
    """Time stands still until a test advances it."""

    now: int = START_MS

    def now_ms(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@dataclass
class RecordingSender:
    """Keeps every message a gateway would have received."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: OutgoingMessage) -> None:
        with self._lock:
            self.sent.append(message)

    def codes_for(self, verification_sid: str) -> list[str]:
        codes = []
        for message in self.sent:
            if message.verification_sid == verification_sid:
                match = _CODE.search(message.body)
                assert match is not None
                codes.append(match.group(1).replace(", ", ""))
        return codes

    def last_code(self, verification_sid: str) -> str:
        return self.codes_for(verification_sid)[-1]

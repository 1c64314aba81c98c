"""Fakes at the process edge, and a clock the tests move by hand."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from verify_service.domain.delivery.delivery import (
    DeliveryReceipt,
    DeliveryRequest,
    RenderedMessage,
)
from verify_service.domain.models import Channel

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


@dataclass(frozen=True)
class Delivered:
    """What a gateway received for one message."""

    to: str
    channel: Channel
    body: str
    locale: str
    service_sid: str
    verification_sid: str
    attempt_sid: str
    message: RenderedMessage


@dataclass
class RecordingSender:
    """A delivery provider at the process edge that keeps every message it was given."""

    sent: list[Delivered] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return "recording"

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        with self._lock:
            self.sent.append(
                Delivered(
                    to=request.to,
                    channel=request.message.channel,
                    body=request.message.text,
                    locale=request.message.locale,
                    service_sid=request.service_sid,
                    verification_sid=request.verification_sid,
                    attempt_sid=request.attempt_sid,
                    message=request.message,
                )
            )
        return DeliveryReceipt(self.name, f"rec-{len(self.sent)}")

    def as_providers(self) -> dict[Channel, list[RecordingSender]]:
        """This one recorder as the only provider of every channel."""
        return {channel: [self] for channel in Channel}

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

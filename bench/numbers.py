"""Distinct destination numbers that `phonenumbers.is_valid_number` accepts.

Not every 555 number is valid (+1 415 555 XXXX mostly is not), so the pool is a block of UK
mobile numbers, +44 7400 NNNNNN, whose whole range is checked here before any load is sent.
The load generator builds the number from a counter, so it sends no pool over the wire:
thread t sends PREFIX + (base + t * span + counter % span) as six digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

PREFIX = "+447400"
DIGITS = 6


@dataclass(frozen=True, slots=True)
class NumberBlock:
    """Numbers PREFIX + [base, base + threads * span), `span` of them per load thread."""

    base: int
    span: int
    threads: int

    @property
    def size(self) -> int:
        return self.span * self.threads

    def number(self, index: int) -> str:
        return f"{PREFIX}{self.base + index:0{DIGITS}d}"

    def for_thread(self, thread: int, counter: int) -> str:
        return self.number(thread * self.span + counter % self.span)

    def validate(self) -> None:
        if self.base + self.size > 10**DIGITS:
            raise ValueError("number block runs past the prefix's range")
        for index in range(self.size):
            text = self.number(index)
            if not phonenumbers.is_valid_number(phonenumbers.parse(text, None)):
                raise ValueError(f"{text} is not a valid number; choose another block")

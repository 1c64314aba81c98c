"""Reads what the console provider wrote: the one place a code appears."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Voice messages spell the code digit by digit ("1, 2, 3"); text messages carry it whole.
_CODE = re.compile(r"verification code is: ([0-9A-Za-z]+(?:, [0-9A-Za-z])*)")


@dataclass
class Outbox:
    path: Path

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text("utf-8").splitlines() if line]

    def messages_for(self, verification_sid: str) -> list[dict[str, Any]]:
        return [m for m in self.messages() if m["verification_sid"] == verification_sid]

    def codes_for(self, verification_sid: str) -> list[str]:
        codes = []
        for message in self.messages_for(verification_sid):
            match = _CODE.search(message["body"])
            assert match is not None, "a message without a code"
            codes.append(match.group(1).replace(", ", ""))
        return codes

    def last_code(self, verification_sid: str) -> str:
        return self.codes_for(verification_sid)[-1]

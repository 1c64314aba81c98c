"""Reads what the console provider wrote: the one place a code appears.

Delivery is asynchronous (a worker takes the message from the Redis outbox), so reads wait:
with a Redis client, until the outbox is drained (every queued message handled); without
one, until at least the expected number of messages for the verification has arrived.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from verify_service.adapters.redis_store.keys import OutboxKeys

# Voice messages spell the code digit by digit ("1, 2, 3"); text messages carry it whole.
_CODE = re.compile(r"verification code is: ([0-9A-Za-z]+(?:, [0-9A-Za-z])*)")
SHARDS = OutboxKeys("vs").every_shard  # the server's default prefix
WAIT_SECONDS = 10.0


@dataclass
class Outbox:
    path: Path
    redis: redis.Redis | None = None

    def drained(self) -> bool:
        """Nothing queued, delayed or in a worker's hands."""
        assert self.redis is not None
        pipe = self.redis.pipeline(transaction=False)
        for shard in SHARDS:
            pipe.xlen(shard.stream)
            pipe.zcard(shard.delayed)
        return not any(pipe.execute())

    def wait_until_drained(self) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.drained():
            assert time.monotonic() < deadline, "the outbox was not drained in time"
            time.sleep(0.01)

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text("utf-8").splitlines() if line]

    def messages_for(self, verification_sid: str, at_least: int = 0) -> list[dict[str, Any]]:
        if self.redis is not None:
            self.wait_until_drained()
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            found = [m for m in self.messages() if m["verification_sid"] == verification_sid]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    def codes_for(self, verification_sid: str, at_least: int = 1) -> list[str]:
        codes = []
        for message in self.messages_for(verification_sid, at_least):
            match = _CODE.search(message["body"])
            assert match is not None, "a message without a code"
            codes.append(match.group(1).replace(", ", ""))
        return codes

    def last_code(self, verification_sid: str) -> str:
        codes = self.codes_for(verification_sid)
        assert codes, f"no message for {verification_sid}"
        return codes[-1]

"""The `console` provider: one JSON object per message, appended to a file or stdout.

A development tool, and the one place a code is written out.
"""

from __future__ import annotations

import json
import os
import sys
import threading

from verify_service.domain.models import OutgoingMessage


class ConsoleSender:
    """Appends JSON lines; one `write` per line keeps lines whole across worker processes."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> None:
        line = json.dumps(
            {
                "to": message.to,
                "channel": message.channel.value,
                "body": message.body,
                "service_sid": message.service_sid,
                "verification_sid": message.verification_sid,
                "attempt_sid": message.attempt_sid,
                "locale": message.locale,
            },
            ensure_ascii=False,
        )
        data = (line + "\n").encode("utf-8")
        with self._lock:
            if self._path is None:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
                return
            descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, data)
            finally:
                os.close(descriptor)

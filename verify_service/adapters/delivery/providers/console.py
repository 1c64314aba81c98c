"""`console://`: the development provider, writing the JSON-lines outbox (all channels).

One JSON object per line: to, channel, body, service_sid, verification_sid, attempt_sid,
locale (the first cut's format, kept), then what the start chose (`channel_options`: `from`
is the e-mail's From on an e-mail, the service's Whatsapp.From on a WhatsApp message) and,
for an e-mail, its `subject` and `html` part (so that a developer sees the whole e-mail).
It is the one place a code is written out.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass
from typing import ClassVar

from verify_service.adapters.delivery.providers.dsn import Dsn, ProviderConfigError
from verify_service.adapters.delivery.providers.wire_encoding import (
    channel_options,
    email_parts,
    utf8,
)
from verify_service.domain.delivery.delivery import DeliveryReceipt, DeliveryRequest
from verify_service.domain.models import Channel


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """`console://`: no host, credentials or options; the file is `VERIFY_CONSOLE_OUTBOX`."""

    KIND: ClassVar[str] = "console"
    CHANNELS: ClassVar[frozenset[Channel]] = frozenset(Channel)

    @classmethod
    def from_dsn(cls, dsn: Dsn) -> ConsoleConfig:
        parts = (dsn.transport, dsn.user, dsn.password, dsn.host, dsn.port)
        if any(part is not None for part in parts) or dsn.path not in ("", "/") or dsn.options:
            raise ProviderConfigError("console:// takes no host, credentials or options")
        return cls()


class ConsoleProvider:
    """Appends one JSON line per message to `path` (None: standard output); one `write` per
    line keeps lines whole when several processes share the file."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "console"

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        data = self.encode(request)
        with self._lock:
            if self._path is None:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            else:
                descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(descriptor, data)
                finally:
                    os.close(descriptor)
        return DeliveryReceipt(provider=self.name, provider_message_id=None)

    def encode(self, request: DeliveryRequest) -> bytes:
        """The outbox line `deliver` appends, newline included."""
        message = request.message
        document = {
            "to": request.to,
            "channel": message.channel.value,
            "body": message.text,
            "service_sid": request.service_sid,
            "verification_sid": request.verification_sid,
            "attempt_sid": request.attempt_sid,
            "locale": message.locale,
            **channel_options(request),
            **email_parts(message),
        }
        return utf8(json.dumps(document, ensure_ascii=False) + "\n", self.name)

    def close(self) -> None:
        """Nothing to release; here so every provider can be closed the same way."""

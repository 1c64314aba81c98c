"""`webhook+https://host/path?secret=...`: a generic gateway for any channel.

POST JSON `{to, channel, body, locale, verification_sid, attempt_sid}` (plus
`status_callback_url` when the attempt has one; an e-mail's `subject` and `html`; `from` and
`from_name` when an e-mail's start chose them, `send_digits` when a call's start gave
`SendDigits`), signed:

    X-Verify-Timestamp: <unix seconds>
    X-Verify-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>

2xx is accepted (the receipt id is the reply's JSON `id`, if any); 408, 429, 5xx, timeouts and
connection errors are transient; any other status is permanent. A JSON `error_code` or `code`
in an error reply becomes the error code. See docs/providers.md.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from verify_service.adapters.delivery.providers.dsn import Dsn, ProviderConfigError, is_loopback
from verify_service.adapters.delivery.providers.http_transport import (
    HttpTransport,
    error_code_of,
    failure_for_status,
    json_object,
)
from verify_service.adapters.delivery.providers.wire_encoding import (
    channel_options,
    email_parts,
    json_body,
)
from verify_service.domain.delivery.delivery import DeliveryReceipt, DeliveryRequest
from verify_service.domain.models import Channel

SIGNATURE_HEADER = "X-Verify-Signature"
TIMESTAMP_HEADER = "X-Verify-Timestamp"
SIGNATURE_PREFIX = "sha256="
MIN_SECRET_LENGTH = 16  # characters; an HMAC key anyone could guess signs nothing
DEFAULT_TOLERANCE_SECONDS = 300  # how old a signed request may be before it is refused
_MAX_RECEIPT_ID_LENGTH = 128


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 keyed with the secret over `timestamp.body`."""
    signed = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_webhook_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now_seconds: float,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True for a signature made with `secret` over this body, at most `tolerance` old."""
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(now_seconds - int(timestamp)) > tolerance_seconds:
        return False
    expected = webhook_signature(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


@dataclass(frozen=True, slots=True, repr=False)
class WebhookConfig:
    """The gateway's URL (without the query, which carries the secret) and the secret."""

    KIND: ClassVar[str] = "webhook"
    CHANNELS: ClassVar[frozenset[Channel]] = frozenset(Channel)

    url: str
    secret: str
    timeout_seconds: float = 10.0

    @classmethod
    def from_dsn(cls, dsn: Dsn) -> WebhookConfig:
        if dsn.transport not in ("http", "https"):
            raise ProviderConfigError("write webhook+https://host/path (or webhook+http://)")
        if not dsn.host:
            raise ProviderConfigError("needs a host")
        if dsn.user is not None or dsn.password is not None:
            raise ProviderConfigError("takes no user:password; the secret= option signs requests")
        if dsn.transport == "http" and not is_loopback(dsn.host):
            raise ProviderConfigError("plain http is allowed only to a loopback host")
        dsn.check_options(allowed=("secret", "timeout"), required=("secret",))
        secret = str(dsn.option("secret"))
        if len(secret) < MIN_SECRET_LENGTH:
            raise ProviderConfigError(f"secret= must have at least {MIN_SECRET_LENGTH} characters")
        return cls(
            url=f"{dsn.transport}://{dsn.netloc()}{dsn.path or '/'}",
            secret=secret,
            timeout_seconds=dsn.timeout_seconds(),
        )

    def __repr__(self) -> str:
        return f"WebhookConfig(url={self.url!r})"


class WebhookProvider:
    def __init__(self, config: WebhookConfig, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._clock = clock
        # Host only: a path can carry a token of its own, and names go into logs.
        scheme, _, rest = config.url.partition("://")
        self._name = f"webhook+{scheme}://{rest.partition('/')[0]}"
        self._transport = HttpTransport(self._name, config.timeout_seconds)

    @property
    def name(self) -> str:
        return self._name

    @property
    def config(self) -> WebhookConfig:
        """Its configuration (receipts: adapters/delivery/receipts.py `receipt_sender`)."""
        return self._config

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        body = self.encode(request)
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: webhook_signature(self._config.secret, timestamp, body),
        }
        response = self._transport.post(self._config.url, body=body, headers=headers)
        payload = json_object(response)
        if not 200 <= response.status_code < 300:
            code = error_code_of(payload.get("error_code", payload.get("code")))
            raise failure_for_status(self._name, response.status_code, code)
        receipt_id = payload.get("id")
        if isinstance(receipt_id, bool) or not isinstance(receipt_id, str | int):
            return DeliveryReceipt(self._name, None)
        return DeliveryReceipt(self._name, str(receipt_id)[:_MAX_RECEIPT_ID_LENGTH])

    def encode(self, request: DeliveryRequest) -> bytes:
        """The signed JSON body `deliver` posts (the signature covers exactly these bytes)."""
        message = request.message
        document: dict[str, str | None] = {
            "to": request.to,
            "channel": message.channel.value,
            "body": message.text,
            "locale": message.locale,
            "verification_sid": request.verification_sid,
            "attempt_sid": request.attempt_sid,
            **channel_options(request),
            **email_parts(message),
        }
        if request.status_callback_url:
            document["status_callback_url"] = request.status_callback_url
        return json_body(document, self._name)

    def close(self) -> None:
        self._transport.close()

"""Delivery receipts, one checker per provider kind: where each provider posts them, how
their signature is verified, and how the provider's statuses map onto ours.

- Twilio (`StatusCallback`): `X-Twilio-Signature`, checked with the `twilio` library's
  `RequestValidator` and the auth token of the `twilio://` account that sent the attempt
  (below: its receipt sender).
- Vonage (DLR `callback`): Vonage's signed webhooks, a `sig` over the sorted parameters with
  the DSN's `signature_secret=`; no secret configured means Vonage receipts are refused.
- Webhook: the gateway signs its JSON receipt as we sign our requests (`X-Verify-Timestamp`,
  `X-Verify-Signature`) with the DSN's `secret=`.

One deployment may hold several accounts of one kind (the global lists and every route's):
the worker records with each sent attempt its *receipt sender*, a fingerprint of the account
that sent it (`receipt_sender`: kind, API base URL and account SID / API key / gateway URL;
never a secret), and its receipts are checked against the credentials of that account only.
Attempts recorded without one (before this) are checked against every account of the kind.

See docs/providers.md ("Delivery receipts").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from twilio.request_validator import RequestValidator

from verify_service.adapters.delivery.providers.twilio import TwilioConfig, TwilioProvider
from verify_service.adapters.delivery.providers.vonage import VonageConfig, VonageProvider
from verify_service.adapters.delivery.providers.webhook import (
    DEFAULT_TOLERANCE_SECONDS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookConfig,
    WebhookProvider,
    verify_webhook_signature,
)
from verify_service.application.delivery.delivery_receipts import (
    InboundReceipt,
    ReceiptChecker,
    ReceiptRejected,
    ReceiptUpdate,
)
from verify_service.application.delivery.ports import DeliveryProvider
from verify_service.domain.delivery.delivery import AttemptStatus
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.json_input import BODY, parse_json
from verify_service.domain.models import Channel

TWILIO, VONAGE, WEBHOOK = "Twilio", "Vonage", "Webhook"
RECEIPTS_PATH = "/v2/DeliveryReceipts"
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
VONAGE_TOLERANCE_SECONDS = 300  # a signed DLR's `timestamp` may be this far from our clock
_MAX_ID_LENGTH = 128

ConfigsFor = Callable[[Channel], tuple[object, ...]]
# The receipt sender of a provider that sends no receipts (console, SMTP): no config has it,
# so every receipt for such an attempt is refused.
NO_RECEIPTS = "none"
_SENDER_HEX_DIGITS = 16

_SENT, _DELIVERED = AttemptStatus.SENT, AttemptStatus.DELIVERED
_UNDELIVERED, _FAILED = AttemptStatus.UNDELIVERED, AttemptStatus.FAILED

# Twilio's MessageStatus (SMS, WhatsApp) and CallStatus values; None records nothing.
TWILIO_MESSAGE_STATUSES: dict[str, str | None] = {
    "queued": None,
    "accepted": None,
    "scheduled": None,
    "sending": _SENT,
    "sent": _SENT,
    "delivered": _DELIVERED,
    "read": _DELIVERED,
    "undelivered": _UNDELIVERED,
    "failed": _FAILED,
    "canceled": _FAILED,
}
TWILIO_CALL_STATUSES: dict[str, str | None] = {
    "queued": None,
    "initiated": _SENT,
    "ringing": _SENT,
    "in-progress": _SENT,
    "completed": _DELIVERED,
    "busy": _UNDELIVERED,
    "no-answer": _UNDELIVERED,
    "canceled": _FAILED,
    "failed": _FAILED,
}
# Vonage DLR `status` values.
VONAGE_STATUSES: dict[str, str | None] = {
    "accepted": _SENT,
    "buffered": _SENT,
    "delivered": _DELIVERED,
    "expired": _UNDELIVERED,
    "failed": _FAILED,
    "rejected": _FAILED,
    "unknown": None,
}
# The webhook kind's receipts use our own statuses.
WEBHOOK_STATUSES = frozenset({_SENT, _DELIVERED, _UNDELIVERED, _FAILED})


def receipt_kind(provider: DeliveryProvider) -> str | None:
    """The receipt endpoint's kind for a provider, or None when it sends no receipts."""
    if isinstance(provider, TwilioProvider):
        return TWILIO
    if isinstance(provider, VonageProvider):
        return VONAGE
    if isinstance(provider, WebhookProvider):
        return WEBHOOK
    return None


def sender_of_config(config: object) -> str | None:
    """The receipt sender of a config: a stable fingerprint of the account (kind, API base URL,
    account SID / API key / gateway URL), or None for a kind without receipts. Entries of one
    account (the same account in the global list and a route) share it: a holder of one
    account's credentials is never let in by another's."""
    match config:
        case TwilioConfig():
            identity = f"twilio\0{config.base_url}\0{config.account_sid}"
        case VonageConfig():
            identity = f"vonage\0{config.base_url}\0{config.api_key}"
        case WebhookConfig():
            identity = f"webhook\0{config.url}"
        case _:
            return None
    digest = hashlib.sha256(f"verify-service receipt sender\0{identity}".encode()).hexdigest()
    return digest[:_SENDER_HEX_DIGITS]


def receipt_sender(provider: DeliveryProvider) -> str:
    """The receipt sender the worker records with an attempt `provider` sent."""
    if isinstance(provider, TwilioProvider | VonageProvider | WebhookProvider):
        return sender_of_config(provider.config) or NO_RECEIPTS
    return NO_RECEIPTS


def _configs_of(
    configs_for: ConfigsFor, channel: Channel, sender: str | None, kind: type[Any]
) -> list[Any]:
    """The channel's configs of `kind`: only the sending account's when the attempt names it
    (`sender`), every one of them for an attempt recorded before senders were."""
    return [
        config
        for config in configs_for(channel)
        if isinstance(config, kind) and (sender is None or sender_of_config(config) == sender)
    ]


def receipt_url(public_url: str | None, provider: DeliveryProvider, attempt_sid: str) -> str | None:
    """`{VERIFY_PUBLIC_URL}/v2/DeliveryReceipts/<Kind>/<AttemptSid>`; None without a public
    URL (a provider cannot reach a host it does not know) or for a kind without receipts."""
    kind = receipt_kind(provider)
    if public_url is None or kind is None:
        return None
    return f"{public_url}{RECEIPTS_PATH}/{kind}/{attempt_sid}"


def _header(headers: Mapping[str, str], name: str) -> str:
    """`headers` has lower-case names (HTTP header names are case-insensitive)."""
    return headers.get(name.lower()) or ""


def _error_code(value: str | None) -> str | None:
    """A provider's error code, or None for none ("0" means no error at Vonage)."""
    if value is None or value.strip() in ("", "0"):
        return None
    return value.strip()[:_MAX_ID_LENGTH]


class TwilioReceipts:
    """`StatusCallback` requests: form fields signed with `X-Twilio-Signature`."""

    def __init__(self, configs_for: ConfigsFor) -> None:
        self._configs_for = configs_for

    def check(
        self, channel: Channel, receipt: InboundReceipt, now_ms: int, sender: str | None = None
    ) -> ReceiptUpdate:
        del now_ms  # Twilio's scheme has no timestamp
        signature = _header(receipt.headers, TWILIO_SIGNATURE_HEADER)
        if not signature:
            raise ReceiptRejected("no X-Twilio-Signature")
        params = receipt.params
        account = params.get("AccountSid")
        signed = any(
            (account is None or account == config.account_sid)
            and RequestValidator(config.auth_token).validate(receipt.url, params, signature)
            for config in _configs_of(self._configs_for, channel, sender, TwilioConfig)
        )
        if not signed:
            raise ReceiptRejected("X-Twilio-Signature does not match a twilio:// provider")
        if channel is Channel.CALL:
            status, message_id = params.get("CallStatus"), params.get("CallSid")
            statuses = TWILIO_CALL_STATUSES
        else:
            status, message_id = params.get("MessageStatus"), params.get("MessageSid")
            statuses = TWILIO_MESSAGE_STATUSES
        if status is None or message_id is None:
            raise ReceiptRejected(f"not a Twilio receipt for a {channel.value} attempt")
        return ReceiptUpdate(
            status=statuses.get(status.lower()),
            provider_message_id=message_id,
            error_code=_error_code(params.get("ErrorCode")),
        )


def vonage_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Vonage's signed-webhook `sig`: `&key=value` for every parameter but `sig`, sorted by
    key, with `&` and `=` in values replaced by `_`; then MD5 of that plus the secret
    (`md5hash`) or an HMAC keyed with the secret (`md5`, `sha1`, `sha256`, `sha512`).
    Lower-case hex."""
    signed = "".join(
        f"&{key}={value.replace('&', '_').replace('=', '_')}"
        for key, value in sorted(params.items())
        if key != "sig"
    ).encode("utf-8")
    if method == "md5hash":
        return hashlib.md5(signed + secret.encode("utf-8"), usedforsecurity=False).hexdigest()
    return hmac.new(secret.encode("utf-8"), signed, method).hexdigest()


class VonageReceipts:
    """SMS API delivery receipts (GET query, POST form or POST JSON), signed with `sig`."""

    def __init__(self, configs_for: ConfigsFor) -> None:
        self._configs_for = configs_for

    def check(
        self, channel: Channel, receipt: InboundReceipt, now_ms: int, sender: str | None = None
    ) -> ReceiptUpdate:
        params = receipt.params
        configs = [
            config
            for config in _configs_of(self._configs_for, channel, sender, VonageConfig)
            if config.signature_secret
        ]
        if not configs:
            raise ReceiptRejected("no vonage:// provider has a signature_secret")
        signature = params.get("sig", "").lower()
        timestamp = params.get("timestamp", "")
        if not signature or not timestamp.isascii() or not timestamp.isdigit():
            raise ReceiptRejected("no sig or timestamp")
        if abs(now_ms // 1000 - int(timestamp)) > VONAGE_TOLERANCE_SECONDS:
            raise ReceiptRejected("the timestamp is too far from our clock")
        api_key = params.get("api-key")
        signed = any(
            (api_key is None or api_key == config.api_key)
            and hmac.compare_digest(
                vonage_signature(
                    str(config.signature_secret), config.signature_method, params
                ).encode(),
                signature.encode("utf-8", "replace"),
            )
            for config in configs
        )
        if not signed:
            raise ReceiptRejected("sig does not match a vonage:// provider")
        # The signature does not cover our URL: the signed client-ref names the attempt.
        attempt_sid = params.get("client-ref")
        if not attempt_sid:
            raise ReceiptRejected("no client-ref")
        return ReceiptUpdate(
            status=VONAGE_STATUSES.get(params.get("status", "").lower()),
            provider_message_id=params.get("messageId"),
            error_code=_error_code(params.get("err-code")),
            attempt_sid=attempt_sid,
        )


class WebhookReceipts:
    """The webhook kind's receipts: a JSON object signed like our own requests."""

    def __init__(self, configs_for: ConfigsFor) -> None:
        self._configs_for = configs_for

    def check(
        self, channel: Channel, receipt: InboundReceipt, now_ms: int, sender: str | None = None
    ) -> ReceiptUpdate:
        timestamp = _header(receipt.headers, TIMESTAMP_HEADER)
        signature = _header(receipt.headers, SIGNATURE_HEADER)
        if not timestamp or not signature:
            raise ReceiptRejected("no X-Verify-Timestamp or X-Verify-Signature")
        signed = any(
            verify_webhook_signature(
                config.secret,
                timestamp,
                receipt.body,
                signature,
                now_seconds=now_ms / 1000,
                tolerance_seconds=DEFAULT_TOLERANCE_SECONDS,
            )
            for config in _configs_of(self._configs_for, channel, sender, WebhookConfig)
        )
        if not signed:
            raise ReceiptRejected("X-Verify-Signature does not match a webhook provider")
        document = _json_object(receipt.body)
        attempt_sid = document.get("attempt_sid")
        if not isinstance(attempt_sid, str):
            raise InvalidParameter("attempt_sid")
        status = document.get("status")
        if status not in WEBHOOK_STATUSES:
            raise InvalidParameter("status", "sent, delivered, undelivered or failed")
        message_id = document.get("provider_message_id")
        if message_id is not None and not isinstance(message_id, str):
            raise InvalidParameter("provider_message_id")
        error_code = document.get("error_code")
        if isinstance(error_code, bool) or not isinstance(error_code, str | int | None):
            raise InvalidParameter("error_code")
        return ReceiptUpdate(
            status=str(status),
            provider_message_id=message_id,
            error_code=_error_code(None if error_code is None else str(error_code)),
            attempt_sid=attempt_sid,
        )


def _json_object(body: bytes) -> dict[str, Any]:
    """The signed body as a JSON object: read as every caller's JSON is (a key given twice
    is refused, as another reader of the same signed bytes could take the other value)."""
    document = parse_json(body, BODY)
    if not isinstance(document, dict):
        raise InvalidParameter("body", "a JSON object is required")
    return document


def receipt_checkers(configs_for: ConfigsFor) -> dict[str, ReceiptChecker]:
    """Every kind's checker over `configs_for(channel)`: every config that may have sent a
    message of the channel (`Settings.receipt_providers_for`: the global list's and every
    route's), of which each receipt is checked against the sending account's only (the
    attempt's receipt sender; every one of the kind for an attempt recorded without one)."""
    return {
        TWILIO: TwilioReceipts(configs_for),
        VONAGE: VonageReceipts(configs_for),
        WEBHOOK: WebhookReceipts(configs_for),
    }

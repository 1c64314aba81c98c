"""`vonage://key:secret@default?from=...`: SMS through Vonage's SMS API.

POST {base}/sms/json, form-encoded: api_key, api_secret, from, to (international digits
without `+`), text, `type=unicode` when the text leaves the GSM-7 alphabet, `client-ref`
(the attempt sid, echoed in delivery receipts) and `callback` when a status URL is given.

Vonage answers HTTP 200 with a status per message part; "0" is success. Statuses, from
Vonage's SMS API reference ("Response codes"), classified:
- transient (retry on the same provider): 1 Throttled, 5 Internal Error;
- permanent (move on): every other status, among them 2 Missing Parameters, 3 Invalid
  Parameters, 4 Invalid Credentials, 6 Invalid Message (unroutable number), 7 Number Barred,
  8 Partner Account Barred, 9 Partner Quota Violation (no credit), 10 Too Many Existing Binds,
  11 Account Not Enabled For HTTP, 12 Message Too Long, 14 Invalid Signature, 15 Invalid
  Sender Address, 22 Invalid Network Code, 23 Invalid Callback Url, 29 Non-Whitelisted
  Destination, 32 Signature And API Secret Disallowed, 33 Number De-activated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from verify_service.adapters.delivery.providers.dsn import Dsn, ProviderConfigError, http_base_url
from verify_service.adapters.delivery.providers.http_transport import (
    HttpTransport,
    error_code_of,
    failure_for_status,
    json_object,
)
from verify_service.adapters.delivery.providers.wire_encoding import FORM_CONTENT_TYPE, form_body
from verify_service.domain.delivery.delivery import (
    DeliveryReceipt,
    DeliveryRequest,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from verify_service.domain.messages.sms_encoding import is_gsm7, sms_wire_text
from verify_service.domain.models import Channel

VONAGE_API_URL = "https://rest.nexmo.com"
ACCEPTED = "0"
TRANSIENT_STATUSES = frozenset({"1", "5"})
# Vonage's signed-webhook methods (dashboard: "MD5 hash", "MD5/SHA1/SHA-256/SHA-512 HMAC").
SIGNATURE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")
DEFAULT_SIGNATURE_METHOD = "sha256"

# GSM 03.38 default alphabet and its extension table (each extension character costs two
# septets, but any of them keeps the message in GSM-7, so `type=text` is right).


@dataclass(frozen=True, slots=True, repr=False)
class VonageConfig:
    """A Vonage API key and secret, and the sender (a number or an alphanumeric id)."""

    KIND: ClassVar[str] = "vonage"
    CHANNELS: ClassVar[frozenset[Channel]] = frozenset({Channel.SMS})

    api_key: str
    api_secret: str
    sender: str
    base_url: str = VONAGE_API_URL
    timeout_seconds: float = 10.0
    # Checks the `sig` of signed delivery receipts (none: Vonage receipts are refused).
    signature_secret: str | None = None
    signature_method: str = DEFAULT_SIGNATURE_METHOD

    @classmethod
    def from_dsn(cls, dsn: Dsn) -> VonageConfig:
        dsn.check_options(
            allowed=("from", "timeout", "signature_secret", "signature_method"), required=("from",)
        )
        dsn.check_no_path()
        api_key, api_secret = dsn.credentials("the API key and secret")
        method = dsn.option("signature_method") or DEFAULT_SIGNATURE_METHOD
        if method not in SIGNATURE_METHODS:
            raise ProviderConfigError(
                f"signature_method= must be one of {', '.join(SIGNATURE_METHODS)}"
            )
        return cls(
            api_key=api_key,
            api_secret=api_secret,
            sender=str(dsn.option("from")),
            base_url=http_base_url(dsn, VONAGE_API_URL),
            timeout_seconds=dsn.timeout_seconds(),
            signature_secret=dsn.option("signature_secret") or None,
            signature_method=method,
        )

    def __repr__(self) -> str:
        return f"VonageConfig(base_url={self.base_url!r}, sender={self.sender!r})"


class VonageProvider:
    def __init__(self, config: VonageConfig) -> None:
        self._config = config
        default = config.base_url == VONAGE_API_URL
        self._name = "vonage" if default else f"vonage+{config.base_url}"
        self._transport = HttpTransport(self._name, config.timeout_seconds)

    @property
    def name(self) -> str:
        return self._name

    @property
    def config(self) -> VonageConfig:
        """Its configuration (receipts: adapters/delivery/receipts.py `receipt_sender`)."""
        return self._config

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        body = self.encode(request)
        response = self._transport.post(
            f"{self._config.base_url}/sms/json",
            body=body,
            headers={"Content-Type": FORM_CONTENT_TYPE},
        )
        if not 200 <= response.status_code < 300:
            raise failure_for_status(self._name, response.status_code, None)
        return self._receipt(json_object(response))

    def encode(self, request: DeliveryRequest) -> bytes:
        """The form body `deliver` posts to /sms/json (it carries the API secret)."""
        message = request.message
        if message.channel not in VonageConfig.CHANNELS:
            raise PermanentDeliveryError(
                f"{self._name} cannot deliver {message.channel.value} messages"
            )
        form = {
            "api_key": self._config.api_key,
            "api_secret": self._config.api_secret,
            "from": self._config.sender.removeprefix("+"),
            "to": request.to.removeprefix("+"),
            "text": sms_wire_text(message.text),
            "client-ref": request.attempt_sid,
        }
        if not is_gsm7(form["text"]):
            form["type"] = "unicode"
        if request.status_callback_url:
            form["callback"] = request.status_callback_url
        return form_body(form, self._name)

    def close(self) -> None:
        self._transport.close()

    def _receipt(self, payload: dict[str, object]) -> DeliveryReceipt:
        parts = payload.get("messages")
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
            # We cannot tell whether it was sent; a duplicate beats a lost code.
            raise TransientDeliveryError(f"{self._name} sent an unreadable reply")
        for part in parts:
            status = error_code_of(part.get("status"))
            if status == ACCEPTED:
                continue
            reason = f"{self._name} rejected the message (status {status})"
            if status in TRANSIENT_STATUSES:
                raise TransientDeliveryError(reason, status)
            raise PermanentDeliveryError(reason, status)
        message_id = parts[0].get("message-id")
        return DeliveryReceipt(self._name, message_id if isinstance(message_id, str) else None)

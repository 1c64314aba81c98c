"""`twilio://ACsid:token@default?from=...`: SMS and WhatsApp through Twilio's Messages API,
voice through its Calls API with TwiML from the `twilio` library's `VoiceResponse`.

Requests: POST {base}/2010-04-01/Accounts/{AC}/Messages.json (To, From, Body,
StatusCallback) and …/Calls.json (To, From, Twiml, SendDigits, StatusCallback), HTTP
basic auth AC:token.
Errors carry Twilio's `code` (e.g. 21211 invalid 'To' number, 20003 authentication).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from twilio.twiml.voice_response import VoiceResponse

from verify_service.adapters.delivery.providers.dsn import Dsn, ProviderConfigError, http_base_url
from verify_service.adapters.delivery.providers.http_transport import (
    HttpTransport,
    error_code_of,
    failure_for_status,
    json_object,
)
from verify_service.adapters.delivery.providers.wire_encoding import (
    FORM_CONTENT_TYPE,
    form_body,
    xml_document,
)
from verify_service.domain.delivery.delivery import (
    DeliveryReceipt,
    DeliveryRequest,
    PermanentDeliveryError,
    RenderedMessage,
)
from verify_service.domain.messages.sms_encoding import sms_wire_text
from verify_service.domain.models import Channel

TWILIO_API_URL = "https://api.twilio.com"
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_PAUSE_SECONDS = 1


@dataclass(frozen=True, slots=True, repr=False)
class TwilioConfig:
    """A Twilio account, its sender (a number, or an `MG…` Messaging Service for texts)."""

    KIND: ClassVar[str] = "twilio"
    CHANNELS: ClassVar[frozenset[Channel]] = frozenset(
        {Channel.SMS, Channel.CALL, Channel.WHATSAPP}
    )

    account_sid: str
    auth_token: str
    sender: str
    base_url: str = TWILIO_API_URL
    timeout_seconds: float = 10.0

    @classmethod
    def from_dsn(cls, dsn: Dsn) -> TwilioConfig:
        dsn.check_options(allowed=("from", "timeout"), required=("from",))
        dsn.check_no_path()
        account_sid, auth_token = dsn.credentials("the account SID and auth token")
        if not _ACCOUNT_SID.fullmatch(account_sid):
            raise ProviderConfigError("the user part must be an account SID (AC + 32 hex digits)")
        return cls(
            account_sid=account_sid,
            auth_token=auth_token,
            sender=str(dsn.option("from")),
            base_url=http_base_url(dsn, TWILIO_API_URL),
            timeout_seconds=dsn.timeout_seconds(),
        )

    def __repr__(self) -> str:
        return f"TwilioConfig(base_url={self.base_url!r}, sender={self.sender!r})"


def spoken_twiml(message: RenderedMessage) -> str:
    """`<Say>` the text, a one-second `<Pause>`, and `<Say>` it again, in the voice language."""
    language = message.voice_language or message.locale
    response = VoiceResponse()
    response.say(message.text, language=language)
    response.pause(length=_PAUSE_SECONDS)
    response.say(message.text, language=language)
    return str(response)


class TwilioProvider:
    def __init__(self, config: TwilioConfig) -> None:
        self._config = config
        default = config.base_url == TWILIO_API_URL
        self._name = "twilio" if default else f"twilio+{config.base_url}"
        self._transport = HttpTransport(self._name, config.timeout_seconds)
        self._account_url = f"{config.base_url}/2010-04-01/Accounts/{config.account_sid}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def config(self) -> TwilioConfig:
        """Its configuration (receipts: adapters/delivery/receipts.py `receipt_sender`)."""
        return self._config

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        url, body = self._url(request), self.encode(request)
        response = self._transport.post(
            url,
            body=body,
            headers={"Content-Type": FORM_CONTENT_TYPE},
            auth=(self._config.account_sid, self._config.auth_token),
        )
        payload = json_object(response)
        if not 200 <= response.status_code < 300:
            code = error_code_of(payload.get("code"))
            raise failure_for_status(self._name, response.status_code, code)
        sid = payload.get("sid")
        return DeliveryReceipt(self._name, sid if isinstance(sid, str) else None)

    def encode(self, request: DeliveryRequest) -> bytes:
        """The form body `deliver` posts (Messages.json or Calls.json)."""
        channel = request.message.channel
        if channel not in TwilioConfig.CHANNELS:
            raise PermanentDeliveryError(f"{self._name} cannot deliver {channel.value} messages")
        if channel is Channel.CALL:
            form = {
                "To": request.to,
                "From": self._config.sender,
                "Twiml": xml_document(spoken_twiml(request.message), self._name),
            }
            if request.message.send_digits:  # the start's SendDigits: dialled on answer
                form["SendDigits"] = request.message.send_digits
        else:
            form = self._message_form(request)
        if request.status_callback_url:
            form["StatusCallback"] = request.status_callback_url
        return form_body(form, self._name)

    def _url(self, request: DeliveryRequest) -> str:
        resource = "Calls" if request.message.channel is Channel.CALL else "Messages"
        return f"{self._account_url}/{resource}.json"

    def close(self) -> None:
        self._transport.close()

    def _message_form(self, request: DeliveryRequest) -> dict[str, str]:
        whatsapp = request.message.channel is Channel.WHATSAPP
        form = {
            "To": _whatsapp(request.to) if whatsapp else request.to,
            # SMS: typographic look-alikes swapped when that keeps the text GSM-7 (half the
            # parts); WhatsApp carries Unicode as it is.
            "Body": request.message.text if whatsapp else sms_wire_text(request.message.text),
        }
        # A service's Whatsapp.From names the sender over the DSN's from= (checked against
        # the senders the operator allows when the service was saved).
        sender = (request.whatsapp_sender if whatsapp else None) or self._config.sender
        if _MESSAGING_SERVICE_SID.fullmatch(sender):
            form["MessagingServiceSid"] = sender
        else:
            form["From"] = _whatsapp(sender) if whatsapp else sender
        return form


def _whatsapp(address: str) -> str:
    return address if address.startswith("whatsapp:") else f"whatsapp:{address}"

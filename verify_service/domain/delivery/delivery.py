"""What a delivery provider receives and answers. Providers live in `adapters/delivery/`."""

from __future__ import annotations

from dataclasses import dataclass

from verify_service.domain.models import Channel


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A message in its final words, ready for a provider. Carries the code: never log it.

    `text` is the SMS/WhatsApp body, the e-mail's plain-text part, or for a call the
    sentence to speak (digits already separated); `subject` and `html` are e-mail only;
    `voice_language` is the BCP-47 tag a text-to-speech engine should use.
    `sender` and `sender_name` (e-mail only) are the start's `ChannelConfiguration.from` and
    `from_name`, already checked (the operator's `VERIFY_EMAIL_SENDERS`, the name rules);
    `send_digits` (calls only) are the start's `SendDigits`, dialled once the call connects.
    """

    channel: Channel
    locale: str
    text: str
    subject: str | None = None
    html: str | None = None
    voice_language: str | None = None
    sender: str | None = None
    sender_name: str | None = None
    send_digits: str | None = None

    def __repr__(self) -> str:
        return f"RenderedMessage(channel={self.channel.value!r}, locale={self.locale!r})"


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    """One attempt to deliver one message through one provider."""

    to: str
    message: RenderedMessage
    service_sid: str
    verification_sid: str
    attempt_sid: str
    status_callback_url: str | None = None
    # The WhatsApp sender to name instead of the provider's `from=` (a service's
    # Whatsapp.From; WhatsApp only). The e-mail's From is `message.sender`.
    whatsapp_sender: str | None = None

    def __repr__(self) -> str:
        return (
            f"DeliveryRequest(channel={self.message.channel.value!r}, "
            f"attempt_sid={self.attempt_sid!r})"
        )


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """A provider accepted the message; its id lets delivery receipts find the attempt."""

    provider: str
    provider_message_id: str | None


class DeliveryError(Exception):
    """A provider did not accept the message. `error_code` is the provider's, if any."""

    def __init__(self, reason: str, error_code: str | None = None) -> None:
        self.reason = reason
        self.error_code = error_code
        super().__init__(reason)


class TransientDeliveryError(DeliveryError):
    """Worth retrying on the same provider: timeout, connection error, 5xx, 429."""


class PermanentDeliveryError(DeliveryError):
    """Retrying on the same provider cannot help (invalid number, other 4xx)."""


class AttemptStatus:
    """Delivery statuses of one send attempt (Twilio's message statuses)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """One queued message: which attempt, where it stands in the provider list, and the
    message itself (sealed at rest: it carries the code)."""

    attempt_sid: str
    verification_sid: str
    service_sid: str
    verification_tag: str
    to: str
    message: RenderedMessage
    enqueued_ms: int
    provider_index: int = 0
    try_number: int = 0
    job_id: str = ""  # the queue's id for this delivery (set by the queue)
    deliveries: int = 1  # how often the queue handed this entry to a worker (reclaims + 1)
    # The operator's route (`MG…` sid) whose provider list delivers it; None: the global
    # list of the channel (docs/messages.md, "Routing by country"). Jobs queued before
    # routes existed have neither field.
    route_sid: str | None = None
    # The service's Whatsapp.From (WhatsApp only), named instead of the provider's `from=`
    # when the sending list allows it; the e-mail's From is `message.sender`. Sealed as
    # `wa_from` (adapters/redis_store/delivery/delivery_queue.py).
    whatsapp_sender: str | None = None

    def __repr__(self) -> str:
        return (
            f"DeliveryJob(attempt_sid={self.attempt_sid!r}, provider_index={self.provider_index},"
            f" try_number={self.try_number})"
        )

"""The ports the delivery worker depends on: the providers."""

from __future__ import annotations

from typing import Protocol

from verify_service.domain.delivery.delivery import DeliveryReceipt, DeliveryRequest


class DeliveryProvider(Protocol):
    """One configured gateway (a DSN entry). Raises `TransientDeliveryError` or
    `PermanentDeliveryError` when it does not accept the message."""

    @property
    def name(self) -> str:
        """A display name without secrets, e.g. `twilio` or `smtp://mail.example.com`."""
        ...

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt: ...

"""Delivery status of send attempts: provider delivery receipts (verified by the provider's
signature, then recorded forward only) and the per-attempt status the support console reads.

A receipt changes nothing unless its attempt was sent, its signature checks out against the
credentials of the account that sent the attempt (the receipt sender the worker recorded with
it; for an attempt recorded before that, any configured provider of the receipt's kind for
the attempt's channel), it names this attempt, and its provider message id is the one stored
for the attempt (when one is stored). Statuses only move forward (the Redis script
refuses the rest), so a replayed or late receipt is harmless.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from verify_service.application.events.publisher import EventPublisher
from verify_service.application.ports import Clock
from verify_service.domain import sids
from verify_service.domain.delivery.delivery import AttemptStatus
from verify_service.domain.errors import NotFound, VerifyError
from verify_service.domain.events.event_types import EventType
from verify_service.domain.events.events import delivery_event
from verify_service.domain.models import Channel, Verification

log = logging.getLogger(__name__)

RECORDED_STATUSES = frozenset(
    {AttemptStatus.SENT, AttemptStatus.DELIVERED, AttemptStatus.UNDELIVERED, AttemptStatus.FAILED}
)


# Receipts that say the message will not arrive.
UNDELIVERED_STATUSES = frozenset({AttemptStatus.UNDELIVERED, AttemptStatus.FAILED})


class ReceiptRejected(VerifyError):
    """A delivery receipt is unsigned, badly signed, or not about this attempt: nothing
    was changed. `reason` is for the log, never for the caller."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class InboundReceipt:
    """A receipt request as it reached us: what a checker needs to verify its signature.

    `url` is the URL the provider called (our public URL, path and query); `params` the
    form fields, query arguments or flat JSON object the provider sent, by kind; `headers`
    with lower-case names.
    """

    url: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class ReceiptUpdate:
    """What a verified receipt says. `status` is ours (None: an intermediate provider status
    that records nothing); `attempt_sid` is the attempt the signed content names, if any."""

    status: str | None
    provider_message_id: str | None = None
    error_code: str | None = None
    attempt_sid: str | None = None


class ReceiptChecker(Protocol):
    """One provider kind's receipts (adapters/delivery/receipts.py)."""

    def check(
        self, channel: Channel, receipt: InboundReceipt, now_ms: int, sender: str | None = None
    ) -> ReceiptUpdate:
        """Verify the signature against the channel's providers of this kind (only those of
        the account `sender` names, when given) and read the receipt; raise `ReceiptRejected`
        (signature) or `InvalidParameter` (signed but unreadable)."""
        ...


class AttemptStatusStore(Protocol):
    def attempt_status(self, attempt_sid: str) -> dict[str, str]: ...

    def record_status(
        self,
        attempt_sid: str,
        status: str,
        now_ms: int,
        provider: str = "",
        provider_message_id: str = "",
        error_code: str = "",
        sender: str = "",
        route_sid: str = "",
    ) -> bool: ...


class LiveVerifications(Protocol):
    def fetch(self, service_sid: str, verification_sid: str) -> Verification: ...


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One send attempt's delivery status (never its destination or message)."""

    attempt_sid: str
    verification_sid: str | None
    service_sid: str | None
    channel: str | None
    status: str
    provider: str | None
    provider_message_id: str | None
    error_code: str | None
    created_ms: int | None
    updated_ms: int | None
    sent_ms: int | None
    delivered_ms: int | None
    messaging_service_sid: str | None = None  # the route that sent it (None: global list)

    @classmethod
    def from_fields(cls, attempt_sid: str, fields: Mapping[str, str]) -> AttemptRecord:
        def millis(name: str) -> int | None:
            value = fields.get(name, "")
            return int(value) if value.isdigit() else None

        return cls(
            attempt_sid=attempt_sid,
            verification_sid=fields.get("ve") or None,
            service_sid=fields.get("va") or None,
            channel=fields.get("ch") or None,
            status=fields.get("status") or AttemptStatus.QUEUED,
            provider=fields.get("provider") or None,
            provider_message_id=fields.get("pmid") or None,
            error_code=fields.get("err") or None,
            created_ms=millis("ca"),
            updated_ms=millis("ua"),
            sent_ms=millis(f"t_{AttemptStatus.SENT}"),
            delivered_ms=millis(f"t_{AttemptStatus.DELIVERED}"),
            messaging_service_sid=fields.get("mg") or None,
        )


class DeliveryAttempts:
    """Read attempts' delivery status, and accept providers' delivery receipts."""

    def __init__(
        self,
        store: AttemptStatusStore,
        verifications: LiveVerifications,
        checkers: Mapping[str, ReceiptChecker],
        clock: Clock,
        on_delivery_failed: Callable[[str, str, str, int], None] | None = None,
        events: EventPublisher | None = None,
    ) -> None:
        """`on_delivery_failed(service_sid, verification_sid, attempt_sid, now_ms)` runs when
        a receipt says the message did not arrive (channel fallback goes at once)."""
        self._store = store
        self._verifications = verifications
        self._checkers = checkers
        self._clock = clock
        self._on_delivery_failed = on_delivery_failed
        self._events = events

    def get(self, attempt_sid: str) -> AttemptRecord:
        """One attempt, while its record lives (the attempt retention from its creation, until
        its day's history bucket expires)."""
        fields = self._fields(attempt_sid)
        return AttemptRecord.from_fields(attempt_sid, fields)

    def of_verification(self, service_sid: str, verification_sid: str) -> list[AttemptRecord]:
        """Every send attempt of a live verification, in send order."""
        verification = self._verifications.fetch(service_sid, verification_sid)
        records = []
        for attempt in verification.send_attempts:
            fields = self._store.attempt_status(attempt.sid)
            if fields.get("status"):
                records.append(AttemptRecord.from_fields(attempt.sid, fields))
        return records

    def accept_receipt(self, kind: str, attempt_sid: str, receipt: InboundReceipt) -> None:
        """Verify a `kind` receipt for the attempt and record the status it reports."""
        fields = self._fields(attempt_sid)
        checker = self._checkers.get(kind)
        if checker is None:
            raise NotFound
        try:
            channel = Channel(fields.get("ch", ""))
        except ValueError:
            raise NotFound from None
        now_ms = self._clock.now_ms()
        stored_id = fields.get("pmid", "")
        try:
            if fields.get("status") == AttemptStatus.QUEUED:
                # Not sent (yet): no provider has it, though one that failed to send it
                # (failover) or one it was sent to before a requeue knows its sid.
                raise ReceiptRejected("the attempt was not sent")
            update = checker.check(channel, receipt, now_ms, fields.get("rs"))
            if update.attempt_sid is not None and update.attempt_sid != attempt_sid:
                raise ReceiptRejected("the receipt names another attempt")
            received_id = update.provider_message_id
            if (
                stored_id
                and received_id is not None
                and not hmac.compare_digest(stored_id.encode("utf-8"), received_id.encode("utf-8"))
            ):
                raise ReceiptRejected("the receipt is about another provider message")
        except ReceiptRejected as exc:
            log.warning("attempt %s: %s receipt refused: %s", attempt_sid, kind, exc.reason)
            raise
        if update.status is None or update.status not in RECORDED_STATUSES:
            log.info("attempt %s: %s receipt with nothing to record", attempt_sid, kind)
            return
        recorded = self._store.record_status(
            attempt_sid,
            update.status,
            now_ms,
            provider_message_id="" if stored_id else (update.provider_message_id or ""),
            error_code=update.error_code or "",
        )
        log.info("attempt %s: %s receipt, status %s", attempt_sid, kind, update.status)
        if recorded:
            self._emit(fields, attempt_sid, update, now_ms)
        # Only a receipt that changed the status acts: a replayed one (refused by the
        # forward-only script) must not hurry the fallback again.
        if (
            recorded
            and update.status in UNDELIVERED_STATUSES
            and self._on_delivery_failed is not None
        ):
            self._on_delivery_failed(
                fields.get("va", ""), fields.get("ve", ""), attempt_sid, now_ms
            )

    def _emit(
        self, fields: Mapping[str, str], attempt_sid: str, update: ReceiptUpdate, now_ms: int
    ) -> None:
        """delivery.delivered, or delivery.failed for a receipt that says it did not arrive
        (a receipt's record holds no destination: its events carry none)."""
        events = self._events
        if events is None:
            return
        if update.status == AttemptStatus.DELIVERED:
            event_type = EventType.DELIVERY_DELIVERED
        elif update.status in UNDELIVERED_STATUSES:
            event_type = EventType.DELIVERY_FAILED
        else:
            return
        service_sid = fields.get("va", "")
        events.emit(
            service_sid,
            event_type,
            lambda: delivery_event(
                event_type,
                events.account_sid,
                service_sid,
                fields.get("ve", ""),
                attempt_sid,
                fields.get("ch", ""),
                "",
                None,
                now_ms,
                provider=fields.get("provider") or None,
                # No code from the provider: its receipt's word (`undelivered`, `failed`).
                error_code=update.error_code
                or (update.status if event_type is EventType.DELIVERY_FAILED else None),
            ),
        )

    def _fields(self, attempt_sid: str) -> dict[str, str]:
        if not sids.is_sid(attempt_sid, "VL"):
            raise NotFound
        fields = self._store.attempt_status(attempt_sid)
        if not fields.get("status"):
            raise NotFound
        return fields

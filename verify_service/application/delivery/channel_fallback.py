"""Automatic channel fallback (verify-service extension): runs the steps that are due.

A start on a service with `fallback_channels` schedules the next step in the store, in the
same round trip as the send (see `Verifications.start`). Delivery workers call `run_due` on
each turn: the store hands each due step to exactly one worker, which resends on the step's
channel through the ordinary start use case (a counted send with a fresh code, obeying the
five-send limit, scheduling the step after it) if the verification is still pending and
still holds the send the step follows. When that send's delivery fails on every provider,
the worker calls `delivery_failed` and the step becomes due at once.

A step is taken off the schedule before it runs: a worker that dies between the two loses
that step (at most once, never twice); the verification itself is unaffected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from verify_service.application.ports import Clock
from verify_service.application.verifications.ports import VerificationRef, VerificationStore
from verify_service.application.verifications.verifications import StartRequest, Verifications
from verify_service.domain import sids
from verify_service.domain.delivery.delivery import DeliveryJob
from verify_service.domain.errors import StoreUnavailable, VerifyError
from verify_service.domain.models import (
    MAX_SENDS_PER_VERIFICATION,
    Verification,
    VerificationStatus,
)
from verify_service.domain.service import Service

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DueFallbackStep:
    """A step taken off the schedule: send on the `step`-th fallback channel of the service,
    if the verification still holds the send `after_attempt_sid` the step follows."""

    service_sid: str
    verification_sid: str
    step: int
    after_attempt_sid: str


class FallbackSchedule(Protocol):
    def take_due(self, now_ms: int, limit: int) -> list[DueFallbackStep]:
        """Remove and return the steps due at `now_ms` (each to one caller only)."""
        ...

    def hasten(
        self, service_sid: str, verification_sid: str, failed_attempt_sid: str, now_ms: int
    ) -> bool:
        """Make the step that follows `failed_attempt_sid` due at `now_ms`, if scheduled."""
        ...


def skip_reason(
    due: DueFallbackStep, service: Service | None, verification: Verification | None
) -> str | None:
    """Why a due step must not send, or None when it should."""
    if service is None:
        return "service deleted"
    if verification is None:
        return "verification ended"  # approved, canceled or expired: the hash is gone
    reasons = (
        (verification.status is not VerificationStatus.PENDING, verification.status.value),
        # The send it follows was refused (a lost race): its own step does not exist.
        (
            all(attempt.sid != due.after_attempt_sid for attempt in verification.send_attempts),
            "superseded",
        ),
        (len(verification.send_attempts) >= MAX_SENDS_PER_VERIFICATION, "max sends reached"),
        (due.step > len(service.fallback_channels), "fallback list changed"),
    )
    return next((reason for applies, reason in reasons if applies), None)


class ChannelFallback:
    def __init__(
        self,
        schedule: FallbackSchedule,
        store: VerificationStore,
        verifications: Verifications,
        clock: Clock,
        batch: int = 1,  # a step taken is removed: take one at a time, lose at most one
    ) -> None:
        self._schedule = schedule
        self._store = store
        self._verifications = verifications
        self._clock = clock
        self._batch = batch

    def run_due(self) -> int:
        """Take the due steps and run them; returns how many were taken."""
        steps = self._schedule.take_due(self._clock.now_ms(), self._batch)
        for due in steps:
            self._run(due)
        return len(steps)

    def delivery_failed(self, job: DeliveryJob, now_ms: int) -> None:
        """Every provider refused `job`: the step that follows its send goes now."""
        if self._schedule.hasten(job.service_sid, job.verification_sid, job.attempt_sid, now_ms):
            log.info("verification %s: delivery failed, fallback due now", job.verification_sid)

    def receipt_failed(
        self, service_sid: str, verification_sid: str, attempt_sid: str, now_ms: int
    ) -> None:
        """A delivery receipt says the attempt did not arrive: its next step goes now."""
        if self._schedule.hasten(service_sid, verification_sid, attempt_sid, now_ms):
            log.info("verification %s: not delivered, fallback due now", verification_sid)

    def _run(self, due: DueFallbackStep) -> bool:
        tag = sids.verification_tag(due.verification_sid)
        if tag is None:
            return False
        ref = VerificationRef(due.service_sid, tag)
        service, verification = self._store.fetch(ref, due.verification_sid, self._clock.now_ms())
        reason = skip_reason(due, service, verification)
        if reason is not None or service is None or verification is None:
            log.info(
                "verification %s: fallback step %d skipped (%s)",
                due.verification_sid,
                due.step,
                reason,
            )
            return False
        channel = service.fallback_channels[due.step - 1]
        request = StartRequest(
            to=verification.to,
            channel=channel,
            amount=verification.amount,
            payee=verification.payee,
            resend_of=verification.sid,
            fallback_step=due.step,
        )
        try:
            self._verifications.start(due.service_sid, request)
        except StoreUnavailable:
            raise
        except VerifyError as error:
            # Ended, locked or out of sends between the read and the resend.
            log.info(
                "verification %s: fallback step %d not sent (%s)",
                due.verification_sid,
                due.step,
                type(error).__name__,
            )
            return False
        log.info(
            "verification %s: fallback step %d sent on %s",
            due.verification_sid,
            due.step,
            channel.value,
        )
        return True

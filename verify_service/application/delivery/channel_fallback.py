"""Automatic channel fallback (verify-service extension): runs the steps that are due.

A start on a service with `fallback_channels` schedules the next step in the store once the
send is accepted (see `Verifications.start`). Each worker process runs `ChannelFallback.run`
in a thread of its own, beside the delivery loop (a backlog of messages never delays a step,
nor the other way round): as steps fall due it takes them in batches (the store drops those
whose verification expired without handing them out), reads their verifications in one
round trip, and resends on each step's channel through the ordinary start use case (a
counted send with a fresh code, obeying the five-send limit, scheduling the step after it)
if the verification is still pending and still holds the send the step follows. When that
send's delivery fails on every provider, the worker calls `delivery_failed` and the step
becomes due at once. An approval or a cancel removes the verification's step.

A step is taken off the schedule before it runs: a worker that dies between the two loses
the steps of the batch it held (at most once, never twice); the verifications themselves
are unaffected.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Protocol

from verify_service.application.delivery.resilient_loop import run_until_stopped
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


# One take looks at up to LOOK due entries (dropping those whose verification expired) and
# hands out up to HAND: a backlog of stale entries is cleared LOOK at a time, and a worker
# that dies loses at most HAND steps.
LOOK = 500
HAND = 20


@dataclass(frozen=True, slots=True)
class TakenSteps:
    """The steps one take handed out; `more`: more may be due already."""

    steps: tuple[DueFallbackStep, ...]
    more: bool


class FallbackSchedule(Protocol):
    def take_due(self, now_ms: int, look: int, hand: int) -> TakenSteps:
        """Of the first `look` steps due at `now_ms`, drop those whose verification expired
        and remove and return up to `hand` of the others (each to one caller only)."""
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
        look: int = LOOK,
        hand: int = HAND,
    ) -> None:
        self._schedule = schedule
        self._store = store
        self._verifications = verifications
        self._clock = clock
        self._look = look
        self._hand = hand

    def run_due(self, stop: threading.Event | None = None) -> int:
        """Take the steps due now, batch after batch until none is left (or `stop` is set),
        and run them; returns how many were handed out."""
        handed = 0
        while stop is None or not stop.is_set():
            taken = self._schedule.take_due(self._clock.now_ms(), self._look, self._hand)
            self._run_batch(taken.steps)
            handed += len(taken.steps)
            if not taken.more:
                break
        return handed

    def run(self, stop: threading.Event, idle_wait_s: float = 0.1) -> None:
        """Until `stop` is set: run the due steps, then wait `idle_wait_s` for more to fall
        due. A Redis outage pauses the loop; it resumes by itself."""

        def turn() -> float:
            self.run_due(stop)
            return idle_wait_s

        run_until_stopped("channel fallback", stop, turn)

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

    def _run_batch(self, steps: tuple[DueFallbackStep, ...]) -> None:
        wanted = []
        for due in steps:
            tag = sids.verification_tag(due.verification_sid)
            if tag is not None:
                wanted.append((due, VerificationRef(due.service_sid, tag)))
        if not wanted:
            return
        found = self._store.fetch_many(
            [(ref, due.verification_sid) for due, ref in wanted], self._clock.now_ms()
        )
        for (due, _ref), (service, verification) in zip(wanted, found, strict=True):
            self._run(due, service, verification)

    def _run(
        self, due: DueFallbackStep, service: Service | None, verification: Verification | None
    ) -> bool:
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

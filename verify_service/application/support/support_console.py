"""The support console's use cases: a destination's timeline within a service, resend and
cancel with a stated reason, and (admins) the audit log and the API keys.

Nothing here holds or shows a code (none exists outside the outbox), and destinations leave
only masked (`display_masked_destination`). Every action, refused or not, is appended to the
audit log with its actor, reason and outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from verify_service.application.access.api_keys import ApiKey, ApiKeys
from verify_service.application.access.destination_lookups import DestinationLookups, Looker
from verify_service.application.attempts.attempts import Attempts, EndedVerification
from verify_service.application.attempts.ports import CheckEvent
from verify_service.application.audit.audit import AUDIT_LOG, MFA_ACTIVITY_LOG, AuditTrail
from verify_service.application.audit.audit_search import AuditPage, AuditQuery, search_audit
from verify_service.application.audit.ports import AuditEntry, AuditLog
from verify_service.application.delivery.delivery_receipts import DeliveryAttempts
from verify_service.application.ports import Clock
from verify_service.application.services.service_catalog import ServiceCatalog
from verify_service.application.verifications.ports import DestinationLock
from verify_service.application.verifications.verifications import StartRequest, Verifications
from verify_service.domain.destinations import (
    display_masked_destination,
    normalize_any_destination,
)
from verify_service.domain.errors import NotFound, StoreUnavailable, VerifyError
from verify_service.domain.models import Channel, EndedBy, Verification, VerificationStatus
from verify_service.domain.service import Service
from verify_service.domain.staff import StaffRole

log = logging.getLogger(__name__)

MAX_SERVICES_LISTED = 200


class VerificationChanged(VerifyError):
    """The verification shown is no longer the pending one (it ended, or another began):
    nothing was done; search again."""


@dataclass(frozen=True, slots=True)
class Staff:
    """Who acts: a console user and its role, as the audit log names them."""

    name: str
    role: str

    @property
    def lookups_limited(self) -> bool:
        """Every console user but an admin has searches by destination counted and limited
        (the console shows everyone destinations masked; console admins are trusted like the
        API's). A role added later is limited until it is deliberately exempted."""
        return self.role != StaffRole.ADMIN.value


@dataclass(frozen=True, slots=True)
class SendView:
    sid: str
    channel: str
    time_ms: int
    delivery_status: str  # queued | sent | delivered | undelivered | failed | unknown
    provider: str | None
    error_code: str | None


@dataclass(frozen=True, slots=True)
class CurrentVerification:
    sid: str
    status: str
    channel: str
    created_ms: int
    expires_ms: int
    sends: tuple[SendView, ...]
    check_count: int
    checks: tuple[CheckEvent, ...]  # as recorded by the attempt history
    carried_checks: int = 0  # of check_count, used by a canceled verification before it


@dataclass(frozen=True, slots=True)
class Timeline:
    service_sid: str
    service_name: str
    masked_to: str
    is_email: bool
    current: CurrentVerification | None
    history: tuple[EndedVerification, ...]
    history_available: bool  # False: this deployment has no attempt history
    resend_channels: tuple[str, ...]  # the channels a resend may use for this destination
    # A canceled locked verification's lock: no start for the destination until it ends.
    lock: DestinationLock | None = None


def resend_channels(destination: str) -> tuple[str, ...]:
    """An e-mail address takes e-mail; a number the phone channels (the start then applies
    the service's geo permissions and every limit)."""
    if "@" in destination:
        return (Channel.EMAIL.value,)
    return tuple(channel.value for channel in Channel if channel.is_phone)


class SupportConsole:
    def __init__(
        self,
        catalog: ServiceCatalog,
        verifications: Verifications,
        delivery: DeliveryAttempts,
        clock: Clock,
        *,
        attempts: Attempts | None = None,
        audit: AuditLog | None = None,
        audit_trail: AuditTrail | None = None,
        activity_trail: AuditTrail | None = None,
        api_keys: ApiKeys | None = None,
        lookups: DestinationLookups | None = None,
        outcome_of: Callable[[VerifyError], str] = lambda exc: type(exc).__name__,
    ) -> None:
        """`outcome_of` names a refusal for the audit log (the HTTP layer's wire code);
        `activity_trail`: the MFA activity log, the audit page's other log."""
        self._catalog = catalog
        self._verifications = verifications
        self._delivery = delivery
        self._clock = clock
        self._attempts = attempts
        self._audit = audit
        self._audit_trail = audit_trail
        self._activity_trail = activity_trail
        self._api_keys = api_keys
        self._lookups = lookups
        self._outcome_of = outcome_of

    @property
    def has_audit_trail(self) -> bool:
        return self._audit_trail is not None

    @property
    def has_api_keys(self) -> bool:
        return self._api_keys is not None

    @property
    def lookups_per_hour(self) -> int | None:
        """How many searches a `support` user may make per hour (None: not limited)."""
        return self._lookups.per_hour if self._lookups is not None else None

    def services(self) -> list[Service]:
        found, _more = self._catalog.list(0, MAX_SERVICES_LISTED)
        return found

    # -- the timeline --------------------------------------------------------------------

    def _send(self, sid: str, channel: str, time_ms: int) -> SendView:
        try:
            record = self._delivery.get(sid)
        except NotFound:  # the record expired with its history bucket (the retention)
            return SendView(sid, channel, time_ms, "unknown", None, None)
        return SendView(sid, channel, time_ms, record.status, record.provider, record.error_code)

    def _current(self, verification: Verification, to: str) -> CurrentVerification:
        checks: tuple[CheckEvent, ...] = ()
        if self._attempts is not None:
            checks = self._attempts.checks_of(verification.service_sid, to, verification.sid)
        return CurrentVerification(
            sid=verification.sid,
            status=verification.status.value,
            channel=verification.channel.value,
            created_ms=verification.created_ms,
            expires_ms=verification.expires_ms,
            sends=tuple(
                self._send(attempt.sid, attempt.channel.value, attempt.time_ms)
                for attempt in verification.send_attempts
            ),
            check_count=verification.check_count,
            checks=checks,
            carried_checks=verification.carried_checks,
        )

    def timeline(self, service_sid: str, destination: str) -> Timeline:
        """The pending verification (if any) and the ended ones the history keeps."""
        service = self._catalog.fetch(service_sid)
        to = normalize_any_destination(destination)
        verification = self._verifications.lookup(service_sid, to)
        history: tuple[EndedVerification, ...] = ()
        if self._attempts is not None:
            history = tuple(self._attempts.history_for(service_sid, to))
        return Timeline(
            service_sid=service.sid,
            service_name=service.friendly_name,
            masked_to=display_masked_destination(to),
            is_email="@" in to,
            current=self._current(verification, to) if verification is not None else None,
            history=history,
            history_available=self._attempts is not None,
            resend_channels=resend_channels(to),
            lock=self._verifications.lock_of(service_sid, to) if verification is None else None,
        )

    def search(self, staff: Staff, service_sid: str, destination: str) -> Timeline:
        """The timeline, the look-up itself audited (a support tool reads personal data).

        A `support` user's search is a look-up by destination: counted and audited before
        anything is read (`DestinationLookups`: InvalidParameter, RateLimitExceeded past
        the hourly limit, StoreUnavailable, each already audited)."""
        if staff.lookups_limited:
            if self._lookups is None:  # nowhere to count or audit it: refuse, fail closed
                raise StoreUnavailable("no destination look-up limiter")
            looker = Looker("console", staff.name, staff.role)
            self._lookups.admit(looker, "console.search", destination, within=service_sid)
        try:
            found = self.timeline(service_sid, destination)
        except VerifyError as exc:
            self._record(staff, "console.search", service_sid, self._outcome_of(exc))
            raise
        if not staff.lookups_limited:  # (a limited search's entry is written above)
            self._record(staff, "console.search", f"{service_sid}/{found.masked_to}", "ok")
        return found

    # -- actions -------------------------------------------------------------------------

    def _pending(self, service_sid: str, to: str, verification_sid: str) -> Verification:
        verification = self._verifications.lookup(service_sid, to)
        if verification is None or verification.sid != verification_sid:
            raise VerificationChanged
        return verification

    def resend(
        self,
        staff: Staff,
        service_sid: str,
        destination: str,
        verification_sid: str,
        channel: str,
        reason: str,
    ) -> Verification:
        """A new code on the pending verification, on `channel`: a start, so it counts as a
        send and every limit of the service applies (a refusal is raised as the API's)."""
        target = f"{service_sid}/{verification_sid}"
        try:
            to = normalize_any_destination(destination)
            if channel not in resend_channels(to):
                raise VerificationChanged
            self._pending(service_sid, to, verification_sid)
            resent = self._verifications.start(
                service_sid, StartRequest(to=to, channel=Channel(channel), resend_only=True)
            )
        except VerifyError as exc:
            self._record(staff, "console.resend", target, self._outcome_of(exc), reason)
            raise
        self._record(staff, "console.resend", f"{target}/{channel}", "ok", reason)
        log.info("console: %s resent %s on %s", staff.name, verification_sid, channel)
        return resent

    def cancel(
        self, staff: Staff, service_sid: str, destination: str, verification_sid: str, reason: str
    ) -> Verification:
        target = f"{service_sid}/{verification_sid}"
        try:
            self._pending(service_sid, normalize_any_destination(destination), verification_sid)
            ended = self._verifications.update_status(
                service_sid,
                verification_sid,
                VerificationStatus.CANCELED,
                ended_by=EndedBy(staff.name, staff.role, reason),
            )
        except VerifyError as exc:
            self._record(staff, "console.cancel", target, self._outcome_of(exc), reason)
            raise
        self._record(staff, "console.cancel", target, "ok", reason)
        log.info("console: %s canceled %s", staff.name, verification_sid)
        return ended

    def record_session_event(self, name: str, role: str, action: str, outcome: str) -> None:
        """Sign-in, sign-out and refusals, for the audit log."""
        self._record(Staff(name, role), action, "console", outcome)

    def _record(
        self, staff: Staff, action: str, target: str, outcome: str, reason: str | None = None
    ) -> None:
        if self._audit is None:
            return
        entry = AuditEntry(
            actor=staff.name,
            role=staff.role,
            action=action,
            target=target,
            outcome=outcome,
            time_ms=self._clock.now_ms(),
            reason=reason,
        )
        try:
            self._audit.append(entry)
        except VerifyError as exc:  # the action is done; the answer must not change now
            log.warning("audit entry for %s not recorded (%s)", action, type(exc).__name__)

    # -- admin pages ---------------------------------------------------------------------

    def audit_page(
        self, query: AuditQuery, limit: int, before: str | None, log: str = AUDIT_LOG
    ) -> AuditPage:
        """A page of the audit log (or of the MFA activity log), newest first, filtered on
        the server."""
        trail = self._activity_trail if log == MFA_ACTIVITY_LOG else self._audit_trail
        if trail is None:
            return AuditPage([], None)
        return search_audit(trail, query, limit, before)

    def api_keys(self) -> list[ApiKey]:
        if self._api_keys is None:
            return []
        found: list[ApiKey] = []
        page = 0
        while True:
            keys, more = self._api_keys.list(page, 200)
            found += keys
            if not more or page >= 9:
                return found
            page += 1

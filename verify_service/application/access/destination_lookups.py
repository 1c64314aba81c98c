"""Look-ups by destination, by those who see destinations masked: audited, then limited.

A principal shown `+1 415 •••• 671` (a `support` API key, a support console user) could
still learn the number whole by asking, filler after filler, "is there anything for this
exact `To`?" (`GET /v2/Attempts?ChannelData.To=…`, the console's search, a resend): 10^4
tries recover four hidden digits. So each such look-up is counted per principal in a
moving window of an hour (`VERIFY_DESTINATION_LOOKUPS_PER_HOUR`, default 60) and written to
the audit log (the destination masked) before it is answered; past the limit it is refused
with `RateLimitExceeded` (429/20429 and `Retry-After`), and the refusal is audited too.

Admins and backends see destinations in full: the views do not call this for them.

Fail closed: when the count or the audit entry cannot be written (Redis down), the look-up
is refused with `StoreUnavailable` (or `TooManyConcurrentRequests` when the audit chain's
head kept moving); no look-up is ever answered unaudited, and one that is not answered
is taken back from the count, so the count is exactly the look-ups answered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from verify_service.application.audit.audit import Auditor, mask_target
from verify_service.application.ports import Clock
from verify_service.application.protection.ports import RateLimiter, WindowLimit
from verify_service.domain.destinations import normalize_any_destination
from verify_service.domain.errors import InvalidParameter, RateLimitExceeded, VerifyError

log = logging.getLogger(__name__)

DEFAULT_LOOKUPS_PER_HOUR = 60
MIN_LOOKUPS_PER_HOUR = 1
MAX_LOOKUPS_PER_HOUR = 10_000
HOUR_SECONDS = 3600
LIMIT_NAME = "destination-lookups"
REFUSED = "20429"  # the audit outcome of a look-up past the limit (its wire code)
INVALID = "60200"  # ... and of one whose destination is malformed (not counted)


@dataclass(frozen=True, slots=True)
class Looker:
    """Who looks a destination up. `kind` is `key` (an API credential) or `console` (a
    console user): each counts apart. `actor` is the credential sid or the user name, as
    the audit log names it."""

    kind: str
    actor: str
    role: str


class DestinationLookups:
    """Counts and audits look-ups by destination; see the module docstring."""

    def __init__(self, limiter: RateLimiter, auditor: Auditor, clock: Clock, per_hour: int) -> None:
        if not MIN_LOOKUPS_PER_HOUR <= per_hour <= MAX_LOOKUPS_PER_HOUR:
            raise ValueError("per_hour out of range")
        self._limiter = limiter
        self._auditor = auditor
        self._clock = clock
        self._per_hour = per_hour

    @property
    def per_hour(self) -> int:
        return self._per_hour

    def window(self, looker: Looker) -> WindowLimit:
        """The looker's window (its scope names the looker, never a destination)."""
        scope = (LIMIT_NAME, looker.kind, looker.actor)
        return WindowLimit(LIMIT_NAME, scope, self._per_hour, HOUR_SECONDS)

    def admit(
        self,
        looker: Looker,
        action: str,
        destination: str,
        *,
        parameter: str = "To",
        within: str | None = None,
    ) -> None:
        """Count one look-up of `destination` and audit it (target `within/masked`), or
        raise: InvalidParameter (named `parameter`; audited, not counted) when it is not a
        number or an address, RateLimitExceeded past the limit, StoreUnavailable when Redis
        is down. Returns only once the entry is written."""
        try:
            to = normalize_any_destination(destination)
        except InvalidParameter as exc:
            self._record(looker, action, [within or "", destination], INVALID)
            raise InvalidParameter(parameter, exc.reason) from None
        window, now_ms = self.window(looker), self._clock.now_ms()
        outcome = self._limiter.hit([window], [], now_ms)
        refused = outcome.refused is not None
        try:
            self._record(looker, action, [within or "", to], REFUSED if refused else "ok")
        except VerifyError:
            # Not audited, so not answered: it must not spend the looker's budget either.
            if not refused:
                self._take_back(window, now_ms)
            raise
        if refused:
            raise RateLimitExceeded("destination look-up", outcome.retry_after_seconds)

    def _take_back(self, window: WindowLimit, now_ms: int) -> None:
        try:
            self._limiter.release(window, now_ms)
        except VerifyError:  # Redis is gone: the caller's error says so already
            log.warning("a destination look-up's count was not taken back")

    def _record(self, looker: Looker, action: str, target: list[str], outcome: str) -> None:
        self._auditor.record(
            actor=looker.actor,
            role=looker.role,
            action=action,
            target=mask_target(target),
            outcome=outcome,
        )

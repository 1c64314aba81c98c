"""Fraud Guard: the SMS-pumping circuit breaker's rule.

Per service and destination prefix (see `number_intelligence.destination_prefix`), sends and
approvals are counted in a moving window. Pumped traffic is sends nobody approves: when the
sends of the window that users have had time to approve number at least `min_sends` and
fewer than `min_approval_rate` percent of them were approved, the prefix trips: new sends
to it are refused (60410) for the cool-down, or in monitor mode only recorded.

Sends of the last `APPROVAL_GRACE_SECONDS` are left out of the rate: their users are still
typing, and a burst of genuine sign-ups must not look like pumping before anyone could
answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from verify_service.domain.protection.protection_settings import FraudGuardMode

APPROVAL_GRACE_SECONDS = 120
# The tallies are moving windows as long as the service's Fraud Guard window, one entry per
# event: this bounds their memory (about 20 bytes an event). A prefix with more sends than
# this in one window reads as TALLY_MAX sends (and at most TALLY_MAX approvals) until older
# ones leave the window: judged on the window's first TALLY_MAX events, not blind.
TALLY_MAX = 20_000


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    mode: FraudGuardMode
    min_sends: int
    min_approval_rate: int  # percent
    window_seconds: int
    cooldown_seconds: int


def settled_sends(sends_in_window: int, sends_in_grace: int) -> int:
    """Sends old enough to have been approved by now."""
    return max(0, sends_in_window - sends_in_grace)


def should_trip(settled: int, approvals: int, settings: BreakerSettings) -> bool:
    """Enough volume and too few approvals (integer arithmetic, no rounding)."""
    if settings.mode is FraudGuardMode.OFF or settled < settings.min_sends:
        return False
    return approvals * 100 < settings.min_approval_rate * settled

"""Twilio's Verify webhook events for factors and challenges (factor.created / verified /
deleted, challenge.approved / denied), for TOTP and passkeys alike, published right after
the script that made the change answered (docs/webhooks.md)."""

from __future__ import annotations

from collections.abc import Callable

from verify_service.application.events.publisher import EventPublisher
from verify_service.domain.events.event_types import EventType
from verify_service.domain.events.events import Event, challenge_event, factor_event
from verify_service.domain.mfa.models import Challenge, ChallengeStatus, Factor


class MfaEvents:
    def __init__(self, publisher: EventPublisher | None) -> None:
        self._publisher = publisher

    def wants(self, service_sid: str, event_type: EventType) -> bool:
        return self._publisher is not None and self._publisher.wants(service_sid, event_type)

    def factor(self, event_type: EventType, factor: Factor, now_ms: int) -> None:
        publisher = self._publisher
        if publisher is None:
            return
        publisher.emit(
            factor.service_sid,
            event_type,
            lambda: factor_event(event_type, publisher.account_sid, factor, now_ms),
        )

    def challenge_answered(
        self,
        challenge: Challenge,
        factor: Factor | Callable[[], Factor | None] | None,
        now_ms: int,
    ) -> None:
        """challenge.approved or challenge.denied, from the challenge's new status.
        `factor` may be a look-up, made only when a webhook wants the event."""
        publisher = self._publisher
        if publisher is None:
            return
        if challenge.status is ChallengeStatus.APPROVED:
            event_type = EventType.CHALLENGE_APPROVED
        elif challenge.status is ChallengeStatus.DENIED:
            event_type = EventType.CHALLENGE_DENIED
        else:
            return

        def build() -> Event:
            found = factor() if callable(factor) else factor
            return challenge_event(
                event_type,
                publisher.account_sid,
                challenge,
                found.friendly_name if found is not None else None,
                found.metadata if found is not None else None,
                now_ms,
            )

        publisher.emit(challenge.service_sid, event_type, build)

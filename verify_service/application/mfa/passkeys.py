"""Passkey factors and sign-ins (Twilio's `/Passkeys/*`, docs/mfa.md "Passkeys"): the one
object the routes use, over the registration (passkey_registration.py) and sign-in
(passkey_sign_in.py) use cases, which share the ceremonies (passkey_factors.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from verify_service.application.events.publisher import EventPublisher
from verify_service.application.mfa.mfa_events import MfaEvents
from verify_service.application.mfa.passkey_factors import Ceremonies, Started, factor_config
from verify_service.application.mfa.passkey_ports import PasskeyStore
from verify_service.application.mfa.passkey_registration import PasskeyRegistration
from verify_service.application.mfa.passkey_sign_in import PasskeySignIn
from verify_service.application.mfa.ports import MfaStore
from verify_service.application.ports import Clock
from verify_service.application.services.service_catalog import ServiceCatalog
from verify_service.domain.events.event_types import EventType
from verify_service.domain.mfa.models import Challenge, Factor

__all__ = ["Passkeys", "Started", "factor_config"]


class Passkeys:
    def __init__(
        self,
        mfa: MfaStore,
        store: PasskeyStore,
        catalog: ServiceCatalog,
        clock: Clock,
        random_bytes: Callable[[int], bytes] = os.urandom,
        events: EventPublisher | None = None,
    ) -> None:
        self._clock = clock
        self._mfa = mfa
        self._events = MfaEvents(events)
        ceremonies = Ceremonies(mfa, store, clock, random_bytes)
        self.registration = PasskeyRegistration(ceremonies, catalog)
        self.sign_in = PasskeySignIn(ceremonies, catalog)

    def now_ms(self) -> int:
        """The clock's time (a challenge's status is read at this time)."""
        return self._clock.now_ms()

    def create_factor(
        self, service_sid: str, friendly_name: Any, identity: Any, config: Any
    ) -> Started:
        started = self.registration.create_factor(service_sid, friendly_name, identity, config)
        if started.factor is not None:
            self._events.factor(EventType.FACTOR_CREATED, started.factor, self.now_ms())
        return started

    def verify_factor(self, service_sid: str, credential: dict[str, Any]) -> Factor:
        verified = self.registration.verify_factor(service_sid, credential)
        self._events.factor(EventType.FACTOR_VERIFIED, verified, self.now_ms())
        return verified

    def create_challenge(self, service_sid: str, identity: Any, factor_sid: Any) -> Started:
        return self.sign_in.create_challenge(service_sid, identity, factor_sid)

    def approve_challenge(
        self,
        service_sid: str,
        credential: dict[str, Any],
        denied: Callable[[Challenge], None] | None = None,
    ) -> Challenge:

        def factor_of(challenge: Challenge) -> Callable[[], Factor | None]:
            return lambda: self._mfa.get_factor(
                challenge.service_sid, challenge.identity, challenge.factor_sid
            )

        def on_denied(challenge: Challenge) -> None:
            self._events.challenge_answered(challenge, factor_of(challenge), self.now_ms())
            if denied is not None:
                denied(challenge)

        approved = self.sign_in.approve_challenge(service_sid, credential, on_denied)
        self._events.challenge_answered(approved, factor_of(approved), self.now_ms())
        return approved

"""The MFA use cases of one process, built together by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from verify_service.application.audit.audit import Auditor
from verify_service.application.events.publisher import EventPublisher
from verify_service.application.mfa.challenges import Challenges
from verify_service.application.mfa.entities import Entities
from verify_service.application.mfa.factors import Factors
from verify_service.application.mfa.mfa_audit import MfaAudit
from verify_service.application.mfa.mfa_events import MfaEvents
from verify_service.application.mfa.ports import MfaStore, SecretSealer
from verify_service.application.ports import Clock
from verify_service.application.services.ports import ServiceStore


@dataclass(frozen=True, slots=True)
class MfaUseCases:
    entities: Entities
    factors: Factors
    challenges: Challenges
    store: MfaStore

    @classmethod
    def build(
        cls,
        store: MfaStore,
        services: ServiceStore,
        sealer: SecretSealer,
        clock: Clock,
        auditor: Auditor | None,
        activity: Auditor | None = None,
        events: EventPublisher | None = None,
    ) -> MfaUseCases:
        """`auditor`: the audit log's; `activity`: the MFA activity log's (challenges)."""
        audit = MfaAudit(auditor, activity)
        mfa_events = MfaEvents(events)
        entities = Entities(store, services, clock, audit, events=mfa_events)
        return cls(
            entities=entities,
            factors=Factors(store, services, entities, sealer, clock, audit, events=mfa_events),
            challenges=Challenges(store, services, sealer, clock, audit, events=mfa_events),
            store=store,
        )

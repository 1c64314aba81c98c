"""What the MFA views need, kept on the Flask app (`app.extensions[MFA_KEY]`)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from verify_service.application.mfa.challenges import Challenges
from verify_service.application.mfa.entities import Entities
from verify_service.application.mfa.factors import Factors
from verify_service.application.mfa.use_cases import MfaUseCases
from verify_service.application.ports import Clock

MFA_KEY = "verify_service.mfa"


@dataclass(frozen=True, slots=True)
class MfaComponents:
    use_cases: MfaUseCases
    clock: Clock

    @property
    def entities(self) -> Entities:
        return self.use_cases.entities

    @property
    def factors(self) -> Factors:
        return self.use_cases.factors

    @property
    def challenges(self) -> Challenges:
        return self.use_cases.challenges


def mfa() -> MfaComponents:
    found: MfaComponents = current_app.extensions[MFA_KEY]
    return found

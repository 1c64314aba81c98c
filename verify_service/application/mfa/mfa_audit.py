"""Audit entries for MFA changes (docs/audit-log.md): who, role, action, the target as sids
(`VA…/YE…/YF…`: an identity is never recorded, and a sid is never masked) and the outcome;
never a secret or a code. An entry that cannot be appended (Redis down) is logged: the
change it describes has been made.

Two logs ("Two logs" in docs/audit-log.md): operator-level changes (entities, factors, a
support deletion's reason, a factor locked by wrong codes) go to the audit log (`record`);
challenges created and answered — end users' sign-in traffic, unbounded in number — go to
the MFA activity log (`activity`), so that they never push an operator's entry out of the
audit log's bound. A refusal while a factor is locked changes nothing and is recorded in
neither: the lock itself is (`mfa.factor.locked`, once, by the answer that filled the
window)."""

from __future__ import annotations

import logging

from verify_service.application.access.access import Principal
from verify_service.application.audit.audit import Auditor
from verify_service.application.mfa.ports import AnswerResult
from verify_service.domain.errors import VerifyError
from verify_service.domain.mfa.limits import MAX_WRONG_CODES
from verify_service.domain.mfa.models import CodeOutcome

log = logging.getLogger(__name__)

LOCKED_ACTION = "mfa.factor.locked"


class MfaAudit:
    def __init__(self, auditor: Auditor | None, activity: Auditor | None = None) -> None:
        self._auditor = auditor
        self._activity = activity

    def record(
        self,
        principal: Principal,
        action: str,
        target: tuple[str, ...],
        outcome: str,
        reason: str | None = None,
    ) -> None:
        """An operator-level change, in the audit log."""
        _append(self._auditor, principal, action, target, outcome, reason)

    def activity(
        self, principal: Principal, action: str, target: tuple[str, ...], outcome: str
    ) -> None:
        """A challenge created or answered, in the MFA activity log."""
        _append(self._activity, principal, action, target, outcome, None)

    def lock_if_filled(
        self, principal: Principal, result: AnswerResult, factor_target: tuple[str, ...]
    ) -> None:
        """`mfa.factor.locked` when this answer's wrong code filled the factor's window (the
        script counted it: exactly one answer per window reaches the limit)."""
        if result.outcome is CodeOutcome.WRONG and result.wrong_codes == MAX_WRONG_CODES:
            self.record(principal, LOCKED_ACTION, factor_target, "ok")


def _append(
    auditor: Auditor | None,
    principal: Principal,
    action: str,
    target: tuple[str, ...],
    outcome: str,
    reason: str | None,
) -> None:
    if auditor is None:
        return
    try:
        auditor.record(
            actor=principal.credential_sid,
            role=principal.role,
            action=action,
            target="/".join(target),
            outcome=outcome,
            reason=reason,
        )
    except VerifyError as exc:
        log.warning("audit entry for %s not recorded (%s)", action, type(exc).__name__)

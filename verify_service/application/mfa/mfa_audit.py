"""Audit entries for MFA changes (docs/audit-log.md): who, role, action, the target as sids
(`VA…/YE…/YF…`: an identity is never recorded, and a sid is never masked) and the outcome;
never a secret or a code. An entry that cannot be appended (Redis down) is logged: the
change it describes has been made."""

from __future__ import annotations

import logging

from verify_service.application.access.access import Principal
from verify_service.application.audit.audit import Auditor
from verify_service.domain.errors import VerifyError

log = logging.getLogger(__name__)


class MfaAudit:
    def __init__(self, auditor: Auditor | None) -> None:
        self._auditor = auditor

    def record(
        self,
        principal: Principal,
        action: str,
        target: tuple[str, ...],
        outcome: str,
        reason: str | None = None,
    ) -> None:
        if self._auditor is None:
            return
        try:
            self._auditor.record(
                actor=principal.credential_sid,
                role=principal.role,
                action=action,
                target="/".join(target),
                outcome=outcome,
                reason=reason,
            )
        except VerifyError as exc:
            log.warning("audit entry for %s not recorded (%s)", action, type(exc).__name__)

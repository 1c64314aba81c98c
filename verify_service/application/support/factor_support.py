"""The support console's "I lost my phone" use cases: an identity's MFA factors in a service,
and deleting one with a stated reason.

What support sees of a factor is a `FactorView`: its sid, type, friendly name, status, and
when it was created and last used. Never its secret, binding, URI, config or passkey
fields: the view is built field by field, so a field added to `Factor` later is not shown
until someone adds it here on purpose.

Identities are opaque ids chosen by the customer's application (Twilio: "not PII"), but one
can still point at a person, so the console treats them like destinations: searched by POST,
carried in pages only sealed, never in a URL or a log line; the audit log names the entity
by its sid (`VA…/YE…`), never the identity. Every look-up and every delete, refused or not,
is audited (who, role, action, target, outcome, reason).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from verify_service.application.access.access import Principal
from verify_service.application.audit.audit import Auditor
from verify_service.application.mfa.entities import Entities
from verify_service.application.mfa.factors import Factors
from verify_service.application.services.service_catalog import ServiceCatalog
from verify_service.application.support.support_console import Staff
from verify_service.domain import sids
from verify_service.domain.errors import NotFound, VerifyError
from verify_service.domain.mfa.identity import require_identity
from verify_service.domain.mfa.limits import MAX_FACTORS_PER_ENTITY
from verify_service.domain.mfa.models import Factor

log = logging.getLogger(__name__)

LOOKUP_ACTION = "console.factors"  # a look-up of an identity's factors
# A delete is recorded by the MFA use case under its own action, whoever asked (the API or
# the console: a console user is named by user name, an API credential by its sid); a
# refusal before it (not found) is recorded here under the same name.
DELETE_ACTION = "mfa.factor.delete"


@dataclass(frozen=True, slots=True)
class FactorView:
    """A factor as the console shows it: nothing secret, nothing that could enrol it."""

    sid: str
    factor_type: str
    friendly_name: str
    status: str
    created_ms: int
    last_used_ms: int | None


@dataclass(frozen=True, slots=True)
class IdentityFactors:
    service_sid: str
    service_name: str
    identity: str
    entity_sid: str | None  # None: the service has no entity with this identity
    factors: tuple[FactorView, ...]


def _sids(*parts: str) -> str:
    """An audit target from what a form gave: its sids only (anything else typed into a
    forged form is never recorded)."""
    return "/".join(part for part in parts if sids.SID_PATTERN.fullmatch(part)) or "-"


def factor_view(factor: Factor) -> FactorView:
    return FactorView(
        sid=factor.sid,
        factor_type=factor.factor_type.value,
        friendly_name=factor.friendly_name,
        status=factor.status.value,
        created_ms=factor.created_ms,
        last_used_ms=factor.last_used_ms,
    )


class FactorSupport:
    def __init__(
        self,
        catalog: ServiceCatalog,
        entities: Entities,
        factors: Factors,
        auditor: Auditor | None,
        account_sid: str,
        *,
        outcome_of: Callable[[VerifyError], str] = lambda exc: type(exc).__name__,
    ) -> None:
        """`account_sid`: the account a console user acts for (in the MFA use cases'
        `Principal`); `outcome_of` names a refusal for the audit log (the wire code)."""
        self._catalog = catalog
        self._entities = entities
        self._factors = factors
        self._auditor = auditor
        self._account_sid = account_sid
        self._outcome_of = outcome_of

    def factors(self, service_sid: str, identity: str) -> IdentityFactors:
        """The identity's factors in the service (none when it has no entity)."""
        service = self._catalog.fetch(service_sid)
        identity = require_identity(identity)
        try:
            entity = self._entities.fetch(service.sid, identity)
        except NotFound:
            return IdentityFactors(service.sid, service.friendly_name, identity, None, ())
        factors, _more = self._factors.list(service.sid, identity, 0, MAX_FACTORS_PER_ENTITY)
        return IdentityFactors(
            service_sid=service.sid,
            service_name=service.friendly_name,
            identity=identity,
            entity_sid=entity.sid,
            factors=tuple(factor_view(factor) for factor in factors),
        )

    def lookup(self, staff: Staff, service_sid: str, identity: str) -> IdentityFactors:
        """`factors`, the look-up audited (`console.factors`, target `VA…/YE…`, outcome
        `ok`, or `20404` when the service has no such entity). Fail closed: when the entry
        cannot be written (Redis down), the look-up is refused, never answered unaudited."""
        try:
            found = self.factors(service_sid, identity)
        except VerifyError as exc:
            outcome = self._outcome_of(exc)
            self._record(staff, LOOKUP_ACTION, _sids(service_sid), outcome, strict=False)
            raise
        target = "/".join(part for part in (found.service_sid, found.entity_sid) if part)
        self._record(staff, LOOKUP_ACTION, target, "ok" if found.entity_sid else "20404")
        return found

    def delete(
        self, staff: Staff, service_sid: str, identity: str, factor_sid: str, reason: str
    ) -> None:
        """Delete one of the identity's factors (and its challenges). The MFA use case writes
        the one audit entry of a delete it made, with the reason; a refusal (not one of the
        identity's factors in this service) is recorded here."""
        principal = Principal(self._account_sid, staff.name, staff.role)
        try:
            self._factors.delete(service_sid, identity, factor_sid, principal, reason)
        except NotFound as exc:
            outcome = self._outcome_of(exc)
            target = _sids(service_sid, factor_sid)
            self._record(staff, DELETE_ACTION, target, outcome, reason, strict=False)
            raise
        log.info("console: %s deleted factor %s", staff.name, factor_sid)

    def _record(
        self,
        staff: Staff,
        action: str,
        target: str,
        outcome: str,
        reason: str | None = None,
        *,
        strict: bool = True,
    ) -> None:
        """Append the entry. `strict`: a failure to write it is raised (fail closed: the
        answer is not given); otherwise logged (the answer is decided and must not change)."""
        if self._auditor is None:
            return
        try:
            self._auditor.record(
                actor=staff.name,
                role=staff.role,
                action=action,
                target=target,
                outcome=outcome,
                reason=reason,
            )
        except VerifyError as exc:
            if strict:
                raise
            log.warning("audit entry for %s not recorded (%s)", action, type(exc).__name__)

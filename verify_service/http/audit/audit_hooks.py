"""Every admin API call leaves an audit entry (docs/audit-log.md).

An `after_request` hook: a write (any method but GET/HEAD/OPTIONS) to a route whose
permission no non-admin role holds (`application.audit.admin_only`, read from ROLES at the
time, so new `keys:*` routes are covered without a list here) appends who, role, action,
target (the path's sids, any number masked; a create adds the new sid) and outcome, whether
it succeeded or was refused. The answer is already decided by then: if the append fails
(Redis down), a warning is logged and the response goes out unchanged.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from verify_service.application.audit.audit import Auditor, admin_only, mask_target
from verify_service.application.audit.ports import AuditLog
from verify_service.application.ports import Clock
from verify_service.domain.errors import VerifyError
from verify_service.http.access.auth import authenticated_principal, route_permission
from verify_service.http.error_codes import AUTHENTICATE

log = logging.getLogger(__name__)
AUDITOR_KEY = "verify_service.auditor"
# Appends to the MFA activity log (challenges created and answered: docs/audit-log.md).
MFA_ACTIVITY_AUDITOR_KEY = "verify_service.mfa_activity_auditor"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app: Flask, audit: AuditLog | None, clock: Clock) -> None:
    """Register the hook (nothing when the container has no audit log)."""
    if audit is None:
        return
    auditor = Auditor(audit, clock)
    app.extensions[AUDITOR_KEY] = auditor

    @app.after_request
    def audit_admin_call(response: Response) -> Response:
        record_admin_call(auditor, response)
        return response


def action_name(endpoint: str, method: str) -> str:
    """`services.create_service` → `services.create`; `rate_limits.create_bucket` stays."""
    blueprint, _, view = endpoint.partition(".")
    if not view:
        return f"{method} {endpoint}"
    singular = blueprint.removesuffix("s")
    return f"{blueprint}.{view.removesuffix('_' + singular)}"


def outcome(response: Response) -> str:
    """`ok` for 2xx/3xx, `denied` for a permission refusal, else the Twilio error code
    (the HTTP status when the body has none)."""
    if response.status_code < 400:
        return "ok"
    body = response.get_json(silent=True) if response.is_json else None
    code = body.get("code") if isinstance(body, dict) else None
    if response.status_code == 403 and code == AUTHENTICATE:
        return "denied"
    return str(code) if isinstance(code, int) else str(response.status_code)


def _target(response: Response) -> str:
    parts = [str(value) for value in (request.view_args or {}).values()]
    if response.status_code == 201:
        body = response.get_json(silent=True) if response.is_json else None
        created = body.get("sid") if isinstance(body, dict) else None
        if isinstance(created, str) and created not in parts:
            parts.append(created)
    return mask_target(parts)


def record_admin_call(auditor: Auditor, response: Response) -> None:
    if request.method in _READS or request.routing_exception is not None:
        return
    permission = route_permission(request.endpoint)
    principal = authenticated_principal()
    if permission is None or principal is None or not admin_only(permission):
        return
    action = action_name(request.endpoint or "", request.method)
    try:
        auditor.record(
            actor=principal.credential_sid,
            role=principal.role,
            action=action,
            target=_target(response),
            outcome=outcome(response),
        )
    except VerifyError as exc:
        log.warning("audit entry for %s not recorded (%s)", action, type(exc).__name__)
    except Exception:  # a committed change must not turn into a 500
        log.exception("audit entry for %s not recorded", action)

"""`/v2/Services/{VA}/Passkeys/Factors`, `/VerifyFactor`, `/Challenges`, `/ApproveChallenge`.

The only Verify routes with JSON bodies (Twilio's spec; the SDK sends `application/json`).
Every call, accepted or refused, leaves an audit entry (who, role, action, the sids it
touched, outcome); never a challenge, a credential or a key. A registration (a factor's
create and verify) goes to the audit log, a sign-in (a challenge's create and answer) to the
MFA activity log (docs/audit-log.md, "Two logs").
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from verify_service.application.access.access import Permission
from verify_service.application.audit.audit import Auditor, mask_part
from verify_service.application.mfa.passkeys import Passkeys, factor_config
from verify_service.domain.errors import InvalidMfaRequest, VerifyError
from verify_service.domain.mfa.models import Challenge
from verify_service.http.access.auth import authenticated_principal, requires
from verify_service.http.audit.audit_hooks import AUDITOR_KEY, MFA_ACTIVITY_AUDITOR_KEY, outcome
from verify_service.http.mfa.passkey_representations import (
    passkey_challenge_json,
    passkey_factor_json,
)
from verify_service.http.params import request_params
from verify_service.http.wiring import account_sid, base_url

log = logging.getLogger(__name__)

PASSKEYS_KEY = "verify_service.passkeys"
blueprint = Blueprint("passkeys", __name__, url_prefix="/v2/Services/<service_sid>/Passkeys")


def _passkeys() -> Passkeys:
    found: Passkeys = current_app.extensions[PASSKEYS_KEY]
    return found


def _body() -> dict[str, Any]:
    """The JSON object Twilio's spec gives these routes (a form body is refused: the SDK and
    a browser's credential send JSON)."""
    if not request.is_json:
        raise InvalidMfaRequest("body", "a JSON object (Content-Type: application/json)")
    return request_params()


def _touched(*sids: str) -> None:
    """The sids this call changed, for its audit entry."""
    g.passkey_target = [sid for sid in sids if sid]


def _touched_challenge(challenge: Challenge) -> None:
    """A refused answer denied this challenge: its entry names it (finding F9)."""
    _touched(challenge.entity_sid, challenge.factor_sid, challenge.sid)


@blueprint.post("/Factors")
@requires(Permission.MFA_ENROL)
def create_passkey_factor(service_sid: str) -> Response:
    body = _body()
    started = _passkeys().create_factor(
        service_sid, body.get("friendly_name"), body.get("identity"), body.get("config")
    )
    factor = started.factor
    assert factor is not None  # noqa: S101 (a registration always has its factor)
    _touched(factor.entity_sid, factor.sid)
    answer = passkey_factor_json(factor, account_sid(), base_url(), factor_config(factor))
    answer["options"] = started.options
    response = jsonify(answer)
    response.status_code = 201
    return response


@blueprint.post("/VerifyFactor")
@requires(Permission.MFA_ENROL)
def verify_passkey_factor(service_sid: str) -> Response:
    factor = _passkeys().verify_factor(service_sid, _body())
    _touched(factor.entity_sid, factor.sid)
    body = passkey_factor_json(factor, account_sid(), base_url(), factor_config(factor))
    del body["binding"], body["options"]  # only a create's answer carries them (Twilio)
    return jsonify(body)


@blueprint.post("/Challenges")
@requires(Permission.MFA_CHALLENGE)
def create_passkey_challenge(service_sid: str) -> Response:
    body = _body()
    started = _passkeys().create_challenge(
        service_sid, body.get("identity"), body.get("factor_sid")
    )
    challenge = started.challenge
    assert challenge is not None  # noqa: S101 (a sign-in always has its challenge)
    _touched(challenge.entity_sid, challenge.factor_sid, challenge.sid)
    now = _passkeys().now_ms()
    answer = passkey_challenge_json(challenge, account_sid(), base_url(), now, started.options)
    response = jsonify(answer)
    response.status_code = 201
    return response


@blueprint.post("/ApproveChallenge")
@requires(Permission.MFA_CHALLENGE)
def approve_passkey_challenge(service_sid: str) -> Response:
    body = _body()
    challenge = _passkeys().approve_challenge(service_sid, body, denied=_touched_challenge)
    _touched(challenge.entity_sid, challenge.factor_sid, challenge.sid)
    now = _passkeys().now_ms()
    return jsonify(passkey_challenge_json(challenge, account_sid(), base_url(), now, None))


# The MFA audit vocabulary (application/mfa/mfa_audit.py): a passkey registration is a
# factor's create and verify, a sign-in a challenge's create and answer; the sids tell which.
_ACTIONS = {
    "create_passkey_factor": "mfa.factor.create",
    "verify_passkey_factor": "mfa.factor.verify",
    "create_passkey_challenge": "mfa.challenge.create",
    "approve_passkey_challenge": "mfa.challenge.answer",
}


@blueprint.after_request
def audit_passkey_call(response: Response) -> Response:
    """One entry per call, accepted or refused: the action, target `VA…/YE…/YF…[/YC…]`
    (sids only: never an identity, a challenge or a credential) and the outcome."""
    view = (request.endpoint or "").partition(".")[2]
    action = _ACTIONS.get(view, f"passkeys.{view}")
    log_key = MFA_ACTIVITY_AUDITOR_KEY if action.startswith("mfa.challenge.") else AUDITOR_KEY
    auditor: Auditor | None = current_app.extensions.get(log_key)
    principal = authenticated_principal()
    if auditor is None or principal is None or request.routing_exception is not None:
        return response
    service_sid = (request.view_args or {}).get("service_sid", "")
    target = "/".join([mask_part(str(service_sid)), *g.get("passkey_target", [])])
    try:
        auditor.record(
            actor=principal.credential_sid,
            role=principal.role,
            action=action,
            target=target,
            outcome=outcome(response),
        )
    except VerifyError as exc:
        log.warning("audit entry for %s not recorded (%s)", action, type(exc).__name__)
    except Exception:  # an answered ceremony must not turn into a 500
        log.exception("audit entry for %s not recorded", action)
    return response

"""`Reason`, this service's extension parameter of `DELETE …/Entities/{Identity}/Factors/{YF}`
(openapi.yaml `x-extension`): why a factor is deleted, for the audit log.

It is a query parameter (`?Reason=lost%20phone`) because the DELETE carries no body (the
Twilio SDKs' `factors(sid).delete()` sends none; a support tool sends the reason with the
SDK's generic request call, `client.request("DELETE", url, params={"Reason": …})`). The
access log shows it as `Reason=*`, like every query value.

A principal that may delete a factor but not enrol one (`support`: "I lost my phone") must
give it: without it the delete is refused, 400 with 60306 naming `Reason`, and nothing is
deleted. Admin and backend credentials may omit it. A reason is one line of at most 200
characters, with no control or invisible characters and no run of 4 digits
(`domain/staff.py` `stated_reason`); it goes into the audit entry only, never into a key
name or a log line.
"""

from __future__ import annotations

from flask import request

from verify_service.application.access.access import Permission
from verify_service.domain.errors import InvalidMfaRequest, InvalidParameter
from verify_service.domain.staff import stated_reason
from verify_service.http.access.auth import current_principal

REASON_PARAMETER = "Reason"


def deletion_reason() -> str | None:
    """The request's validated `Reason` (None when absent and not required); raises
    InvalidMfaRequest (400/60306 naming `Reason`) when it is malformed, repeated, or
    missing for a principal that may not enrol factors."""
    given = request.args.getlist(REASON_PARAMETER)
    if len(given) > 1:
        raise InvalidMfaRequest(REASON_PARAMETER, "give one reason")
    if not given:
        if current_principal().may(Permission.MFA_ENROL):
            return None
        raise InvalidMfaRequest(
            REASON_PARAMETER, "required for a support key: say why the factor is deleted"
        )
    try:
        return stated_reason(given[0], REASON_PARAMETER)
    except InvalidParameter as exc:
        raise InvalidMfaRequest(exc.parameter, exc.reason) from None

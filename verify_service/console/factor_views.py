"""The console's MFA pages ("I lost my phone"): an identity's factors in a service, and
deleting one with a reason after a confirmation page.

Like the destination search, the identity is posted, never put in a URL; the pages that
follow carry it only sealed to the session (`_seal_identity`), with the service, so an
action acts on exactly what was looked up: a factor sid from another identity or service
is not found, and a token from another session (or a destination search's) is refused.
Nothing here can create a factor: the console has no such page.
"""

from __future__ import annotations

import base64
import binascii

from flask import Response, request

from verify_service.application.support.factor_support import FactorSupport, IdentityFactors
from verify_service.application.support.staff_users import session_key
from verify_service.console.guard import Refusal, components
from verify_service.console.views import (
    _page,
    _session,
    _staff,
    blueprint,
    refusal_text,
    service_choices,
)
from verify_service.domain.errors import InvalidParameter, NotFound, StoreUnavailable, VerifyError
from verify_service.domain.staff import FACTOR_DELETE_REASONS, action_reason
from verify_service.http.error_codes import ERROR_CODES

_SEALED_KIND = "factors"  # first part of a sealed identity: a search token is not one
IDENTITY_HELP = (
    "Enter the identity as your application registered it: 8 to 64 letters and digits, "
    "in groups joined by single dashes."
)


def _support() -> FactorSupport:
    support = components().factors
    if support is None:  # a deployment built without MFA
        raise Refusal(404, "This deployment has no MFA factors.")
    return support


def _seal_identity(service_sid: str, identity: str) -> str:
    context = session_key(_session().session_id).encode("ascii")
    sealed = components().sealer.seal(f"{_SEALED_KIND}\x00{service_sid}\x00{identity}", context)
    return base64.urlsafe_b64encode(sealed).decode("ascii")


def _unseal_identity(token: str) -> tuple[str, str]:
    """The (service, identity) a page's token holds; refused when it is not this session's
    or not a factor page's."""
    context = session_key(_session().session_id).encode("ascii")
    try:
        opened = components().sealer.open(base64.urlsafe_b64decode(token.encode()), context)
    except (binascii.Error, ValueError):
        opened = None
    parts = opened.split("\x00") if opened is not None else []
    if len(parts) != 3 or parts[0] != _SEALED_KIND:
        raise Refusal(400, "This page belongs to an earlier session. Look the identity up again.")
    return parts[1], parts[2]


def _form(status: int = 200, error: str | None = None, service_sid: str = "") -> Response:
    return _page(
        "factors.html",
        status,
        services=service_choices(components().support.services()),
        selected_service=service_sid,
        error=error,
        found=None,
    )


def _list(
    found: IdentityFactors,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    return _page(
        "factors.html",
        status,
        services=service_choices(components().support.services()),
        selected_service=found.service_sid,
        found=found,
        identity_token=_seal_identity(found.service_sid, found.identity),
        notice=notice,
        error=error,
    )


@blueprint.get("/factors")
def factors() -> Response:
    _support()
    return _form()


@blueprint.post("/factors")
def factors_submit() -> Response:
    service_sid = request.form.get("service", "").strip()
    identity = request.form.get("identity", "").strip()
    try:
        found = _support().lookup(_staff(), service_sid, identity)
    except InvalidParameter:
        return _form(400, IDENTITY_HELP, service_sid)
    except NotFound:
        return _form(404, "No such service.", service_sid)
    return _list(found, 200 if found.entity_sid else 404)


@blueprint.post("/factors/list")
def factors_list() -> Response:
    """Back to the list from the confirmation page (the look-up already audited)."""
    service_sid, identity = _unseal_identity(request.form.get("identity_token", ""))
    return _list(_support().factors(service_sid, identity))


_GONE = "This factor is not one of this identity's factors any more (deleted already?)."


def _confirm_page(
    service_sid: str, identity: str, status: int = 200, error: str | None = None
) -> Response:
    """The factor named by the form, the reason form and the delete button; the list with
    an error when the factor is not one of the identity's."""
    support = _support()
    found = support.factors(service_sid, identity)
    factor_sid = request.form.get("factor", "")
    factor = next((factor for factor in found.factors if factor.sid == factor_sid), None)
    if factor is None:
        return _list(found, 404, error=_GONE)
    return _page(
        "factor_delete.html",
        status,
        found=found,
        factor=factor,
        identity_token=_seal_identity(service_sid, identity),
        presets=FACTOR_DELETE_REASONS,
        error=error,
    )


@blueprint.post("/factors/confirm")
def factor_confirm() -> Response:
    """The confirmation page: the factor, the reason form and the delete button."""
    service_sid, identity = _unseal_identity(request.form.get("identity_token", ""))
    return _confirm_page(service_sid, identity)


@blueprint.post("/factors/delete")
def factor_delete() -> Response:
    service_sid, identity = _unseal_identity(request.form.get("identity_token", ""))
    support = _support()
    try:
        reason = action_reason(
            request.form.get("reason", ""), request.form.get("details", ""), FACTOR_DELETE_REASONS
        )
    except InvalidParameter as exc:
        return _confirm_page(service_sid, identity, 400, refusal_text(exc))
    factor_sid = request.form.get("factor", "")
    status, notice, error = 200, None, None
    try:
        support.delete(_staff(), service_sid, identity, factor_sid, reason)
        notice = f"The factor {factor_sid} was deleted."
    except NotFound:
        status, error = 404, _GONE
    except StoreUnavailable:
        raise
    except VerifyError as exc:
        wire = ERROR_CODES.get(type(exc))
        status, error = (wire.status if wire is not None else 409), refusal_text(exc)
    return _list(support.factors(service_sid, identity), status, notice=notice, error=error)

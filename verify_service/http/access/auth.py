"""HTTP Basic authentication and per-route permissions for `/v2`.

A view declares its permission with `@requires(...)`; a view without one is refused, so a
new route cannot be left open by mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Response, current_app, g, request

from verify_service.application.access.access import ROLES, Authenticator, Permission, Principal
from verify_service.http.error_codes import AUTHENTICATE, error_response

F = TypeVar("F", bound=Callable[..., object])
_PERMISSION_ATTRIBUTE = "_verify_permission"
# Twilio's text, and for a permission no other role holds (webhooks, API keys, the audit
# log), what would be allowed: the body keeps Twilio's shape.
DENIED = "Permission Denied"
ADMIN_ONLY_DENIED = (
    "Permission Denied: this needs an admin credential (the account's auth token or an "
    "admin API key)"
)


def _denied(permission: Permission | None) -> str:
    admin_only = permission is not None and not any(
        permission in granted for role, granted in ROLES.items() if role != "admin"
    )
    return ADMIN_ONLY_DENIED if admin_only else DENIED


def requires(permission: Permission) -> Callable[[F], F]:
    def mark(view: F) -> F:
        setattr(view, _PERMISSION_ATTRIBUTE, permission)
        return view

    return mark


def _refuse(status: int, message: str) -> Response:
    response = error_response(AUTHENTICATE, status, message)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="verify-service"'
    return response


def authenticate_request(authenticator: Authenticator) -> Response | None:
    """`before_request` hook for every route but the health checks: sets `g.principal`,
    or answers 401/403 (code 20003)."""
    credentials = request.authorization
    principal: Principal | None = None
    if credentials is not None and credentials.type == "basic":
        principal = authenticator.authenticate(
            credentials.username or "", credentials.password or ""
        )
    if principal is None:
        return _refuse(401, "Authenticate")
    g.authenticated = principal  # even when refused below: the audit log names who was denied
    if request.routing_exception is not None:
        return None  # an authenticated caller learns that the route does not exist (404/405)
    view = current_app.view_functions.get(request.endpoint or "")
    permission = getattr(view, _PERMISSION_ATTRIBUTE, None)
    if permission is None or not principal.may(permission):
        return _refuse(403, _denied(permission))
    g.principal = principal
    return None


def permission_denied() -> Response:
    """403/20003 from inside a view, for a request form that needs a second permission."""
    return _refuse(403, "Permission Denied")


def route_permission(endpoint: str | None) -> Permission | None:
    """The permission the endpoint's view declared with `@requires` (None: none)."""
    view = current_app.view_functions.get(endpoint or "")
    permission: Permission | None = getattr(view, _PERMISSION_ATTRIBUTE, None)
    return permission


def authenticated_principal() -> Principal | None:
    """Whoever the request's credentials named, even if the route then refused them."""
    principal: Principal | None = g.get("authenticated")
    return principal


def current_principal() -> Principal:
    principal: Principal = g.principal
    return principal

"""The console's own authentication: the session cookie, CSRF tokens, security headers.

- Session cookie `vs_console`: a random 256-bit id, `Secure`, `HttpOnly`, `SameSite=Strict`,
  `Path=/console`; no `Max-Age` (the server enforces the idle timeout and lifetime).
- Every POST carries the session's CSRF token (`csrf_token`), compared in constant time;
  the sign-in form, before any session exists, a double-submit token (`vs_console_login`).
- With `secure_cookie` off (tests on http://127.0.0.1), only loopback clients are served.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Response, abort, current_app, g, request

from verify_service.application.support.staff_users import ConsoleSession
from verify_service.console.components import COMPONENTS_KEY, ConsoleComponents
from verify_service.domain.protection.forwarded import client_address

SESSION_COOKIE = "vs_console"
LOGIN_COOKIE = "vs_console_login"
COOKIE_PATH = "/console"
LOGIN_TOKEN_SECONDS = 3600
_LOOPBACK = frozenset({"127.0.0.1", "::1"})
# Pages any visitor may reach without a session.
PUBLIC_ENDPOINTS = frozenset({"console.login", "console.static"})

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def components() -> ConsoleComponents:
    found: ConsoleComponents = current_app.extensions[COMPONENTS_KEY]
    return found


def current_session() -> ConsoleSession | None:
    session: ConsoleSession | None = g.get("console_session")
    return session


def client_ip() -> str:
    """The client's address: the peer's, or behind a trusted proxy the one it forwards."""
    return client_address(
        request.remote_addr or "unknown",
        request.headers.getlist("X-Forwarded-For"),
        components().trusted_proxies,
    )


def same_token(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=components().secure_cookie,
        httponly=True,
        samesite="Strict",
    )


def set_session_cookie(response: Response, session_id: str) -> None:
    _set_cookie(response, SESSION_COOKIE, session_id)
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=COOKIE_PATH,
        secure=components().secure_cookie,
        httponly=True,
        samesite="Strict",
    )


def new_login_token(response: Response, token: str) -> None:
    _set_cookie(response, LOGIN_COOKIE, token, LOGIN_TOKEN_SECONDS)


def login_token() -> str:
    return secrets.token_urlsafe(32)


def login_token_matches() -> bool:
    return same_token(request.form.get("login_token"), request.cookies.get(LOGIN_COOKIE))


class Refusal(Exception):
    """A request the console refuses before any view runs (rendered by views.py)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def guard_request() -> None:
    """`before_request` of the console blueprint: loopback-only when cookies are not
    secure; the session; CSRF on every POST."""
    settings = components()
    if not settings.secure_cookie and client_ip() not in _LOOPBACK:
        abort(403)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    g.console_session = settings.staff.resume(session_id) if session_id else None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    session = current_session()
    if session is None:
        raise Refusal(401, "Your session has ended. Sign in again.")
    if request.method == "POST" and not same_token(
        request.form.get("csrf_token"), session.csrf_token
    ):
        raise Refusal(403, "This form has expired or did not come from the console. Reload it.")


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response

"""The console's pages. Thin: parse the form, call a use case, render a template.

A search is a POST (the number never enters a URL, a log line or the browser's history);
the page that answers carries the search only as a sealed token bound to the session, and
every destination it shows is masked.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from verify_service.application.support.staff_users import (
    ConsoleSession,
    LoginRefused,
    LoginThrottled,
    session_key,
)
from verify_service.application.support.support_console import Staff, Timeline, VerificationChanged
from verify_service.console.audit_query import SUGGESTED_ACTIONS, audit_filters
from verify_service.console.components import BLUEPRINT_NAME
from verify_service.console.guard import (
    Refusal,
    add_security_headers,
    clear_session_cookie,
    client_ip,
    components,
    current_session,
    guard_request,
    login_token,
    login_token_matches,
    new_login_token,
    set_session_cookie,
)
from verify_service.console.times import shown_time
from verify_service.domain.errors import (
    InvalidParameter,
    NotFound,
    RateLimitExceeded,
    StoreUnavailable,
    TooManyConcurrentRequests,
    VerifyError,
)
from verify_service.domain.models import MAX_CHECKS_PER_VERIFICATION, MAX_SENDS_PER_VERIFICATION
from verify_service.domain.service import Service
from verify_service.domain.staff import PRESET_REASONS, action_reason
from verify_service.http.error_codes import ERROR_CODES

blueprint = Blueprint(
    BLUEPRINT_NAME,
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
blueprint.before_request(guard_request)
blueprint.after_request(add_security_headers)
AUDIT_PAGE_SIZE = 25
MAX_NAME_SHOWN = 200  # a user name typed into the sign-in form, shown back after a refusal


@blueprint.app_template_filter("console_time")
def console_time(milliseconds: int | None) -> str:
    return shown_time(milliseconds, components().time_zone)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return Response(
        render_template(f"console/{template}", session=current_session(), **context),
        status=status,
        mimetype="text/html",
    )


def _session() -> ConsoleSession:
    session = current_session()
    if session is None:  # unreachable: guard_request refuses first
        raise Refusal(401, "Your session has ended. Sign in again.")
    return session


def _staff() -> Staff:
    session = _session()
    return Staff(session.user_name, session.role.value)


def refusal_text(exc: VerifyError) -> str:
    """A refusal as support staff read it: the API's message and wire code, and when to
    try again."""
    wire = ERROR_CODES.get(type(exc))
    if isinstance(exc, VerificationChanged):
        text = "This verification is no longer the pending one. Search again."
    elif isinstance(exc, NotFound):
        text = "Not found: no such service, or the verification has ended."
    elif isinstance(exc, InvalidParameter):
        text = f"Invalid {exc.parameter}" + (f": {exc.reason}" if exc.reason else "")
    elif wire is not None:
        text = f"Refused: {wire.message(exc)} (error {wire.code})"
    else:
        text = "Refused."
    retry_after = getattr(exc, "retry_after_seconds", None)
    if retry_after:
        minutes = -(-retry_after // 60)
        text += f". Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    return text


def wire_outcome(exc: VerifyError) -> str:
    """A refusal as the audit log records it: the API's wire code."""
    wire = ERROR_CODES.get(type(exc))
    return str(wire.code) if wire is not None else type(exc).__name__


# -- errors ------------------------------------------------------------------------------------

CONSOLE_PATH = "/console"
_ERROR_TEXT = {
    404: "There is no such console page.",
    405: "This page cannot be used that way.",
}


def is_console_path(path: str) -> bool:
    """`/console` and everything under `/console/` belong to the console (a browser's)."""
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


def error_page(status: int, title: str) -> Response | None:
    """The app's error handlers ask this first (`register_error_handlers(page_for=...)`):
    an error on a console path, a route-less one included (404, 405), is an HTML page of
    the console, never the API's JSON or a Basic challenge. None for any other path."""
    if not is_console_path(request.path):
        return None
    message = _ERROR_TEXT.get(status, "The console could not answer this request.")
    return add_security_headers(_page("message.html", status, title=title, message=message))


@blueprint.errorhandler(Refusal)
def refused(exc: Refusal) -> Response:
    if exc.status == 401 and request.method == "GET":
        return redirect(url_for("console.login"), 303)  # type: ignore[return-value]
    if exc.status == 401:
        response = _page("message.html", 401, title="Session ended", message=exc.message)
        clear_session_cookie(response)
        return response
    return _page("message.html", exc.status, title="Refused", message=exc.message)


@blueprint.errorhandler(StoreUnavailable)
def unavailable(_exc: StoreUnavailable) -> Response:
    response = _page(
        "message.html",
        503,
        title="Unavailable",
        message="The service's store cannot be reached. Nothing was changed; try again.",
    )
    response.headers["Retry-After"] = "1"
    return response


@blueprint.errorhandler(TooManyConcurrentRequests)
def busy(_exc: TooManyConcurrentRequests) -> Response:
    """Another process kept winning a race (the audit log's head, a verification's slot):
    an HTML page that says so, never the API's JSON."""
    response = _page(
        "message.html",
        429,
        title="Busy",
        message="Too many changes at once. Nothing was changed; try again (error 60212).",
    )
    response.headers["Retry-After"] = "1"
    return response


# -- sign-in -----------------------------------------------------------------------------------


def _login_page(
    status: int = 200, error: str | None = None, notice: str | None = None, name: str = ""
) -> Response:
    """The sign-in form; after a refusal it keeps the user name typed (never the password)."""
    token = login_token()
    response = _page("login.html", status, login_token=token, error=error, notice=notice, name=name)
    new_login_token(response, token)
    return response


@blueprint.get("/")
def index() -> Response:
    return redirect(url_for("console.search"), 303)  # type: ignore[return-value]


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response:
    if request.method == "GET":
        if current_session() is not None:
            return redirect(url_for("console.search"), 303)  # type: ignore[return-value]
        notice = "You are signed out." if request.args.get("signed_out") else None
        return _login_page(notice=notice)
    name = request.form.get("name", "")[:MAX_NAME_SHOWN]
    if not login_token_matches():
        return _login_page(403, error="The sign-in form expired. Try again.", name=name)
    parts = components()
    try:
        session = parts.staff.login(name, request.form.get("password", ""), client_ip())
    except LoginThrottled as exc:
        minutes = -(-exc.retry_after_seconds // 60)
        parts.support.record_session_event("console", "none", "console.login", "throttled")
        return _login_page(
            429, error=f"Too many sign-in attempts. Try again in {minutes} min.", name=name
        )
    except LoginRefused as exc:
        outcome = "locked" if exc.locked_now else "refused"
        actor = exc.user_name or "(unknown user)"
        parts.support.record_session_event(actor, "none", "console.login", outcome)
        return _login_page(
            401,
            error="Wrong user name or password, or the account is locked or disabled.",
            name=name,
        )
    parts.support.record_session_event(session.user_name, session.role.value, "console.login", "ok")
    response: Response = redirect(url_for("console.search"), 303)  # type: ignore[assignment]
    set_session_cookie(response, session.session_id)
    return response


@blueprint.post("/logout")
def logout() -> Response:
    session = _session()
    parts = components()
    parts.staff.logout(session.session_id)
    parts.support.record_session_event(
        session.user_name, session.role.value, "console.logout", "ok"
    )
    response: Response = redirect(url_for("console.login", signed_out=1), 303)  # type: ignore[assignment]
    clear_session_cookie(response)
    return response


# -- search and the timeline -------------------------------------------------------------------


def _seal(service_sid: str, to: str) -> str:
    context = session_key(_session().session_id).encode("ascii")
    sealed = components().sealer.seal(f"{service_sid}\x00{to}", context)
    return base64.urlsafe_b64encode(sealed).decode("ascii")


def _unseal(token: str) -> tuple[str, str]:
    """The search a page's token holds; refused when it is not this session's."""
    context = session_key(_session().session_id).encode("ascii")
    try:
        opened = components().sealer.open(base64.urlsafe_b64decode(token.encode()), context)
    except (binascii.Error, ValueError):
        opened = None
    if opened is None or "\x00" not in opened:
        raise Refusal(400, "This page belongs to an earlier session. Search again.")
    service_sid, to = opened.split("\x00", 1)
    return service_sid, to


def service_choices(services: list[Service]) -> list[tuple[str, str]]:
    """The service selector's options, (sid, label): the friendly name (at most 30
    characters, so it fits a phone's screen), and the sid's last six characters only where
    two services share a name. The full sid is the option's title and the timeline's."""
    counts = Counter(service.friendly_name for service in services)
    return [
        (
            service.sid,
            service.friendly_name
            if counts[service.friendly_name] == 1
            else f"{service.friendly_name} · …{service.sid[-6:]}",
        )
        for service in services
    ]


def _search_form(status: int = 200, error: str | None = None, service_sid: str = "") -> Response:
    return _page(
        "search.html",
        status,
        services=service_choices(components().support.services()),
        selected_service=service_sid,
        error=error,
        timeline=None,
    )


def _timeline_page(
    timeline: Timeline,
    to: str,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    return _page(
        "search.html",
        status,
        services=service_choices(components().support.services()),
        selected_service=timeline.service_sid,
        timeline=timeline,
        max_sends=MAX_SENDS_PER_VERIFICATION,
        max_checks=MAX_CHECKS_PER_VERIFICATION,
        search_token=_seal(timeline.service_sid, to),
        presets=PRESET_REASONS,
        notice=notice,
        error=error,
    )


@blueprint.get("/search")
def search() -> Response:
    return _search_form()


@blueprint.post("/search")
def search_submit() -> Response:
    service_sid = request.form.get("service", "").strip()
    to = request.form.get("to", "").strip()
    try:
        timeline = components().support.search(_staff(), service_sid, to)
    except InvalidParameter:
        return _search_form(
            400,
            "Enter a phone number in E.164 form (+447700900123) or an e-mail address.",
            service_sid,
        )
    except NotFound:
        return _search_form(404, "No such service.", service_sid)
    except RateLimitExceeded as exc:
        return _lookups_refused(exc, service_sid)
    return _timeline_page(timeline, to)


def _lookups_refused(exc: RateLimitExceeded, service_sid: str) -> Response:
    """429 past the hourly limit of searches by number or address (every one is audited)."""
    retry_after = exc.retry_after_seconds or 1
    minutes = -(-retry_after // 60)
    per_hour = components().support.lookups_per_hour
    response = _search_form(
        429,
        f"Search limit reached: support staff may search by number or e-mail address "
        f"{per_hour} times per hour, and every search is audited. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''} (error 20429).",
        service_sid,
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def _act(action: str) -> Response:
    service_sid, to = _unseal(request.form.get("search", ""))
    support = components().support
    verification_sid = request.form.get("verification", "")
    status, notice, error = 200, None, None
    try:
        reason = action_reason(request.form.get("reason", ""), request.form.get("details", ""))
    except InvalidParameter as exc:
        status, error = 400, refusal_text(exc)
    else:
        try:
            if action == "resend":
                channel = request.form.get("channel", "")
                support.resend(_staff(), service_sid, to, verification_sid, channel, reason)
                notice = f"A new code was sent by {channel}."
            else:
                support.cancel(_staff(), service_sid, to, verification_sid, reason)
                notice = "The verification was canceled."
        except StoreUnavailable:
            raise
        except VerifyError as exc:
            wire = ERROR_CODES.get(type(exc))
            status = wire.status if wire is not None else 409
            if isinstance(exc, VerificationChanged):
                status = 409
            error = refusal_text(exc)
    timeline = support.timeline(service_sid, to)
    return _timeline_page(timeline, to, status, notice=notice, error=error)


@blueprint.post("/resend")
def resend() -> Response:
    return _act("resend")


@blueprint.post("/cancel")
def cancel() -> Response:
    return _act("cancel")


# -- admin pages -------------------------------------------------------------------------------


def _require_admin() -> None:
    if not _session().is_admin:
        raise Refusal(403, "This page is for console admins.")


@blueprint.get("/audit")
def audit() -> Response:
    _require_admin()
    parts = components()
    filters = audit_filters(request.args, parts.time_zone)
    found = parts.support.audit_page(filters.query, AUDIT_PAGE_SIZE, filters.before, filters.log)
    return _page(
        "audit.html",
        400 if filters.errors else 200,
        records=found.records,
        filters=filters,
        suggested_actions=SUGGESTED_ACTIONS,
        time_zone=parts.time_zone.key,
        newer_args=filters.link_args(None) if filters.before else None,
        older_args=filters.link_args(found.next_before) if found.next_before else None,
        available=parts.support.has_audit_trail,
    )


@blueprint.get("/keys")
def keys() -> Response:
    _require_admin()
    support = components().support
    return _page("keys.html", keys=support.api_keys(), available=support.has_api_keys)

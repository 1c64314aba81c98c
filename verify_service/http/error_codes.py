"""The one table from named exceptions to Twilio's wire codes, and the error handlers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from verify_service.application.delivery.delivery_receipts import ReceiptRejected
from verify_service.application.templates.templates import TooManyTemplates
from verify_service.domain import errors
from verify_service.domain.destinations import mask_destination
from verify_service.domain.mfa import passkey_errors
from verify_service.domain.webhooks.rules import TooManyWebhooks

log = logging.getLogger(__name__)


# A path whose last segment is a phone number: masked in error messages, like in logs.
_NUMBER_PATHS = ("/v2/SafeList/Numbers/",)


def _shown_path() -> str:
    """`request.path` for an error message, with a phone number in it masked."""
    path = request.path
    for prefix in _NUMBER_PATHS:
        if path.startswith(prefix):
            return prefix + mask_destination(path.removeprefix(prefix))
    return path


@dataclass(frozen=True, slots=True)
class WireError:
    code: int
    status: int
    message: Callable[[errors.VerifyError], str]


ERROR_CODES: dict[type[errors.VerifyError], WireError] = {
    errors.InvalidParameter: WireError(60200, 400, str),
    errors.NotFound: WireError(
        20404, 404, lambda _: f"The requested resource {_shown_path()} was not found"
    ),
    errors.FactorNotFound: WireError(20404, 404, lambda e: f"{e} for this entity"),
    errors.MaxCheckAttemptsReached: WireError(60202, 429, lambda _: "Max check attempts reached"),
    errors.MaxSendAttemptsReached: WireError(60203, 429, lambda _: "Max send attempts reached"),
    errors.FeatureNotEnabled: WireError(60204, 403, str),
    errors.ParameterNotPermitted: WireError(20003, 403, str),
    errors.Psd2ParametersRequired: WireError(
        60206, 400, lambda _: "'Amount' & 'Payee' params are required"
    ),
    errors.TooManyConcurrentRequests: WireError(
        60212, 429, lambda _: "Too many concurrent requests for phone number"
    ),
    errors.RateLimitExceeded: WireError(20429, 429, str),
    errors.MaxChecksPerDestinationReached: WireError(
        60202, 429, lambda _: "Max check attempts reached"
    ),
    errors.LandlineNotSupported: WireError(
        60205, 403, lambda _: "SMS is not supported by landline phone number"
    ),
    errors.GeoPermissionDenied: WireError(60605, 403, str),
    errors.MessagingConfigurationExists: WireError(60213, 400, str),
    errors.DeliveryBlocked: WireError(60410, 403, str),
    ReceiptRejected: WireError(20003, 403, lambda _: "Permission Denied"),
    errors.RateLimitConfigError: WireError(60207, 400, str),  # code chosen per instance
    # MFA (Twilio's 603xx codes: docs/mfa.md, "Errors").
    errors.InvalidMfaRequest: WireError(60306, 400, str),
    errors.TooManyFactors: WireError(60306, 400, lambda e: f"Invalid request: {e}"),
    errors.FactorNotVerified: WireError(
        60318, 403, lambda _: "Factor is unverified: verify it (AuthPayload) before a challenge"
    ),
    errors.ChallengeExpired: WireError(60323, 403, lambda _: "Challenge expired"),
    errors.ChallengeNotPending: WireError(
        60306, 400, lambda _: "Invalid request: the challenge was already answered"
    ),
    errors.FactorVerificationAttemptsReached: WireError(60310, 429, str),
    errors.ChallengeVerificationAttemptsReached: WireError(60308, 429, str),
    errors.TooManyPendingChallenges: WireError(20429, 429, str),
    errors.MfaConcurrentRequests: WireError(
        60212, 429, lambda _: "Too many concurrent requests for this entity: retry"
    ),
    errors.StoreUnavailable: WireError(
        20503, 503, lambda _: "Service unavailable: the state store cannot be reached"
    ),
    # Passkeys (docs/mfa.md, "Passkeys"): a failed WebAuthn check, a ceremony that is unknown
    # or already used (a replay), one past its timeout (Twilio's challenge-expired code).
    passkey_errors.PasskeyRefused: WireError(60306, 400, str),
    passkey_errors.PasskeyCeremonyNotFound: WireError(20404, 404, str),
    passkey_errors.PasskeyCeremonyExpired: WireError(60323, 403, str),
    passkey_errors.PasskeyTooManyPending: WireError(60306, 429, str),
    # Webhooks (docs/webhooks.md): the per-service cap, as a bad request like Twilio's.
    TooManyWebhooks: WireError(60200, 400, str),
    # Templates (docs/messages.md, "Templates"): Twilio's code for a template without
    # wording for the channel; the deployment's cap, as a bad request.
    errors.TemplateChannelNotSupported: WireError(60227, 400, str),
    TooManyTemplates: WireError(60200, 400, str),
}

# Errors raised outside the use cases (routing, authentication).
AUTHENTICATE = 20003
METHOD_NOT_ALLOWED = 20004
INTERNAL_ERROR = 20500


def error_response(code: int, status: int, message: str) -> Response:
    """Twilio's error body: {code, message, more_info, status}."""
    response = jsonify(
        code=code,
        message=message,
        more_info=f"https://www.twilio.com/docs/errors/{code}",
        status=status,
    )
    response.status_code = status
    return response


# An HTML page for an error on a path a browser uses (the console), or None for the API's
# JSON; given the status and a short title. Set by `register_error_handlers(page_for=...)`.
PageFor = Callable[[int, str], Response | None]
PAGE_FOR_KEY = "verify_service.error_page"


def _page_for(status: int, title: str) -> Response | None:
    page_for: PageFor | None = current_app.extensions.get(PAGE_FOR_KEY)
    return page_for(status, title) if page_for is not None else None


def _wire_error(exc: errors.VerifyError) -> Response:
    if isinstance(exc, errors.RateLimitConfigError):
        return error_response(exc.code, 400, str(exc))
    wire = ERROR_CODES[type(exc)]
    response = error_response(wire.code, wire.status, wire.message(exc))
    retry_after = getattr(exc, "retry_after_seconds", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    if isinstance(exc, errors.StoreUnavailable | errors.TooManyConcurrentRequests):
        response.headers["Retry-After"] = "1"  # both clear within a moment
    if isinstance(exc, errors.StoreUnavailable):
        log.warning("store unavailable: %s", exc)
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    page = _page_for(status, exc.name)
    if page is not None:
        if status == 405:
            page.headers["Allow"] = ", ".join(exc.get_response().allow)
        return page
    if status == 404:
        return error_response(20404, 404, f"The requested resource {_shown_path()} was not found")
    if status == 405:
        response = error_response(METHOD_NOT_ALLOWED, 405, "Method not allowed")
        response.headers["Allow"] = ", ".join(exc.get_response().allow)
        return response
    if status == 413:
        return error_response(60200, 413, "Invalid parameter: request body too large")
    if status == 400:
        return error_response(60200, 400, "Invalid parameter: malformed request body")
    return error_response(status * 100 if status < 600 else INTERNAL_ERROR, status, exc.name)


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled %s", type(exc).__name__)
    page = _page_for(500, "Internal server error")
    if page is not None:
        return page
    return error_response(INTERNAL_ERROR, 500, "Internal server error")


def register_error_handlers(app: Flask, page_for: PageFor | None = None) -> None:
    """The wire errors, HTTP errors and the last-resort 500. `page_for` answers the paths
    that belong to a browser UI (the console) with an HTML page instead of JSON."""
    if page_for is not None:
        app.extensions[PAGE_FOR_KEY] = page_for
    for exception_type in ERROR_CODES:
        app.register_error_handler(exception_type, _wire_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

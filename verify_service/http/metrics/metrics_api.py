"""`GET /metrics` (Prometheus' text format) and the hooks that count every request.

- `VERIFY_METRICS_TOKEN` unset: metrics are off; nothing is counted and `/metrics` answers
  404 (20404), as a route that does not exist, whatever the credentials.
- set: `/metrics` needs `Authorization: Bearer <token>`; a missing or wrong token is a 401
  (20003) with `WWW-Authenticate: Bearer`. The API's own credentials open nothing here.

A request is counted by its URL rule's template (`/v2/Services/<ServiceSid>`), never the path
a client sent; a request that matched no route is counted as `unmatched`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, g, request

from verify_service.application.metrics.ports import Metrics, NoMetrics
from verify_service.application.metrics.scrape_token import bearer_token_matches
from verify_service.http.error_codes import AUTHENTICATE, error_response

METRICS_ENDPOINT = "metrics.scrape"
UNMATCHED_ROUTE = "unmatched"
_STORE_UNAVAILABLE = 20503
_STARTED = "_metrics_started"

# The body and content type of one scrape (adapters/metrics/exposition.py).
Exposition = Callable[[], tuple[bytes, str]]


def init_app(
    app: Flask, metrics: Metrics, exposition: Exposition | None, token: str | None
) -> None:
    """Call before any other `before_request` hook is registered, so that the time counted
    includes authentication."""
    blueprint = Blueprint("metrics", __name__)

    @blueprint.get("/metrics")
    def scrape() -> Response:
        if token is None or exposition is None:
            return error_response(20404, 404, "The requested resource /metrics was not found")
        if not bearer_token_matches(request.headers.get("Authorization"), token):
            response = error_response(
                AUTHENTICATE, 401, "Authenticate: send Authorization: Bearer <VERIFY_METRICS_TOKEN>"
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        body, content_type = exposition()
        return Response(body, content_type=content_type)

    app.register_blueprint(blueprint)
    if isinstance(metrics, NoMetrics):
        return  # metrics off: not even a clock read per request

    @app.before_request
    def start_clock() -> None:
        setattr(g, _STARTED, time.perf_counter())

    @app.after_request
    def count(response: Response) -> Response:
        started = getattr(g, _STARTED, None)
        if started is None:
            return response
        rule = request.url_rule
        metrics.http_request(
            request.method,
            rule.rule if rule is not None else UNMATCHED_ROUTE,
            response.status_code,
            time.perf_counter() - started,
        )
        if response.status_code == 503 and _failed_closed(response):
            metrics.redis_error("api")
        return response


def _failed_closed(response: Response) -> bool:
    """A 503 that says the store could not be reached (20503), not another 503."""
    body = response.get_json(silent=True) if response.is_json else None
    return isinstance(body, dict) and body.get("code") == _STORE_UNAVAILABLE

"""`/healthz` (the process is up) and `/readyz` (Redis answers and keeps what it is given):
no authentication."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, jsonify

HEALTH_ENDPOINTS = frozenset({"health.healthz", "health.readyz"})


class NotReachable(Exception):
    """Raised by `misconfiguration` when Redis stopped answering during its check."""


def init_app(
    app: Flask,
    ping: Callable[[], bool],
    misconfiguration: Callable[[], str | None] = lambda: None,
) -> None:
    """`misconfiguration` gives the code of what makes a reachable Redis unfit
    (`redis_eviction_policy`, `redis_eviction_policy_unknown`), or None; it is asked only
    when `ping` succeeded. The answer never says more than that code: `/readyz` is open to
    anyone, so the detail (host:port, policy) is for the log only."""
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @blueprint.get("/readyz")
    def readyz() -> Response:
        try:
            if not ping():
                raise NotReachable
            problem = misconfiguration()
        except NotReachable:
            response = jsonify(status="unavailable")
        else:
            if problem is None:
                return jsonify(status="ready")
            response = jsonify(status="misconfigured", problem=problem)
        response.status_code = 503
        return response

    app.register_blueprint(blueprint)

"""`/healthz` (the process is up) and `/readyz` (Redis answers and keeps what it is given):
no authentication."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, jsonify

HEALTH_ENDPOINTS = frozenset({"health.healthz", "health.readyz"})


def init_app(
    app: Flask,
    ping: Callable[[], bool],
    misconfiguration: Callable[[], str | None] = lambda: None,
) -> None:
    """`misconfiguration` says what makes a reachable Redis unfit (an eviction policy), or
    None; it is asked only when `ping` succeeded."""
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @blueprint.get("/readyz")
    def readyz() -> Response:
        if not ping():
            response = jsonify(status="unavailable")
        elif (problem := misconfiguration()) is not None:
            response = jsonify(status="misconfigured", problem=problem)
        else:
            return jsonify(status="ready")
        response.status_code = 503
        return response

    app.register_blueprint(blueprint)

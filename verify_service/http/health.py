"""`/healthz` (the process is up) and `/readyz` (Redis answers): no authentication."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, jsonify

HEALTH_ENDPOINTS = frozenset({"health.healthz", "health.readyz"})


def init_app(app: Flask, ping: Callable[[], bool]) -> None:
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @blueprint.get("/readyz")
    def readyz() -> Response:
        if ping():
            return jsonify(status="ready")
        response = jsonify(status="unavailable")
        response.status_code = 503
        return response

    app.register_blueprint(blueprint)

"""`/healthz` (the process is up) and `/readyz` (Redis answers and keeps what it is given,
and how delivery is doing): no authentication. The body of `/readyz` is documented in
docs/operations.md, "Health and supervision"."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from flask import Blueprint, Flask, Response, jsonify

from verify_service.domain.errors import StoreUnavailable


class DeliveryReport(Protocol):
    def as_json(self) -> dict[str, Any]: ...


HEALTH_ENDPOINTS = frozenset({"health.healthz", "health.readyz"})
# `/readyz` is open to anyone, and its delivery section costs Redis four commands per outbox
# shard: that section is read at most once per this many seconds in a process.
DELIVERY_REPORT_CACHE_SECONDS = 1.0


class NotReachable(Exception):
    """Raised by `misconfiguration` when Redis stopped answering during its check."""


def init_app(
    app: Flask,
    ping: Callable[[], bool],
    misconfiguration: Callable[[], str | None] = lambda: None,
    delivery: Callable[[], DeliveryReport] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """`misconfiguration` gives the code of what makes a reachable Redis unfit
    (`redis_eviction_policy`, `redis_eviction_policy_unknown`), or None; it is asked only
    when `ping` succeeded. The answer never says more than that code: `/readyz` is open to
    anyone, so the detail (host:port, policy) is for the log only.

    `delivery` reports the workers and the outbox (application/delivery/supervision.py). Its
    trouble (no live worker, an old backlog) is reported in the body's `delivery` section
    but leaves `/readyz` at 200: taking API processes out of rotation would not bring a
    worker back, and would stop checks of codes already sent (docs/operations.md).

    The delivery section is kept `DELIVERY_REPORT_CACHE_SECONDS` per process (a flood of
    probes costs Redis one reading of the outbox a second); PING and the eviction-policy
    check run at every probe, so an unreachable or unfit Redis shows at once."""
    blueprint = Blueprint("health", __name__)
    cached: list[tuple[float, dict[str, Any]]] = []

    def delivery_report(report: Callable[[], DeliveryReport]) -> dict[str, Any]:
        now = monotonic()
        if cached and 0 <= now - cached[0][0] < DELIVERY_REPORT_CACHE_SECONDS:
            return cached[0][1]
        fresh = report().as_json()
        cached[:] = [(now, fresh)]
        return fresh

    @blueprint.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @blueprint.get("/readyz")
    def readyz() -> Response:
        try:
            if not ping():
                raise NotReachable
            problem = misconfiguration()
            report = delivery_report(delivery) if delivery is not None and problem is None else None
        except (NotReachable, StoreUnavailable):
            response = jsonify(status="unavailable")
        else:
            if problem is None:
                return jsonify(status="ready", **({"delivery": report} if report else {}))
            response = jsonify(status="misconfigured", problem=problem)
        response.status_code = 503
        return response

    app.register_blueprint(blueprint)

"""The framework ceiling: the least a request to verify-service could cost on this machine.

A Flask app under gunicorn with the same options as `verify-service serve` (sync workers,
same worker count and timeout, no access log) and the same Redis client settings, that does
exactly one EVALSHA of a trivial script per request and answers a small JSON body. It reads
neither the form nor the credentials the load generator sends: everything verify-service does
beyond this (parsing, validation, auth, crypto, a second round trip, argon2) is its own cost.

    python -m bench.ceiling_app --port 8099 --workers 4 --redis-url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask, Response, jsonify

from verify_service.adapters.redis_connection import connect
from verify_service.server import GunicornServer

TRIVIAL_SCRIPT = "return redis.call('EXISTS', KEYS[1])"
KEY = "bench:ceiling"


def create_app(redis_url: str) -> Flask:
    client = connect(redis_url, 1.0)
    sha = client.script_load(TRIVIAL_SCRIPT)
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.post("/v2/Services/<service_sid>/Verifications")
    @app.post("/v2/Services/<service_sid>/VerificationCheck")
    def one_round_trip(service_sid: str) -> Response:
        found = client.evalsha(sha, 1, KEY)
        response = jsonify({"service_sid": service_sid, "status": "pending", "found": found})
        response.status_code = 201
        return response

    return app


def gunicorn_options(port: int, workers: int) -> dict[str, Any]:
    """The options `verify-service serve` gives gunicorn (verify_service/cli.py)."""
    return {
        "bind": f"127.0.0.1:{port}",
        "workers": workers,
        "timeout": 30,
        "worker_class": "sync",
        "accesslog": None,
        "proc_name": "verify-bench-ceiling",
        "control_socket_disable": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    url = args.redis_url
    GunicornServer(lambda: create_app(url), gunicorn_options(args.port, args.workers)).run()


if __name__ == "__main__":
    main()

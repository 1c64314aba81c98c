"""The worker's own small HTTP listener (`VERIFY_WORKER_METRICS_PORT`): `GET /metrics` with
the same bearer token as the API's, and `GET /healthz` for a liveness probe.

`/healthz` answers 200 `{"status": "ok"}` while `alive()` is true, else 503
`{"status": "stalled"}`; it needs no credential and says nothing more. By default the worker is
alive while its delivery loop finished a turn within the last `stall_seconds`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from verify_service.application.metrics.scrape_token import bearer_token_matches

log = logging.getLogger(__name__)

Exposition = Callable[[], tuple[bytes, str]]


class LastTurn:
    """When the worker's loop last finished a turn (monotonic clock): the default liveness."""

    def __init__(self, stall_seconds: float) -> None:
        self._stall_seconds = stall_seconds
        self._at = time.monotonic()

    def tick(self) -> None:
        self._at = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self._at < self._stall_seconds


class WorkerListener:
    """A daemon thread serving `/metrics` and `/healthz` until `close()`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        alive: Callable[[], bool],
        exposition: Exposition | None,
        token: str | None,
    ) -> None:
        handler = _handler(alive, exposition, token)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="worker-listener", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> WorkerListener:
        self._thread.start()
        log.info("worker listener on port %d (/metrics, /healthz)", self.port)
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler(
    alive: Callable[[], bool], exposition: Exposition | None, token: str | None
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "verify-service-worker"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.partition("?")[0]
            if path == "/healthz":
                ok = alive()
                status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
                self._json(status, {"status": "ok" if ok else "stalled"})
            elif path == "/metrics" and token is not None and exposition is not None:
                if not bearer_token_matches(self.headers.get("Authorization"), token):
                    self._json(
                        HTTPStatus.UNAUTHORIZED,
                        {"code": 20003, "message": "Authenticate", "status": 401},
                        {"WWW-Authenticate": 'Bearer realm="metrics"'},
                    )
                    return
                body, content_type = exposition()
                self._send(HTTPStatus.OK, body, content_type)
            else:
                self._json(
                    HTTPStatus.NOT_FOUND, {"code": 20404, "message": "Not found", "status": 404}
                )

        def _json(
            self, status: HTTPStatus, body: dict[str, object], headers: dict[str, str] | None = None
        ) -> None:
            self._send(status, json.dumps(body).encode(), "application/json", headers)

        def _send(
            self,
            status: HTTPStatus,
            body: bytes,
            content_type: str,
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # probes every few seconds: not worth a log line each

    return Handler

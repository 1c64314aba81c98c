"""The worker's own small HTTP listener (`VERIFY_WORKER_METRICS_PORT`): `GET /metrics` with
the same bearer token as the API's, and `GET /healthz` for a liveness probe.

`/healthz` answers 200 `{"status": "ok"}` while `alive()` is true, else 503
`{"status": "stalled"}`; it needs no credential and says nothing more. By default the worker is
alive while its delivery loop finished a turn within the last `stall_seconds`.

Anyone who reaches the port can connect, so a connection costs little and not for long: a
request must arrive whole within `TIMEOUT_S` (else the connection is closed), and at most
`MAX_CONNECTIONS` are served at once (one more is closed at once, unanswered): half-sent
requests cannot pile up threads and file descriptors in the delivery worker.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from verify_service.application.metrics.scrape_token import bearer_token_matches

log = logging.getLogger(__name__)

Exposition = Callable[[], tuple[bytes, str]]

TIMEOUT_S = 5.0
MAX_CONNECTIONS = 8


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most `max_connections` at once."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        max_connections: int,
    ) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # busy: closed unanswered, nothing held
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


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
        timeout_s: float = TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        handler = _handler(alive, exposition, token, timeout_s)
        self._server = _BoundedServer((host, port), handler, max_connections)
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
    alive: Callable[[], bool],
    exposition: Exposition | None,
    token: str | None,
    timeout_s: float,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "verify-service-worker"
        sys_version = ""
        timeout = timeout_s  # the socket's: a silent client is dropped after it

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

"""The real app behind a real HTTP server, with its clock port in the test's hands.

`verify-service serve` (gunicorn) reads the wall clock, so a spec about time (a TOTP code of
the step before or after now, a challenge past its ExpirationDate) would have to wait or race
the clock. This server is the same app (`create_app`, the same Redis scripts and adapters),
served over HTTP by werkzeug's threaded server in this process, built with a `FixedClock`
the test moves: the official SDKs talk to it exactly as they talk to gunicorn."""

from __future__ import annotations

import threading

import redis
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.support.fakes import FixedClock, RecordingSender
from verify_service.adapters.webhooks.resolver import TargetResolver
from verify_service.app import create_app
from verify_service.settings import Settings


class _QuietHandler(WSGIRequestHandler):
    """No line per request on the test's log (gunicorn's access log is off too)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class ClockedServer:
    def __init__(
        self, settings: Settings, clock: FixedClock, webhook_targets: TargetResolver | None = None
    ) -> None:
        self.clock = clock
        self._redis = redis.Redis.from_url(settings.redis_url or "")
        self._app = create_app(
            settings,
            clock=clock,
            providers=RecordingSender().as_providers(),
            redis_client=self._redis,
            webhook_targets=webhook_targets,  # a DNS table in place of the network's
        )
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> ClockedServer:
        self._server = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="clocked-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._redis.close()
        self._redis.connection_pool.disconnect()

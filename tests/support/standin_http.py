"""A local HTTP stand-in for the API providers: Twilio's Messages and Calls, Vonage's
sms/json, and a generic webhook receiver. It records every request and can be told to fail.

    with StandinHttp() as standin:
        standin.fail_next(Failure.server_error(), times=2)
        ... point a `twilio+http://AC…:token@127.0.0.1:{standin.port}` DSN at it ...
        assert standin.requests[-1].form["To"] == "+14155552671"
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

_TWILIO = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/(Messages|Calls)\.json$")
_VONAGE = "/sms/json"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it."""

    method: str
    path: str
    headers: Message
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        """The form-encoded body, one value per field."""
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        return {name: values[-1] for name, values in parsed.items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        return user, password


@dataclass(frozen=True)
class Failure:
    """How to answer instead of the normal reply: a status with a JSON body, after a delay."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    delay_seconds: float = 0.0

    @classmethod
    def server_error(cls) -> Failure:
        return cls(500, {"code": 20500, "message": "Internal Server Error", "status": 500})

    @classmethod
    def too_many_requests(cls) -> Failure:
        return cls(429, {"code": 20429, "message": "Too Many Requests", "status": 429})

    @classmethod
    def timeout(cls, seconds: float = 2.0) -> Failure:
        """Answer only after `seconds`, longer than the client's timeout (released at stop)."""
        return cls(500, {}, delay_seconds=seconds)

    @classmethod
    def twilio_rejection(cls, code: int = 21211, status: int = 400) -> Failure:
        """Twilio's error body, e.g. 21211 "The 'To' number is not a valid phone number"."""
        return cls(status, {"code": code, "message": "rejected", "status": status})

    @classmethod
    def vonage_status(cls, status: str, to: str = "447700900000") -> Failure:
        """Vonage answers 200 and puts its verdict in `messages[0].status`."""
        part = {"to": to, "status": status, "error-text": "rejected"}
        return cls(200, {"message-count": "1", "messages": [part]})


class StandinHttp:
    """A threaded `http.server` on 127.0.0.1 and a free port."""

    def __init__(self, twilio_credentials: tuple[str, str] | None = None) -> None:
        """With `twilio_credentials`, Twilio requests with other basic auth get 401/20003."""
        self._twilio_credentials = twilio_credentials
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._replies: list[dict[str, Any]] = []
        self._failures: list[Failure] = []
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.standin = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def replies(self) -> list[dict[str, Any]]:
        """The JSON bodies answered, in the order of `requests`."""
        with self._lock:
            return list(self._replies)

    def fail_next(self, failure: Failure, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([failure] * times)

    def start(self) -> StandinHttp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that are playing a timeout
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> StandinHttp:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _answer(self, request: RecordedRequest) -> tuple[int, dict[str, Any], float]:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, body, delay = failure.status, failure.body, failure.delay_seconds
        else:
            (status, body), delay = self._normal_reply(request), 0.0
        with self._lock:
            self._requests.append(request)
            self._replies.append(body)
        return status, body, delay

    def _normal_reply(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        twilio = _TWILIO.fullmatch(request.path)
        if twilio is not None:
            if self._twilio_credentials is not None and (
                request.basic_auth != self._twilio_credentials
                or twilio.group(1) != self._twilio_credentials[0]
            ):
                return 401, {"code": 20003, "message": "Authenticate", "status": 401}
            prefix = "SM" if twilio.group(2) == "Messages" else "CA"
            sid = prefix + secrets.token_hex(16)
            return 201, {"sid": sid, "status": "queued", "account_sid": twilio.group(1)}
        if request.path == _VONAGE:
            part = {
                "to": request.form.get("to", ""),
                "message-id": secrets.token_hex(8),
                "status": "0",
                "remaining-balance": "10.0",
                "message-price": "0.03",
                "network": "23410",
            }
            return 200, {"message-count": "1", "messages": [part]}
        return 200, {"id": "wh_" + secrets.token_hex(8)}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = RecordedRequest(self.command, self.path, self.headers, self.rfile.read(length))
        standin: StandinHttp = self.server.standin  # type: ignore[attr-defined]
        status, body, delay = standin._answer(request)
        if delay and standin._stopping.wait(delay):
            return  # stopping: the client gave up long ago
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client timed out and hung up

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads `requests` instead."""

"""A local stand-in for a webhook SMS gateway, for the delivery phase of `make bench`.

It answers every `POST` (the webhook provider's request) with 200 `{"id": "SM…"}`, checks the
request's HMAC signature, and records, per request, its arrival time (`time.time_ns()` when the
request line and headers have been read) with the body's `attempt_sid` and
`verification_sid`. The bench reads and clears the records with `GET /_arrivals`, and polls
`GET /_count`. It runs as its own process (so the bench's load threads cannot delay its
clock readings) and keeps connections alive (HTTP/1.1), as a real gateway would.

    BENCH_STANDIN_SECRET=<the webhook DSN's secret> python -m bench.standin --port 8098
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNATURE_HEADER = "X-Verify-Signature"
TIMESTAMP_HEADER = "X-Verify-Timestamp"


class Recorder:
    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.lock = threading.Lock()
        self.arrivals: list[tuple[int, str, str]] = []  # (ns, attempt sid, verification sid)
        self.bad_signatures = 0
        self.bad_bodies = 0
        self.sequence = 0

    def signed(self, timestamp: str, body: bytes, signature: str) -> bool:
        mac = hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest("sha256=" + mac.hexdigest(), signature)

    def record(self, arrived_ns: int, timestamp: str, body: bytes, signature: str) -> int:
        ok = self.signed(timestamp, body, signature)
        try:
            document: dict[str, Any] = json.loads(body)
            attempt, verification = str(document["attempt_sid"]), str(document["verification_sid"])
        except (ValueError, KeyError, TypeError):
            with self.lock:
                self.bad_bodies += 1
            return 400
        with self.lock:
            if not ok:
                self.bad_signatures += 1
                return 401
            self.arrivals.append((arrived_ns, attempt, verification))
            self.sequence += 1
            return 200

    def take(self) -> dict[str, Any]:
        with self.lock:
            arrivals, self.arrivals = self.arrivals, []
            taken = {
                "arrivals": arrivals,
                "bad_signatures": self.bad_signatures,
                "bad_bodies": self.bad_bodies,
            }
            self.bad_signatures = self.bad_bodies = 0
            return taken

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


def make_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the provider's session reuses connections
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            arrived_ns = time.time_ns()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = recorder.record(
                arrived_ns,
                self.headers.get(TIMESTAMP_HEADER, ""),
                body,
                self.headers.get(SIGNATURE_HEADER, ""),
            )
            reply = {"id": f"SM{arrived_ns:x}"} if status == 200 else {"error_code": "bad"}
            self._answer(status, reply)

        def do_GET(self) -> None:
            if self.path == "/_arrivals":
                self._answer(200, recorder.take())
            elif self.path == "/_count":
                self._answer(200, {"count": recorder.count()})
            elif self.path == "/healthz":
                self._answer(200, {"ok": True})
            else:
                self._answer(404, {})

        def _answer(self, status: int, document: dict[str, Any]) -> None:
            # One write for the status line, headers and body (no Nagle/delayed-ACK stall).
            body = json.dumps(document, separators=(",", ":")).encode()
            head = (
                f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode("latin-1")
            self.wfile.write(head + body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.standin", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    recorder = Recorder(os.environ["BENCH_STANDIN_SECRET"])
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(recorder))
    server.daemon_threads = True
    server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()

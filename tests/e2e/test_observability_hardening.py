"""Findings of the observability review (issue 12) that need real processes: `serve`'s child
worker dies with a SIGKILLed master; a body gunicorn cannot read whole is a 400."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
from pathlib import Path

import redis

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.test_worker_supervision import (  # noqa: F401 - fixtures
    env,
    gateway,
    live_workers,
    own_redis,
    redis_client,
    wait_for,
)
from tests.support.delivery_processes import ServeProcess


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not reaped by its new parent yet) is gone too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_the_child_worker_stops_when_serve_is_sigkilled(
    env: dict[str, str],  # noqa: F811
    redis_client: redis.Redis,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Finding 4: an orphaned child would keep delivering, unsupervised, and hold the worker
    metrics port against the next `serve`'s child."""
    api = ServeProcess(env).start(tmp_path / "server.log")
    try:
        wait_for(lambda: live_workers(redis_client), "the child worker's heartbeat")
        (name,) = live_workers(redis_client)
        child = int(name.rpartition("-")[2])
        assert api._process is not None
        api._process.send_signal(signal.SIGKILL)
        api._process.wait(10)
        wait_for(lambda: not _alive(child), "the orphaned child worker to stop")
    finally:
        api.stop()
    lines = (tmp_path / "server.log").read_text(encoding="utf-8").splitlines()
    assert any("finishing the message in hand" in line for line in lines)


def _raw_post(port: int, extra_headers: str, body: bytes, half_close: bool) -> bytes:
    auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    head = (
        "POST /v2/Services/VA00000000000000000000000000000000/Verifications HTTP/1.1\r\n"
        f"Host: x\r\nAuthorization: Basic {auth}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n" + extra_headers + "\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
            if b"\r\n\r\n" in answer and b'"status"' in answer:
                break
        return answer


def test_a_malformed_chunked_body_or_a_short_body_is_a_twilio_400(
    env: dict[str, str],  # noqa: F811
    redis_client: redis.Redis,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Finding 8: not a 500 "unhandled InvalidChunkSize" counted toward the 5xx alert, and
    not a 201 for a body cut short of its Content-Length."""
    api = ServeProcess(env, with_worker=False).start(tmp_path / "server.log")
    body = b"To=%2B14155550199&Channel=sms"
    try:
        port = int(api.url.rpartition(":")[2])
        chunked = _raw_post(
            port,
            "Transfer-Encoding: chunked\r\n",
            f"{len(body):x}\r\n".encode() + body + b"\r\nzz+14155550199\r\n\r\n",
            half_close=False,
        )
        short = _raw_post(port, "Content-Length: 100\r\n", body, half_close=True)
    finally:
        api.stop()
    for answer in (chunked, short):
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        payload = json.loads(answer.partition(b"\r\n\r\n")[2])
        assert payload["code"] == 60200
    log = (tmp_path / "server.log").read_text(encoding="utf-8")
    assert "unhandled" not in log

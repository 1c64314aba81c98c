"""Findings of the observability review (issue 12), each held by a test: counters exported
at 0 from the start, the worker listener's timeout and cap, the worker's liveness match,
client request ids, the cached `/readyz`, the metrics directory."""

from __future__ import annotations

import io
import logging
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask, request
from gunicorn.config import Config
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.prometheus_text import samples, value
from verify_service.adapters.metrics import multiprocess
from verify_service.adapters.metrics.prometheus_metrics import PrometheusMetrics
from verify_service.adapters.metrics.worker_listener import WorkerListener
from verify_service.delivery_runner import is_on_host, start_listener
from verify_service.http import health
from verify_service.http.access_log import loggable_user_agent
from verify_service.http.error_codes import register_error_handlers
from verify_service.http.request_body import CheckedBody
from verify_service.http.request_ids import acceptable_request_id
from verify_service.server import MaskingLogger

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")


def test_every_known_label_set_is_exported_at_zero_before_its_first_event() -> None:
    """Finding 2: a series that appears at 1 hides its first increment from `increase()`."""
    text = generate_latest(PrometheusMetrics().registry).decode()
    at_zero = {(s.name, tuple(sorted(s.labels.items()))) for s in samples(text) if s.value == 0}
    for channel in ("sms", "call", "email", "whatsapp"):
        assert ("verify_dead_letters_total", (("channel", channel),)) in at_zero
        assert ("verify_verifications_approved_total", (("channel", channel),)) in at_zero
        assert ("verify_verifications_expired_total", (("channel", channel),)) in at_zero
    for reason in ("fraud_guard", "rate_limit", "geo_permission"):
        for operation in ("start", "check"):
            key = (("operation", operation), ("reason", reason))
            assert ("verify_refusals_total", key) in at_zero
    for sending_list in ("route", "global"):
        key = (("list", sending_list),)
        assert ("verify_whatsapp_sender_dropped_total", key) in at_zero


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
def test_the_first_dead_letter_and_fraud_guard_refusal_fire_their_alerts() -> None:
    """Finding 2: promtool's own rule test, a series going 0 -> 1 after a start."""
    tested = subprocess.run(
        [str(PROMTOOL), "test", "rules", "deploy/prometheus/tests/first_event_test.yml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


# Finding 3: the worker listener drops silent clients and caps its connections.


def _listener(timeout_s: float, max_connections: int) -> WorkerListener:
    return WorkerListener(
        "127.0.0.1",
        0,
        alive=lambda: True,
        exposition=None,
        token=None,
        timeout_s=timeout_s,
        max_connections=max_connections,
    ).start()


def _half_sent(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never the blank line
    return sock


def _healthz(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        return sock.recv(200)


def test_the_worker_listener_closes_a_connection_that_never_finishes_its_request() -> None:
    listener = _listener(timeout_s=0.2, max_connections=8)
    try:
        with _half_sent(listener.port) as sock:
            assert sock.recv(100) == b""  # closed by the listener, not by the 10 s here
    finally:
        listener.close()


def test_the_worker_listener_serves_a_bounded_number_of_connections_at_once() -> None:
    listener = _listener(timeout_s=30, max_connections=2)
    before = threading.active_count()
    held = [_half_sent(listener.port) for _ in range(2)]
    try:
        extra = [_half_sent(listener.port) for _ in range(20)]
        for sock in extra:  # beyond the cap: closed at once, unanswered
            assert sock.recv(100) == b""
            sock.close()
        assert threading.active_count() <= before + 2
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while b"200" not in _healthz(listener.port):  # slots come back once the two are gone
        assert time.monotonic() < deadline
    listener.close()


# Finding 5: `worker --check` matches the host name whole.


@pytest.mark.parametrize(
    ("name", "host", "here"),
    [
        ("api-1234", "api", True),
        ("api-2-1234", "api", False),
        ("api-2-1234", "api-2", True),
        ("api-", "api", False),
        ("other-1", "api", False),
    ],
)
def test_a_worker_counts_as_on_this_host_only_when_the_host_name_matches_whole(
    name: str, host: str, here: bool
) -> None:
    assert is_on_host(name, host) is here


# Finding 6: client request ids that could carry a phone number, a code or an address.


@pytest.mark.parametrize(
    "given",
    [
        "tel:14155550123",
        "tel:1-415-555-0123",
        "user-14155550123",
        "user.1415.555.0123",
        "code-4711",
        "probe.target_victim-domain.org",
    ],
)
def test_a_client_request_id_carrying_a_number_or_a_host_is_refused(given: str) -> None:
    assert acceptable_request_id(given) is None


@pytest.mark.parametrize(
    "given",
    [
        "123e4567-e89b-12d3-a456-426614174000",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "RQ" + "0123456789abcdef" * 2,
        "abc-123",
        "req_42.a:b",
        "checkout-retry",
    ],
)
def test_uuids_ulids_trace_ids_and_word_ids_are_kept(given: str) -> None:
    assert acceptable_request_id(given) == given


# Finding 12: `/readyz` reads the outbox at most once a second per process.


class _Report:
    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> _Report:
        self.reads += 1
        return self

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok", "reads": self.reads}


def test_readyz_reads_the_delivery_report_at_most_once_a_second() -> None:
    now = [100.0]
    pings = []
    report = _Report()
    app = Flask(__name__)
    health.init_app(app, lambda: pings.append(1) or True, delivery=report, monotonic=lambda: now[0])
    client = app.test_client()
    answers = [client.get("/readyz").json for _ in range(50)]
    assert report.reads == 1
    assert len(pings) == 50  # an unreachable Redis still shows at once
    assert answers[-1] == {"status": "ready", "delivery": {"status": "ok", "reads": 1}}
    now[0] += health.DELIVERY_REPORT_CACHE_SECONDS
    client.get("/readyz")
    assert report.reads == 2


# Finding 8: a body the server cannot read whole is a 400.


class _ParseError(Exception):
    pass


class _Stream:
    def __init__(self, data: bytes, fail: bool = False) -> None:
        self._data = io.BytesIO(data)
        self._fail = fail

    def read(self, size: int = -1) -> bytes:
        if self._fail:
            raise _ParseError
        return self._data.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._data.readline(size)


def _posted(stream: _Stream, length: int | None) -> int:
    app = Flask(__name__)
    register_error_handlers(app)

    @app.post("/form")
    def form() -> dict[str, str]:
        return dict(request.form)

    app.wsgi_app = CheckedBody(app.wsgi_app, (_ParseError,))  # type: ignore[method-assign]
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/form",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": stream,
        "wsgi.input_terminated": True,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        **({"CONTENT_LENGTH": str(length)} if length is not None else {}),
    }
    statuses: list[str] = []
    b"".join(app(environ, lambda status, _headers, _exc=None: statuses.append(status)))
    return int(statuses[0].split()[0])


def test_a_body_the_server_cannot_parse_or_cut_short_is_a_400() -> None:
    body = b"To=%2B14155550199&Channel=sms"
    assert _posted(_Stream(body), len(body)) == 200
    assert _posted(_Stream(body), None) == 200
    assert _posted(_Stream(body, fail=True), None) == 400
    assert _posted(_Stream(body), 100) == 400


# Findings 9 and 10, and 4's leftover directory: the multiprocess directory.

_FORKING_SERVER = """
import os, sys
from verify_service.adapters.metrics import multiprocess
from verify_service.adapters.metrics.prometheus_metrics import PrometheusMetrics
multiprocess.prepare_shared_directory(sys.argv[1])
for _ in range(int(sys.argv[2])):
    pid = os.fork()
    if pid == 0:
        metrics = PrometheusMetrics()
        metrics.verification_started("sms", "created")
        metrics.http_request("GET", "/healthz", 200, 0.01)
        os._exit(0)
    os.waitpid(pid, 0)
    multiprocess.worker_exited(pid)
"""


def _serve_and_scrape(directory: Path, workers: int) -> str:
    subprocess.run(
        [sys.executable, "-c", _FORKING_SERVER, str(directory), str(workers)], check=True
    )
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(directory))
    return generate_latest(registry).decode()


def test_dead_workers_samples_are_folded_into_one_file_per_type(tmp_path: Path) -> None:
    """Finding 9: ten worker deaths leave two sample files, not twenty, and nothing lost."""
    directory = tmp_path / "metrics"
    text = _serve_and_scrape(directory, 10)
    assert value(text, "verify_verifications_started_total", channel="sms") == 10
    assert value(text, "verify_http_request_duration_seconds_count", route="/healthz") == 10
    assert value(text, "verify_http_request_duration_seconds_bucket", le="0.01") == 10
    assert sorted(path.name for path in directory.glob("*.db")) == [
        "counter_archive.db",
        "histogram_archive.db",
    ]


def test_a_metrics_directory_with_foreign_files_is_refused_not_emptied(tmp_path: Path) -> None:
    """Finding 10: an operator's file in a mis-chosen directory is never deleted."""
    directory = tmp_path / "shared"
    directory.mkdir()
    (directory / "app-state.db").write_text("important")
    with pytest.raises(multiprocess.MetricsDirectoryError, match="VERIFY_METRICS_DIR"):
        multiprocess.prepare_shared_directory(str(directory))
    assert (directory / "app-state.db").read_text() == "important"


def test_a_metrics_directory_of_earlier_samples_is_emptied_and_a_new_one_is_private(
    tmp_path: Path,
) -> None:
    """Finding 10: samples of an earlier run (marked or not) go; a new directory is 0700."""
    used = tmp_path / "used"
    used.mkdir()
    (used / "counter_123.db").write_bytes(b"")
    (used / "histogram_archive.db").write_bytes(b"")
    _in_a_process(f"multiprocess.prepare_shared_directory({str(used)!r})")
    assert sorted(path.name for path in used.iterdir()) == [multiprocess.MARKER]
    new = tmp_path / "new" / "metrics"
    _in_a_process(f"multiprocess.prepare_shared_directory({str(new)!r})")
    assert stat.S_IMODE(new.stat().st_mode) == 0o700


def test_serve_removes_the_temporary_directories_of_dead_serves_only(tmp_path: Path) -> None:
    """Finding 4: a SIGKILLed `serve` leaves its `verify-metrics-*` directory behind."""
    dead_pid = _exited_pid()
    stale, live, unmarked = (tmp_path / f"verify-metrics-{n}" for n in ("a", "b", "c"))
    for directory in (stale, live, unmarked):
        directory.mkdir()
    (stale / multiprocess.MARKER).write_text(f"{dead_pid}\n")
    (live / multiprocess.MARKER).write_text(f"{os.getpid()}\n")
    (tmp_path / "verify-metrics-file").write_text("not a directory")
    assert multiprocess.remove_stale_temporary_directories(tmp_path) == [stale]
    assert not stale.exists()
    assert live.exists()
    assert unmarked.exists()


def _exited_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _in_a_process(statement: str) -> None:
    """Multiprocess mode changes the process's prometheus_client: another process."""
    code = f"from verify_service.adapters.metrics import multiprocess\n{statement}\n"
    subprocess.run([sys.executable, "-c", code], check=True)


# Finding 7: the User-Agent in the text access line.


@pytest.mark.parametrize(
    ("given", "logged"),
    [
        ("twilio-python/9.0.0 (Linux x86_64) Python/3.11.4", "twilio-python/9.0.0 Python/3.11.4"),
        ("curl/8.5.0", "curl/8.5.0"),
        ("probe +14155550123", "probe *"),
        ("probe tel:14155550123", "probe *"),
        ("bot/1.0 victim@example.com", "bot/1.0 *"),
        ('say "hi" \\ there', "say * * there"),
        ("Mozilla/5.0 (Windows NT 10.0; call me 14155550123)", "Mozilla/5.0"),
        ("-", "-"),
    ],
)
def test_the_user_agent_is_reduced_to_product_tokens(given: str, logged: str) -> None:
    assert loggable_user_agent(given) == logged


def _access_atoms(target: str, user_agent: str, rule: str | None) -> dict[str, Any]:
    logger = MaskingLogger(Config())
    path = target.partition("?")[0]
    request = SimpleNamespace(
        headers=[("USER-AGENT", user_agent)],
        uri=target,
        path=path,
        query=target.partition("?")[2],
        method="GET",
        version=(1, 1),
    )
    response = SimpleNamespace(status="200 OK", sent=10, headers=[], response_length=10)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": target,
        "PATH_INFO": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": user_agent,
        "werkzeug.request": SimpleNamespace(
            url_rule=SimpleNamespace(rule=rule) if rule is not None else None
        ),
    }
    atoms: dict[str, Any] = logger.atoms(
        response, request, environ, SimpleNamespace(seconds=0, microseconds=1)
    )
    return atoms


def test_the_text_access_line_shows_no_personal_user_agent_and_one_quoted_field() -> None:
    atoms = _access_atoms("/healthz", 'x "14155550123" victim@example.com', "/healthz")
    assert atoms["a"] == "x * *"
    line = MaskingLogger(Config()).cfg.access_log_format % atoms
    assert line.count('"') == 6  # request line, referer, user agent: three quoted fields


# Finding 11: paths masked by their route's template.

SERVICE = "VA" + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    ("path", "rule", "logged"),
    [
        (
            f"/v2/Services/{SERVICE}/Entities/probe.target/Factors",
            "/v2/Services/<service_sid>/Entities/<identity>/Factors",
            f"/v2/Services/{SERVICE}/Entities/*/Factors",
        ),
        (
            f"/v2/Services/{SERVICE}/Entities/alice/Factors",
            "/v2/Services/<service_sid>/Entities/<identity>/Factors",
            f"/v2/Services/{SERVICE}/Entities/*/Factors",
        ),
        (
            "/v2/SafeList/Numbers/victim",
            "/v2/SafeList/Numbers/<phone_number>",
            "/v2/SafeList/Numbers/*",
        ),
        ("/v2/probe.target/victim-domain.org", None, "/v2/*/*"),
        ("/console/static/console.css", None, "/console/static/console.css"),
    ],
)
def test_a_path_is_masked_by_its_route_template(path: str, rule: str | None, logged: str) -> None:
    atoms = _access_atoms(path, "curl/8.5.0", rule)
    assert atoms["U"] == logged
    assert atoms["r"] == f"GET {logged} HTTP/1.1"


def test_a_worker_listener_port_in_use_is_logged_through_the_log_then_exit_1(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Finding 4: the bind failure was a bare text line (SystemExit's message), even in the
    JSON format; it is a log record now (formatted like every other line)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = SimpleNamespace(
            worker_metrics_port=port, worker_metrics_host="127.0.0.1", metrics_token=None
        )
        container = SimpleNamespace(settings=settings, metrics=None)
        with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exited:
            start_listener(container, lambda: True)  # type: ignore[arg-type]
    assert exited.value.code == 1
    (record,) = [r for r in caplog.records if "cannot listen" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert f"127.0.0.1:{port}" in record.getMessage()

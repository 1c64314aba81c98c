"""A real Prometheus scrapes `verify-service serve --workers 2` and `verify-service worker`
with the metrics token, and its query API shows what the service counted: the two gunicorn
workers' counters added up, and the delivery worker's own families. (~10-20 s: a few
processes start, then Prometheus scrapes every second.)"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import server_env, twilio_client
from tests.support.delivery_processes import ServeProcess, WorkerProcess
from tests.support.processes import RedisServer, free_port, wait_until
from tests.support.prometheus_server import PrometheusServer
from tests.support.prometheus_text import personal_label_values

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed"),
]

TOKEN = "prometheus-scrape-token-0123456789"
STARTS = 24
WAIT_SECONDS = 20.0


class Stack:
    def __init__(
        self, api: ServeProcess, worker_port: int, prometheus: PrometheusServer, metrics_dir: Path
    ) -> None:
        self.api = api
        self.worker_port = worker_port
        self.prometheus = prometheus
        self.metrics_dir = metrics_dir
        self.twilio = twilio_client(api.url)

    def eventually(self, promql: str, expected: float) -> None:
        wait_until(
            lambda: self.prometheus.scalar(promql) == expected,
            f"{promql} == {expected}",
            timeout_seconds=WAIT_SECONDS,
        )


@pytest.fixture
def stack(redis_server: RedisServer, tmp_path: Path) -> Iterator[Stack]:
    metrics_dir = tmp_path / "metrics"
    worker_port = free_port()
    env = {
        **server_env(redis_server.url, tmp_path / "outbox.jsonl"),
        "VERIFY_REDIS_KEY_PREFIX": "prom",  # apart from the other tests' servers
        "VERIFY_METRICS_TOKEN": TOKEN,
        "VERIFY_METRICS_DIR": str(metrics_dir),
        "VERIFY_WORKER_METRICS_PORT": str(worker_port),
    }
    api = ServeProcess(env, workers=2, with_worker=False).start(tmp_path / "serve.log")
    worker = WorkerProcess(env).start(tmp_path / "worker.log")
    token_file = tmp_path / "metrics-token"
    token_file.write_text(TOKEN, "utf-8")
    authorization = {"type": "Bearer", "credentials_file": str(token_file)}
    prometheus = PrometheusServer(
        tmp_path,
        [
            {
                "job_name": "verify-api",
                "authorization": authorization,
                "static_configs": [{"targets": [f"127.0.0.1:{api.port}"]}],
            },
            {
                "job_name": "verify-worker",
                "authorization": authorization,
                "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
            },
        ],
    )
    try:
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{worker_port}/healthz", timeout=1).ok,
            "the worker's listener",
        )
        prometheus.start()
        yield Stack(api, worker_port, prometheus, metrics_dir)
    finally:
        prometheus.stop()
        worker.stop()
        api.stop()


def test_prometheus_sees_both_gunicorn_workers_and_the_delivery_worker(stack: Stack) -> None:
    """Starts spread over two gunicorn workers (a new connection each) add up in one
    scrape of the API; the delivery worker's sends and its outbox view appear under its own
    job; both targets are up with the token."""
    service = stack.twilio.verify.v2.services.create(friendly_name="Acme").sid
    for index in range(STARTS):
        # A client of its own each time: a new connection, which either gunicorn worker takes.
        twilio = twilio_client(stack.api.url)
        started = twilio.verify.v2.services(service).verifications.create(
            to=f"+4474001234{index:02d}", channel="sms"
        )
        assert started.status == "pending"
    # Both gunicorn workers wrote samples (one file each, by pid).
    writers = {path.stem.rsplit("_", 1)[1] for path in stack.metrics_dir.glob("counter_*.db")}
    assert len(writers) == 2, writers

    stack.eventually('sum(up{job=~"verify-.*"})', 2)
    stack.eventually(
        'sum(verify_verifications_started_total{job="verify-api",result="created"})', STARTS
    )
    stack.eventually(
        'sum(verify_http_requests_total{job="verify-api",method="POST",'
        'route="/v2/Services/<service_sid>/Verifications",status="201"})',
        STARTS,
    )
    stack.eventually(
        'sum(verify_sends_total{job="verify-worker",provider="console",outcome="sent"})', STARTS
    )
    stack.eventually(
        'sum(verify_delivery_latency_seconds_count{job="verify-worker",channel="sms"})', STARTS
    )
    stack.eventually('max(verify_outbox_up{job="verify-worker",queue="delivery"})', 1)
    stack.eventually('max(verify_outbox_messages{job="verify-api",state="ready"})', 0)
    # Nothing of a request reached a label: no sid, number or address in any series.
    series = stack.prometheus.query('{__name__=~"verify_.+"}')
    assert series
    text = repr([item["metric"] for item in series])
    assert service not in text
    assert "447400" not in text
    scraped = requests.get(
        f"{stack.api.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert personal_label_values(scraped.text) == []

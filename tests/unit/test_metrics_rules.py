"""The metrics' rules without a server: the bearer token, label values kept to their sets,
the settings, and counters of several processes adding up in the multiprocess directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tests.support.prometheus_text import personal_label_values, value
from tests.unit.test_settings import AUTH_TOKEN, production_env
from verify_service.adapters.metrics import multiprocess
from verify_service.adapters.metrics.prometheus_metrics import PrometheusMetrics
from verify_service.application.metrics.ports import NO_METRICS
from verify_service.application.metrics.scrape_token import bearer_token_matches
from verify_service.settings import ConfigError, Settings

TOKEN = "metrics-token-0123456789"


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"BEARER  {TOKEN} ", True),
        (None, False),
        ("", False),
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN[:-1]}", False),
        (f"Bearer {TOKEN}0", False),
        ("Bearer", False),
        (TOKEN, False),
    ],
)
def test_only_the_bearer_token_opens_the_metrics(header: str | None, accepted: bool) -> None:
    assert bearer_token_matches(header, TOKEN) is accepted


def _exported(metrics: PrometheusMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_label_values_outside_their_sets_become_other() -> None:
    """A call site's mistake (a number as a channel, a raw path as a route, a sid as a
    provider) shows as `other`, never as the value."""
    metrics = PrometheusMetrics()
    metrics.http_request("GET", "/v2/Services/VA0123456789abcdef0123456789abcdef", 200, 0.01)
    metrics.http_request("BREW", "/v2/Services/<sid>", 200, 0.01)
    metrics.http_request("GET", "/v2/Attempts?To=+14155552671", 200, 0.01)
    metrics.verification_started("+14155552671", "created")
    metrics.verification_approved("jane@example.com")
    metrics.refused("123456", "start")
    metrics.delivery_try("sms", "VE0123456789abcdef0123456789abcdef", "sent")
    metrics.delivery_try("sms", "webhook://user:secret@host", "sent")
    metrics.delivery_latency("sms", "smtp://mail.example.com:587", 1.0)
    metrics.delivery_latency("sms", "webhook+http://[::1]", 1.0)
    metrics.delivery_try("sms", "twilio+https://api.example.com/+14155552671", "sent")
    metrics.dead_lettered("fax")
    metrics.redis_error("jane@example.com")
    text = _exported(metrics)
    assert personal_label_values(text) == []
    assert value(text, "verify_http_requests_total", route="other") == 2
    assert (
        value(text, "verify_http_requests_total", method="other", route="/v2/Services/<sid>") == 1
    )
    assert value(text, "verify_sends_total", provider="other") == 3
    assert (
        value(text, "verify_delivery_latency_seconds_count", provider="webhook+http://[::1]") == 1
    )
    assert (
        value(text, "verify_delivery_latency_seconds_count", provider="smtp://mail.example.com:587")
        == 1
    )
    assert "secret" not in text


def test_the_no_op_metrics_record_nothing_and_never_raise() -> None:
    NO_METRICS.http_request("GET", "/", 200, 0.0)
    NO_METRICS.verification_started("sms", "created")
    NO_METRICS.verification_expired("sms")
    NO_METRICS.redis_error("api")


def test_a_metrics_token_is_read_and_checked() -> None:
    settings = Settings.from_env(production_env(VERIFY_METRICS_TOKEN=TOKEN))
    assert settings.metrics_token == TOKEN
    assert Settings.from_env(production_env()).metrics_token is None
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize("token", ["short", "with space in it 0123", AUTH_TOKEN])
def test_a_weak_metrics_token_or_the_auth_token_is_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="VERIFY_METRICS_TOKEN") as refused:
        Settings.from_env(production_env(VERIFY_METRICS_TOKEN=token))
    assert token not in str(refused.value)


ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - a setting's value here, not a bind


def test_the_worker_listener_settings() -> None:
    settings = Settings.from_env(
        production_env(VERIFY_WORKER_METRICS_PORT="9102", VERIFY_WORKER_METRICS_HOST=ANY_ADDRESS)
    )
    assert (settings.worker_metrics_host, settings.worker_metrics_port) == (ANY_ADDRESS, 9102)
    default = Settings.from_env(production_env())
    assert (default.worker_metrics_host, default.worker_metrics_port) == ("127.0.0.1", None)
    with pytest.raises(ConfigError, match="VERIFY_WORKER_METRICS_PORT"):
        Settings.from_env(production_env(VERIFY_WORKER_METRICS_PORT="70000"))


_SERVER = """
import os, sys
from verify_service.adapters.metrics import multiprocess
from verify_service.adapters.metrics.prometheus_metrics import PrometheusMetrics
multiprocess.prepare_shared_directory(sys.argv[1])  # in the master, before the fork
for _ in range(int(sys.argv[2])):
    pid = os.fork()
    if pid == 0:  # a worker: its own metrics, as create_app builds them
        PrometheusMetrics().verification_started("sms", "created")
        os._exit(0)
    os.waitpid(pid, 0)
    multiprocess.worker_exited(pid)
"""


def _run_server(directory: Path, workers: int) -> str:
    subprocess.run([sys.executable, "-c", _SERVER, str(directory), str(workers)], check=True)
    from prometheus_client.multiprocess import MultiProcessCollector  # noqa: PLC0415

    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(directory))
    return generate_latest(registry).decode()


def test_counters_of_forked_workers_add_up_in_the_shared_directory(tmp_path: Path) -> None:
    """Two forked workers count one start each, and exit: a scrape sees both (a worker's
    counters outlive it). A new run of the server starts again from zero."""
    directory = tmp_path / "metrics"
    assert value(_run_server(directory, 2), "verify_verifications_started_total") == 2
    assert value(_run_server(directory, 1), "verify_verifications_started_total") == 1


def test_an_unusable_metrics_directory_stops_the_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(multiprocess.MetricsDirectoryError, match="VERIFY_METRICS_DIR"):
        multiprocess.prepare_shared_directory(str(blocker / "sub"))

"""The monitoring files in deploy/ hold to what the service exports: every metric a Grafana
panel or an alert rule names is one the service exports, with labels it has; promtool accepts
the rules and the scrape configuration."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.fakes import FixedClock
from verify_service.adapters.metrics.exposition import BacklogCollector
from verify_service.adapters.metrics.prometheus_metrics import PrometheusMetrics
from verify_service.application.metrics.ports import QueueBacklog

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "verify-service-dashboard.json"
PROMTOOL = shutil.which("promtool")
# Labels Prometheus adds to every series it scrapes.
TARGET_LABELS = frozenset({"job", "instance"})
_SELECTOR = re.compile(r"\b(verify_[a-z0-9_]+)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)")


class _Probe:
    queue_name = "delivery"

    def backlog(self) -> QueueBacklog:
        return QueueBacklog(ready=1, delayed=1, dead_letters=1, oldest_enqueued_ms=0)


def exported() -> dict[str, frozenset[str]]:
    """Every sample name the service exports, with its labels."""
    metrics = PrometheusMetrics()
    metrics.http_request("GET", "/healthz", 200, 0.1)
    metrics.verification_started("sms", "created")
    metrics.verification_approved("sms")
    metrics.verification_expired("sms")
    metrics.refused("fraud_guard", "start")
    metrics.delivery_try("sms", "twilio", "sent")
    metrics.delivery_latency("sms", "twilio", 1.0)
    metrics.dead_lettered("sms")
    metrics.redis_error("api")
    metrics.event_delivery("sent")
    metrics.fraud_guard_trip("monitor")
    registry = CollectorRegistry()
    registry.register(BacklogCollector([_Probe()], FixedClock()))
    text = generate_latest(metrics.registry).decode() + generate_latest(registry).decode()
    names: dict[str, frozenset[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = frozenset(sample.labels) - {"le"}
            names[sample.name] = names.get(sample.name, frozenset()) | labels
    return names


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text("utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def _alert_expressions() -> list[str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text("utf-8"))
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def _unknown_names(expression: str, names: dict[str, frozenset[str]]) -> list[str]:
    problems = []
    for name, selector in _SELECTOR.findall(expression):
        if name not in names:
            problems.append(name)
            continue
        for label, _operator in _MATCHER.findall(selector or ""):
            if label not in names[name] | TARGET_LABELS:
                problems.append(f"{name}{{{label}}}")
    return problems


@pytest.mark.parametrize("expression", _dashboard_expressions() + _alert_expressions())
def test_every_expression_names_only_exported_metrics_and_labels(expression: str) -> None:
    names = exported()
    assert _unknown_names(expression, names) == []
    assert _SELECTOR.search(expression) or "up{" in expression


def test_the_dashboard_shows_every_family() -> None:
    """A family nobody can see on the dashboard is a family nobody watches."""
    shown = {name for e in _dashboard_expressions() for name, _ in _SELECTOR.findall(e)}
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", n) for n in exported()}
    assert families - {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in shown} == set()


def test_the_scrape_configuration_reads_the_token_from_a_file() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text("utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"verify-api", "verify-worker"}
    for job in jobs.values():
        assert job["authorization"]["type"] == "Bearer"
        assert "credentials_file" in job["authorization"]
        assert "credentials" not in job["authorization"]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
def test_promtool_accepts_the_alert_rules() -> None:
    checked = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(PROMETHEUS / "alerts.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
def test_promtool_accepts_the_scrape_configuration(tmp_path: Path) -> None:
    """Checked with its rule file and token file where the configuration says they are
    (here: in a temporary directory instead of /etc/prometheus)."""
    text = (PROMETHEUS / "prometheus.yml").read_text("utf-8")
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "metrics-token").write_text("a-token-for-the-check-only", "utf-8")
    config = tmp_path / "prometheus.yml"
    config.write_text(text.replace("/etc/prometheus/", f"{tmp_path}/"), "utf-8")
    checked = subprocess.run(
        [str(PROMTOOL), "check", "config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


_RULE_TESTS: dict[str, Any] = {
    "rule_files": ["alerts.yml"],
    "evaluation_interval": "1m",
    "tests": [
        {
            "interval": "1m",
            "input_series": [
                {"series": 'up{job="verify-worker",instance="w:9102"}', "values": "1 1 0x10"},
                {
                    "series": 'verify_outbox_oldest_message_age_seconds{job="verify-api",'
                    'instance="a:8080",queue="delivery"}',
                    "values": "0 0 120x10",
                },
                {
                    "series": 'verify_refusals_total{job="verify-api",instance="a:8080",'
                    'reason="fraud_guard",operation="start"}',
                    "values": "0 0 5 5 5",
                },
                {
                    "series": 'verify_outbox_oldest_message_age_seconds{job="verify-worker",'
                    'instance="w:9102",queue="events"}',
                    "values": "0 0 120x10",
                },
                {
                    "series": 'verify_event_deliveries_total{job="verify-worker",'
                    'instance="w:9102",outcome="dead_lettered"}',
                    "values": "0 0 1 1 1",
                },
            ],
            "alert_rule_test": [
                {
                    "eval_time": "6m",
                    "alertname": "VerifyWorkerDown",
                    "exp_alerts": [{"exp_labels": {"severity": "critical"}}],
                },
                {
                    "eval_time": "6m",
                    "alertname": "VerifyOutboxOldestMessageAge",
                    "exp_alerts": [
                        {"exp_labels": {"severity": "warning", "queue": "delivery"}},
                        {"exp_labels": {"severity": "warning", "queue": "events"}},
                    ],
                },
                {
                    "eval_time": "3m",
                    "alertname": "VerifyEventDeadLetters",
                    "exp_alerts": [{"exp_labels": {"severity": "warning"}}],
                },
                {
                    "eval_time": "3m",
                    "alertname": "VerifyFraudGuardTrips",
                    "exp_alerts": [{"exp_labels": {"severity": "warning"}}],
                },
                {"eval_time": "1m", "alertname": "VerifyWorkerDown", "exp_alerts": []},
                {"eval_time": "1m", "alertname": "VerifyEventDeadLetters", "exp_alerts": []},
            ],
        },
        {
            # Monitor mode: a trip refuses nothing, and the alert fires all the same.
            "interval": "1m",
            "input_series": [
                {
                    "series": 'verify_fraud_guard_trips_total{job="verify-api",'
                    'instance="a:8080",mode="monitor"}',
                    "values": "0 0 1 1 1",
                },
                {
                    "series": 'verify_refusals_total{job="verify-api",instance="a:8080",'
                    'reason="fraud_guard",operation="start"}',
                    "values": "0 0 0 0 0",
                },
            ],
            "alert_rule_test": [
                {
                    "eval_time": "3m",
                    "alertname": "VerifyFraudGuardTrips",
                    "exp_alerts": [{"exp_labels": {"severity": "warning"}}],
                },
                {"eval_time": "1m", "alertname": "VerifyFraudGuardTrips", "exp_alerts": []},
            ],
        },
    ],
}


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
def test_the_alerts_fire_on_the_series_they_watch(tmp_path: Path) -> None:
    """`promtool test rules`: a worker gone, an outbox message two minutes old (each queue
    with its own text), a Fraud Guard refusal, a Fraud Guard trip in monitor mode and an
    event dead letter each fire their alert; a worker that is up does not."""
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    annotations = {
        rule["alert"]: rule["annotations"]
        for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text("utf-8"))["groups"]
        for rule in group["rules"]
    }
    delivery_late = (
        "Codes are delivered late and users give up. Check the workers (up, /healthz), the "
        "providers' error rates (verify_sends_total by outcome) and the dead letters."
    )
    events_late = (
        "Webhook events reach their receivers late. Check the workers (up, /healthz), the "
        "event deliveries by outcome (verify_event_deliveries_total) and the receivers."
    )
    rendered = {  # the annotations with a template, as Alertmanager would show them
        ("VerifyOutboxOldestMessageAge", "delivery"): {
            "summary": "verify-service delivery queue: oldest message is 2m 0s old",
            "description": delivery_late,
        },
        ("VerifyOutboxOldestMessageAge", "events"): {
            "summary": "verify-service events queue: oldest message is 2m 0s old",
            "description": events_late,
        },
        ("VerifyEventDeadLetters", None): {
            "summary": "1 webhook events were dead-lettered in 15 minutes"
        },
    }
    cases = copy.deepcopy(_RULE_TESTS)
    for test in cases["tests"]:
        for case in test["alert_rule_test"]:
            for alert in case["exp_alerts"]:
                name = case["alertname"]
                queue = alert["exp_labels"].get("queue")
                alert["exp_annotations"] = {
                    **annotations[name],
                    **rendered.get((name, queue), {}),
                }
    tests = tmp_path / "alerts_test.yml"
    tests.write_text(yaml.safe_dump(cases), "utf-8")
    checked = subprocess.run(
        [str(PROMTOOL), "test", "rules", str(tests)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

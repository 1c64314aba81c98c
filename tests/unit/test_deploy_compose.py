"""deploy/compose.yaml and what it mounts: valid for the Compose specification (its JSON
schema, vendored by check-jsonschema: offline), and it fits the service: real commands,
healthchecks on real routes, a Redis that keeps what it is given, hardened containers,
secrets kept out of the file, the TLS proxy's configuration accepted by Caddy itself."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy_files import (
    COMPOSE,
    DEPLOY,
    check_command_line,
    deploy_texts,
    variables_in,
)
from tests.unit.test_deploy_kubernetes import api_routes
from verify_service.settings import KNOWN_VARIABLES

CADDYFILE = DEPLOY / "proxy" / "Caddyfile"
REDIS_CONF = DEPLOY / "redis" / "redis.conf"
ENV_EXAMPLE = DEPLOY / "verify.env.example"
# The Compose specification's JSON schema, as check-jsonschema vendors it (never downloaded).
CHECK_JSONSCHEMA = (
    sys.executable,
    "-m",
    "check_jsonschema",
    "--builtin-schema",
    "vendor.compose-spec",
)
# Settings whose values are secrets: never written in compose.yaml itself.
SECRET_VARIABLES = {
    "VERIFY_AUTH_TOKEN",
    "VERIFY_SECRET_KEY",
    "VERIFY_SECRET_KEYS",
    "VERIFY_REDIS_URL",
    "VERIFY_METRICS_TOKEN",
    "VERIFY_SMS_PROVIDERS",
    "VERIFY_EMAIL_PROVIDERS",
    "VERIFY_CALL_PROVIDERS",
    "VERIFY_WHATSAPP_PROVIDERS",
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # merges <<
    return loaded


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHECK_JSONSCHEMA, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_is_valid_for_the_compose_specification() -> None:
    result = check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_refuses_a_misspelt_key(tmp_path: Path) -> None:
    """Not vacuous: the Compose schema allows no unknown key (`read_onyl`)."""
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("read_only:", "read_onyl:"))
    result = check_jsonschema(broken)
    assert result.returncode == 1
    assert "read_onyl" in result.stdout


@pytest.mark.parametrize("name", ["api", "worker"])
def test_service_containers_run_real_commands(name: str) -> None:
    check_command_line(service(name)["command"])


def test_the_api_runs_without_a_child_worker() -> None:
    assert service("api")["command"][:2] == ["serve", "--no-worker"]
    assert service("worker")["command"] == ["worker"]


@pytest.mark.parametrize("name", ["api", "worker", "redis", "prometheus", "grafana", "proxy"])
def test_long_running_containers_are_hardened(name: str) -> None:
    """Non-root, read-only root filesystem, no capability, no privilege escalation."""
    definition = service(name)
    assert definition["read_only"] is True
    uid = definition["user"].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert definition["cap_drop"] == ["ALL"]
    assert "cap_add" not in definition
    assert "no-new-privileges:true" in definition["security_opt"]


@pytest.mark.parametrize("name", ["api", "worker"])
def test_the_service_writes_only_to_a_tmpfs(name: str) -> None:
    definition = service(name)
    assert [entry.split(":")[0] for entry in definition["tmpfs"]] == ["/tmp"]  # noqa: S108
    assert "volumes" not in definition
    assert definition["user"] == "10001:10001"  # the image's USER


def healthcheck_url(name: str) -> str:
    test = service(name)["healthcheck"]["test"]
    found = re.search(r"urlopen\('(http://[^']+)'", test[-1])
    assert found, test
    return found[1]


def test_the_api_healthcheck_asks_a_real_route() -> None:
    url = healthcheck_url("api")
    assert url == "http://127.0.0.1:8080/readyz"
    assert "/readyz" in api_routes()
    assert "127.0.0.1:8080:8080" in service("api")["ports"]  # loopback only


def test_the_worker_healthcheck_asks_its_own_listener() -> None:
    environment = service("worker")["environment"]
    port = environment["VERIFY_WORKER_METRICS_PORT"]
    assert healthcheck_url("worker") == f"http://127.0.0.1:{port}/healthz"
    assert environment["VERIFY_WORKER_METRICS_HOST"] == "0.0.0.0"  # noqa: S104 - Prometheus


def redis_directives() -> dict[str, str]:
    directives = {}
    for line in REDIS_CONF.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition(" ")
            directives[name] = value.strip()
    return directives


def test_redis_keeps_what_it_is_given() -> None:
    """noeviction and AOF (DESIGN.md, "State and atomicity"), the file mounted where the
    command reads it, the data on a named volume. (tests/integration/test_deploy_redis_conf.py
    starts a real redis-server with this file and the service on it.)"""
    directives = redis_directives()
    assert directives["maxmemory-policy"] == "noeviction"
    assert directives["appendonly"] == "yes"
    assert directives["appendfsync"] in {"everysec", "always"}
    assert "dir" not in directives  # the image's working directory, /data
    redis = service("redis")
    assert "./redis/redis.conf:/usr/local/etc/redis/redis.conf:ro" in redis["volumes"]
    assert "redis-server /usr/local/etc/redis/redis.conf" in redis["command"][0]
    assert "redis-data:/data" in redis["volumes"]
    assert "redis-data" in compose()["volumes"]


def test_secrets_are_not_written_in_the_compose_file() -> None:
    """Secrets come from verify.env (not committed) and Compose secrets files."""
    for name, definition in compose()["services"].items():
        environment = definition.get("environment", {})
        assert not SECRET_VARIABLES & set(environment), name
    assert service("api")["env_file"] == [{"path": "verify.env", "required": True}]
    ignored = (DEPLOY / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "verify.env" in ignored
    assert "secrets/*" in ignored
    for secret in compose()["secrets"].values():
        assert secret["file"].startswith("./secrets/")


def test_the_example_environment_file_holds_placeholders_for_every_secret() -> None:
    values = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    for required in ("VERIFY_REDIS_URL", "VERIFY_ACCOUNT_SID", "VERIFY_AUTH_TOKEN"):
        assert required in values
    for name in SECRET_VARIABLES & set(values):
        assert "<" in values[name], f"{name} must be a <placeholder>"


def test_every_variable_the_files_set_is_known() -> None:
    """A misspelt VERIFY_* name would only be warned about at start (and ignored)."""
    unknown = {
        f"{path.relative_to(DEPLOY)}: {name}"
        for path, text in deploy_texts()
        for name in variables_in(text)
        if name not in KNOWN_VARIABLES
    }
    assert not unknown


def mounted(definition: dict[str, Any], target: str) -> str:
    """The host file a service's volume list mounts at `target` (read-only)."""
    (source,) = [v.split(":")[0] for v in definition["volumes"] if v.split(":")[1] == target]
    assert f"{source}:{target}:ro" in definition["volumes"]
    return source


def test_prometheus_scrapes_the_api_and_the_worker_with_the_token_file() -> None:
    """deploy/prometheus/ must scrape the names and ports this file gives the api and the
    worker, with the token file it mounts."""
    prometheus = service("prometheus")
    config_file = mounted(prometheus, "/etc/prometheus/prometheus.yml")
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((DEPLOY / config_file).read_text(encoding="utf-8"))
    worker_port = service("worker")["environment"]["VERIFY_WORKER_METRICS_PORT"]
    targets = {
        target: job
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    (secret,) = prometheus["secrets"]
    assert secret["source"] == "metrics_token"
    for target in ("api:8080", f"worker:{worker_port}"):
        assert target in targets, f"prometheus.yml does not scrape {target}"
        authorization = targets[target].get("authorization", {})
        assert authorization.get("credentials_file") == secret["target"]
    for rules in config.get("rule_files", []):
        assert (DEPLOY / mounted(prometheus, rules)).exists()


def test_grafana_provisions_the_dashboard_it_mounts() -> None:
    grafana = service("grafana")
    assert grafana["profiles"] == ["grafana"]
    (provider,) = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "verify-service.yaml").read_text(
            encoding="utf-8"
        )
    )["providers"]
    folder = provider["options"]["path"]
    (dashboard,) = [v for v in grafana["volumes"] if v.split(":")[1].startswith(f"{folder}/")]
    assert dashboard.endswith(".json:ro")
    (source,) = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text(
            encoding="utf-8"
        )
    )["datasources"]
    assert source["url"] == "http://prometheus:9090"
    assert source["type"] == "prometheus"  # the dashboard's `datasource` variable picks it


# -- the TLS proxy -----------------------------------------------------------------------


def caddy() -> str:
    found = shutil.which("caddy")
    if found is None:
        pytest.skip("caddy is not installed here (.ci/run installs Debian's)")
    return found


def caddy_validate(config: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`caddy validate`, its own files (a local CA's, `.step`) kept in `home`."""
    return subprocess.run(
        [caddy(), "validate", "--config", str(config), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
        },
    )


def test_caddy_accepts_the_proxy_configuration(tmp_path: Path) -> None:
    """Caddy's own parser and provisioning, offline (no certificate is requested)."""
    result = caddy_validate(CADDYFILE, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


def test_caddy_refuses_a_broken_configuration(tmp_path: Path) -> None:
    broken = tmp_path / "Caddyfile"
    broken.write_text(
        CADDYFILE.read_text(encoding="utf-8").replace("reverse_proxy api:8080", "reverse_prox")
    )
    assert caddy_validate(broken, tmp_path).returncode != 0


def test_the_proxy_forwards_to_the_api_and_hides_metrics() -> None:
    """The upstream is the api service's port; /metrics is not for the Internet; the
    X-Forwarded-* headers are set (replaced, never appended to what a client sent)."""
    text = CADDYFILE.read_text(encoding="utf-8")
    assert "reverse_proxy api:8080" in text
    assert "respond @metrics 404" in text
    for header in ("X-Forwarded-For {remote_host}", "X-Forwarded-Proto {scheme}"):
        assert f"header_up {header}" in text
    proxy = service("proxy")
    assert proxy["profiles"] == ["tls"]
    # The api trusts X-Forwarded-For from the proxy's fixed address, and from nothing else.
    address = proxy["networks"]["frontend"]["ipv4_address"]
    assert service("api")["environment"]["VERIFY_TRUSTED_PROXIES"] == address
    (subnet,) = compose()["networks"]["frontend"]["ipam"]["config"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet["subnet"])
    assert "./proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert proxy["depends_on"]["api"] == {"condition": "service_healthy"}

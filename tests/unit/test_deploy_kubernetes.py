"""deploy/k8s/: the manifests are valid for Kubernetes (its own schemas, vendored by the
kubernetes-validate package: no cluster, no network), the ServiceMonitor for the Prometheus
Operator's schema of it, and they fit the service: real commands and options, probes on
real routes, ports and names that refer to each other, a hardened pod."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.support.deploy_files import K8S, check_command_line, k8s_resources, yaml_documents
from tests.support.processes import REPO
from verify_service.adapters.metrics.worker_listener import WorkerListener
from verify_service.app import create_app
from verify_service.settings import Settings

# The oldest Kubernetes the manifests are for (kustomization.yaml says so), and the newest
# whose schemas the locked kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
NODE_DIR = REPO / "tests" / "node"
OPERATOR_MODELS = NODE_DIR / "node_modules" / "@kubernetes-models" / "prometheus-operator"


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_resources() if doc["kind"] == kind]


def deployment(component: str) -> dict[str, Any]:
    (found,) = [
        d
        for d in of_kind("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return found


def container(component: str) -> dict[str, Any]:
    (found,) = deployment(component)["spec"]["template"]["spec"]["containers"]
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_built_in_object_is_valid_for_kubernetes(version: str) -> None:
    """Strict: an unknown field (a typo such as `readOnlyRootFilesytem`) fails too."""
    checked = 0
    for path, resource in k8s_resources():
        if resource["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name} {resource['kind']}: {error.message} at {list(error.path)}")
        checked += 1
    assert checked >= 8


def test_the_validator_refuses_a_misspelt_field() -> None:
    """The check above is not vacuous (and runs offline: the schemas are in the package)."""
    resource = json.loads(json.dumps(deployment("api")))
    security = resource["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    security["readOnlyRootFilesytem"] = security.pop("readOnlyRootFilesystem")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(resource, KUBERNETES_VERSIONS[0], strict=True)


def test_the_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    (kustomization,) = yaml_documents(K8S / "kustomization.yaml")
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests - {"secret.example.yaml"}
    assert {image["name"] for image in kustomization["images"]} == {
        container(c)["image"] for c in ("api", "worker")
    }


@pytest.mark.parametrize("component", ["api", "worker"])
def test_containers_run_real_commands(component: str) -> None:
    check_command_line(container(component)["args"])


def test_the_api_runs_without_a_child_worker() -> None:
    """The production shape: `serve --no-worker`, and the worker its own Deployment."""
    assert container("api")["args"][:2] == ["serve", "--no-worker"]
    assert container("worker")["args"] == ["worker"]


@pytest.mark.parametrize("component", ["api", "worker"])
def test_pods_are_hardened(component: str) -> None:
    """Non-root, read-only root filesystem, no privilege escalation, no capability, and the
    one writable path (/tmp, Dockerfile) on an emptyDir."""
    pod = deployment(component)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's USER
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = container(component)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    (mount,) = container(component)["volumeMounts"]
    assert mount["mountPath"] == "/tmp"  # noqa: S108 - the writable path the image documents
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume
    assert "memory" in container(component)["resources"]["limits"]


def api_routes() -> set[str]:
    settings = Settings(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, secret_key=SECRET_KEY.encode()
    )
    return {rule.rule for rule in create_app(settings).url_map.iter_rules()}


def test_the_api_probes_ask_real_routes() -> None:
    """Ready: /readyz (Redis answers and keeps what it is given); alive: /healthz."""
    api = container("api")
    routes = api_routes()
    port_names = {p["name"] for p in api["ports"]}
    for probe, path in (
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ):
        assert api[probe]["httpGet"]["path"] == path
        assert path in routes
        assert api[probe]["httpGet"]["port"] in port_names
    assert int(api["args"][api["args"].index("--port") + 1]) == api["ports"][0]["containerPort"]


def configmap() -> dict[str, str]:
    (found,) = of_kind("ConfigMap")
    data: dict[str, str] = found["data"]
    return data


def test_the_worker_probe_is_its_own_listener() -> None:
    """Liveness on `/healthz` of the worker's listener, on VERIFY_WORKER_METRICS_PORT (bound
    to every address, so the kubelet and Prometheus reach it)."""
    worker = container("worker")
    (port,) = worker["ports"]
    assert int(configmap()["VERIFY_WORKER_METRICS_PORT"]) == port["containerPort"]
    assert configmap()["VERIFY_WORKER_METRICS_HOST"] == "0.0.0.0"  # noqa: S104
    for probe in ("livenessProbe", "startupProbe"):
        assert worker[probe]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert "readinessProbe" not in worker  # no Service sends it traffic


@pytest.fixture
def worker_listener() -> Iterator[int]:
    """The worker's real listener, alive, on a free port."""
    listener = WorkerListener(
        "127.0.0.1", 0, alive=lambda: True, exposition=None, token=None
    ).start()
    yield listener.port
    listener.close()


def test_the_worker_probe_path_answers_on_the_real_listener(worker_listener: int) -> None:
    path = container("worker")["livenessProbe"]["httpGet"]["path"]
    assert requests.get(f"http://127.0.0.1:{worker_listener}{path}", timeout=5).status_code == 200


def test_services_select_the_pods_and_name_their_ports() -> None:
    for service in of_kind("Service"):
        selector = service["spec"]["selector"]
        (pods,) = [
            d["spec"]["template"]
            for d in of_kind("Deployment")
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        named = {p["name"] for c in pods["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in named, service["metadata"]["name"]


def test_pod_disruption_budgets_cover_both_deployments() -> None:
    budgets = [b["spec"]["selector"]["matchLabels"] for b in of_kind("PodDisruptionBudget")]
    for component in ("api", "worker"):
        labels = deployment(component)["spec"]["template"]["metadata"]["labels"]
        assert any(b.items() <= labels.items() for b in budgets), component
        assert deployment(component)["spec"]["replicas"] >= 2  # minAvailable 1 leaves room


def test_the_deployments_read_the_configmap_and_the_secret() -> None:
    (secret,) = of_kind("Secret")
    (config,) = of_kind("ConfigMap")
    for component in ("api", "worker"):
        sources = container(component)["envFrom"]
        assert {"configMapRef": {"name": config["metadata"]["name"]}} in sources
        assert {"secretRef": {"name": secret["metadata"]["name"]}} in sources


def test_the_example_secret_holds_placeholders_only() -> None:
    (secret,) = of_kind("Secret")
    for name, value in secret["stringData"].items():
        if name != "VERIFY_ACCOUNT_SID":
            assert "REPLACE" in value, name
    assert re.fullmatch(r"ACx{32}", secret["stringData"]["VERIFY_ACCOUNT_SID"])


# -- the ServiceMonitor (a CRD: not in Kubernetes' own schemas) ---------------------------


def servicemonitor() -> dict[str, Any]:
    (found,) = of_kind("ServiceMonitor")
    return found


def test_the_servicemonitor_scrapes_named_ports_with_the_metrics_token() -> None:
    """Every endpoint names a port of a Service it selects, asks /metrics, and sends the
    Secret's VERIFY_METRICS_TOKEN (never the API's credentials)."""
    monitor = servicemonitor()
    (secret,) = of_kind("Secret")
    selected = [
        s
        for s in of_kind("Service")
        if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    ports = {p["name"] for s in selected for p in s["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == ports == {"http", "worker-metrics"}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["path"] == "/metrics"
        assert endpoint["authorization"] == {
            "type": "Bearer",
            "credentials": {"name": secret["metadata"]["name"], "key": "VERIFY_METRICS_TOKEN"},
        }
    assert "VERIFY_METRICS_TOKEN" in secret["stringData"]


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed here (CI installs it; .ci/run runs this test)")
    if not (OPERATOR_MODELS / "package.json").exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm is missing: cannot install tests/node (npm ci)"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return found


def check_with_the_operator_schema(node: str, resource: dict[str, Any]) -> str:
    result = subprocess.run(
        [node, str(NODE_DIR / "servicemonitor_check.mjs")],
        input=json.dumps([resource]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout + result.stderr if result.returncode else ""


def test_the_servicemonitor_is_valid_for_the_operator_schema(node: str) -> None:
    """Types, enums, patterns and required fields of the Prometheus Operator's
    ServiceMonitor, from its CRD as compiled by @kubernetes-models/prometheus-operator
    (pinned by tests/node/package-lock.json); a wrong one is refused."""
    assert check_with_the_operator_schema(node, servicemonitor()) == ""
    broken = json.loads(json.dumps(servicemonitor()))
    broken["spec"]["endpoints"][0]["interval"] = "thirty seconds"
    del broken["spec"]["selector"]
    errors = check_with_the_operator_schema(node, broken)
    assert "selector" in errors
    assert "interval" in errors


def declared_fields(type_file: Path) -> set[str]:
    """The property names a @kubernetes-models type declares, its parent types' included."""
    text = type_file.read_text(encoding="utf-8")
    names = set(re.findall(r'^\s+"(\w+)"\??:', text, re.MULTILINE))
    for parent in re.findall(r"export interface \w+ extends ([\w, ]+) \{", text):
        for name in parent.split(","):
            imported = re.search(rf"import {{ {name.strip()} }} from \"(\./[\w.]+)\.js\"", text)
            if imported:
                names |= declared_fields(type_file.parent / f"{imported[1]}.d.ts")
    return names


def test_the_servicemonitor_uses_only_fields_the_operator_defines(node: str) -> None:
    """The schema above lets unknown fields through (so does the CRD: the API server prunes
    them silently); a misspelt field would be a scrape that never happens. Each field used
    must be one the operator's types declare."""
    v1 = OPERATOR_MODELS / "monitoring.coreos.com" / "v1"
    spec = servicemonitor()["spec"]
    assert set(spec) <= declared_fields(v1 / "ServiceMonitorSpec.d.ts")
    for endpoint in spec["endpoints"]:
        assert set(endpoint) <= declared_fields(v1 / "Endpoint.d.ts")
        assert set(endpoint["authorization"]) <= declared_fields(v1 / "SafeAuthorization.d.ts")
    assert declared_fields(v1 / "Endpoint.d.ts") >= {"port", "path", "authorization"}
    assert "endpionts" not in declared_fields(v1 / "ServiceMonitorSpec.d.ts")

"""Embedded mode (no VERIFY_REDIS_URL): the same Lua scripts on fakeredis, in-process;
and the `verify-service` command line (`serve`, `credentials`, `service create`)."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fakeredis
import pytest
import redis
import requests
from click.testing import CliRunner, Result

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY, Api
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.outbox import Outbox
from tests.support.processes import REPO, RedisServer, free_port
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.app import build_container, create_app
from verify_service.cli import main
from verify_service.settings import Settings

TO = "+14155552671"


@pytest.fixture
def embedded_settings() -> Settings:
    return Settings.from_env({})


@pytest.fixture
def embedded_api(embedded_settings: Settings, clock: FixedClock, sender: RecordingSender) -> Api:
    """The Api helper, authenticated with the embedded mode's generated credentials."""
    app = create_app(embedded_settings, clock=clock, providers=sender.as_providers())
    api = Api(app.test_client())
    api.headers = basic_auth(embedded_settings.account_sid, embedded_settings.auth_token)
    return api


def basic_auth(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# -- the embedded store, in-process ---------------------------------------------------------


def test_embedded_container_runs_on_fakeredis_without_a_server(
    embedded_settings: Settings,
) -> None:
    """No VERIFY_REDIS_URL: an in-process fakeredis, never a network connection."""
    container = build_container(embedded_settings)
    assert isinstance(container.redis, fakeredis.FakeRedis)
    assert container.redis.ping()


def test_embedded_store_runs_the_lua_scripts(embedded_settings: Settings) -> None:
    """The scripts are loaded into fakeredis's Lua, exactly as into redis-server."""
    container = build_container(embedded_settings)
    service = container.catalog.create({"friendly_name": "Demo"})
    keys = container.redis.keys("*")
    assert any(service.sid.encode() in key for key in keys)
    book = ScriptBook()
    assert container.redis.script_exists(book.sha("create_service")) == [True]


def test_full_lifecycle_on_the_embedded_store(embedded_api: Api, sender: RecordingSender) -> None:
    """Start, then check with the right code: approved, and the verification has ended."""
    service = embedded_api.create_service(FriendlyName="Demo")
    started = embedded_api.start(service, TO)
    assert started.status_code == 201, started.json
    sid = started.json["sid"]  # type: ignore[index]
    assert started.json["status"] == "pending"  # type: ignore[index]
    fetched = embedded_api.fetch(service, sid)
    assert fetched.status_code == 200
    checked = embedded_api.check(service, sender.last_code(sid), To=TO)
    assert checked.status_code == 200
    assert checked.json["status"] == "approved"  # type: ignore[index]
    assert checked.json["valid"] is True  # type: ignore[index]
    assert embedded_api.fetch(service, sid).status_code == 404


def test_sixth_wrong_code_on_the_embedded_store_is_rejected_with_60202(
    embedded_api: Api, sender: RecordingSender
) -> None:
    """The attempt limit lives in the Lua scripts, so the embedded store enforces it too."""
    service = embedded_api.create_service()
    sid = embedded_api.start(service, TO).json["sid"]  # type: ignore[index]
    code = sender.last_code(sid)
    wrong = "".join(str((int(d) + 1) % 10) for d in code)
    statuses = [embedded_api.check(service, wrong, To=TO).json["status"] for _ in range(5)]  # type: ignore[index]
    assert statuses == ["pending"] * 4 + ["max_attempts_reached"]
    response = embedded_api.check(service, code, To=TO)
    assert response.status_code == 429
    assert response.json["code"] == 60202  # type: ignore[index]
    assert "Retry-After" in response.headers


def test_resend_and_expiry_on_the_embedded_store(
    embedded_api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """Resend keeps the sid; the injected clock ends the verification after 10 minutes."""
    service = embedded_api.create_service()
    sid = embedded_api.start(service, TO).json["sid"]  # type: ignore[index]
    assert embedded_api.start(service, TO, channel="call").json["sid"] == sid  # type: ignore[index]
    assert len(sender.codes_for(sid)) == 2
    clock.advance(601)
    assert embedded_api.fetch(service, sid).status_code == 404


def test_embedded_app_with_generated_credentials_refuses_others(
    embedded_settings: Settings, embedded_api: Api
) -> None:
    """The generated credentials are the only ones; the test suite's are not accepted."""
    response = embedded_api.client.get("/v2/Services", headers=basic_auth(ACCOUNT_SID, AUTH_TOKEN))
    assert response.status_code == 401
    assert embedded_api.get("/v2/Services").status_code == 200
    assert embedded_api.client.get("/readyz").status_code == 200


def test_two_embedded_apps_share_no_state(
    embedded_settings: Settings, clock: FixedClock, sender: RecordingSender
) -> None:
    """Each app gets its own in-process store; nothing leaks between them."""
    first = Api(
        create_app(embedded_settings, clock=clock, providers=sender.as_providers()).test_client()
    )
    second = Api(
        create_app(embedded_settings, clock=clock, providers=sender.as_providers()).test_client()
    )
    first.headers = second.headers = basic_auth(
        embedded_settings.account_sid, embedded_settings.auth_token
    )
    service = first.create_service()
    assert first.get(f"/v2/Services/{service}").status_code == 200
    assert second.get(f"/v2/Services/{service}").status_code == 404


def test_create_app_from_an_empty_environment_builds_without_a_server() -> None:
    """`create_app(Settings.from_env({}))`: the whole API, nothing to configure."""
    settings = Settings.from_env({})
    app = create_app(settings)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    headers = basic_auth(settings.account_sid, settings.auth_token)
    created = client.post("/v2/Services", data={"FriendlyName": "Demo"}, headers=headers)
    assert created.status_code == 201


# -- `verify-service serve` in embedded mode, as a process -----------------------------------


@dataclass
class Banner:
    account_sid: str
    auth_token: str
    service_sid: str
    text: str


@dataclass
class EmbeddedServer:
    url: str
    banner: Banner
    outbox: Outbox


def clean_env(**variables: str) -> dict[str, str]:
    """No VERIFY_* from the outer environment, only what the test sets."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "LC_ALL", "SYSTEMROOT"}}
    env.update(variables)
    return env


def read_banner(stderr_path: Path, deadline: float) -> Banner:
    pattern = re.compile(
        r"Account SID : (?P<account>AC[0-9a-f]{32})\s+"
        r"Auth token  : (?P<token>\S+).*?"
        r"Service SID : (?P<service>VA[0-9a-f]{32})",
        re.DOTALL,
    )
    while time.monotonic() < deadline:
        text = stderr_path.read_text("utf-8", errors="replace")
        match = pattern.search(text)
        if match:
            return Banner(match["account"], match["token"], match["service"], text)
        time.sleep(0.05)
    raise AssertionError(f"no banner on stderr:\n{stderr_path.read_text('utf-8')}")


def wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError("the embedded server did not become healthy")


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    folder = tmp_path_factory.mktemp("embedded")
    outbox_path, stderr_path = folder / "outbox.jsonl", folder / "stderr.log"
    port = free_port()
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "verify_service.cli", "serve", "--port", str(port)],
            env=clean_env(VERIFY_CONSOLE_OUTBOX=str(outbox_path), HOME=str(folder)),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=REPO,
        )
        try:
            deadline = time.monotonic() + 20
            banner = read_banner(stderr_path, deadline)
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, deadline)
            yield EmbeddedServer(url, banner, Outbox(outbox_path))
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def test_serve_banner_warns_about_the_embedded_store(embedded_server: EmbeddedServer) -> None:
    """The operator sees at once that state is in memory and not for production."""
    text = embedded_server.banner.text
    assert "EMBEDDED" in text
    assert "Not for production" in text
    assert "generated for this run" in text


def test_serve_banner_prints_the_generated_credentials_and_demo_service(
    embedded_server: EmbeddedServer,
) -> None:
    """Sid, token and a ready Demo service, plus copy-paste examples using them."""
    banner = embedded_server.banner
    assert len(banner.auth_token) >= 16
    assert f"curl -u {banner.account_sid}:{banner.auth_token}" in banner.text
    assert f"{embedded_server.url}/v2/Services/{banner.service_sid}/Verifications" in banner.text
    assert str(embedded_server.outbox.path) in banner.text


def test_the_printed_curl_example_starts_a_verification_as_printed(
    embedded_server: EmbeddedServer,
) -> None:
    """Pasted into a shell, the banner's curl command works (the + of To must be encoded)."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    lines = embedded_server.banner.text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip().startswith("curl "))
    command = " ".join(line.strip().rstrip("\\") for line in lines[first : first + 3])
    result = subprocess.run(
        [curl, "-s", *shlex.split(command)[1:]], capture_output=True, check=True, timeout=10
    )
    body = json.loads(result.stdout)
    assert (body["status"], body["to"]) == ("pending", "+14155552671")


def test_start_and_check_work_with_the_printed_credentials(
    embedded_server: EmbeddedServer,
) -> None:
    """What the banner prints is enough to verify a phone number end to end."""
    banner = embedded_server.banner
    auth = (banner.account_sid, banner.auth_token)
    base = f"{embedded_server.url}/v2/Services/{banner.service_sid}"
    started = requests.post(
        f"{base}/Verifications", data={"To": TO, "Channel": "sms"}, auth=auth, timeout=10
    )
    assert started.status_code == 201, started.text
    sid = started.json()["sid"]
    code = embedded_server.outbox.last_code(sid)
    message = embedded_server.outbox.messages_for(sid)[-1]
    assert message["body"].startswith("Your Demo verification code is: ")
    checked = requests.post(
        f"{base}/VerificationCheck", data={"To": TO, "Code": code}, auth=auth, timeout=10
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "approved"
    assert checked.json()["sid"] == sid


def test_served_api_refuses_wrong_credentials(embedded_server: EmbeddedServer) -> None:
    """The embedded mode is still authenticated."""
    banner = embedded_server.banner
    response = requests.get(
        f"{embedded_server.url}/v2/Services", auth=(banner.account_sid, "x" * 32), timeout=10
    )
    assert response.status_code == 401


# -- `verify-service credentials` and `service create` --------------------------------------


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CliRunner in an environment with no VERIFY_* variables but those a test passes."""
    for name in list(os.environ):
        if name.startswith("VERIFY_"):
            monkeypatch.delenv(name)
    return CliRunner()


def production_env(redis_server: RedisServer, **overrides: str) -> dict[str, str]:
    env = {
        "VERIFY_REDIS_URL": redis_server.url,
        "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
        "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
        "VERIFY_SECRET_KEY": SECRET_KEY,
        "VERIFY_REDIS_KEY_PREFIX": "it",  # the in-process tests' prefix (tests/conftest.py)
    }
    env.update(overrides)
    return env


def invoke(runner: CliRunner, args: list[str], env: dict[str, str]) -> Result:
    return runner.invoke(main, args, env=env, catch_exceptions=False)


def test_credentials_prints_the_configured_credentials(
    runner: CliRunner, redis_server: RedisServer
) -> None:
    """An operator can read back the sid and token the service accepts."""
    result = invoke(runner, ["credentials"], production_env(redis_server))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"VERIFY_ACCOUNT_SID={ACCOUNT_SID}",
        f"VERIFY_AUTH_TOKEN={AUTH_TOKEN}",
    ]
    assert SECRET_KEY not in result.output


def test_credentials_in_embedded_mode_without_env_fails_clearly(runner: CliRunner) -> None:
    """Generated credentials die with the process that made them; printing new ones would lie."""
    result = invoke(runner, ["credentials"], {})
    assert result.exit_code != 0
    assert "no credentials configured" in result.stderr
    assert "VERIFY_AUTH_TOKEN" in result.stderr
    assert "VERIFY_AUTH_TOKEN=" not in result.output


def test_credentials_in_embedded_mode_with_env_prints_them(runner: CliRunner) -> None:
    """Fixed credentials are fine on the embedded store too."""
    env = {
        "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
        "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
        "VERIFY_SECRET_KEY": SECRET_KEY,
    }
    result = invoke(runner, ["credentials"], env)
    assert result.exit_code == 0, result.output
    assert f"VERIFY_AUTH_TOKEN={AUTH_TOKEN}" in result.stdout


def test_credentials_with_a_bad_variable_names_it(
    runner: CliRunner, redis_server: RedisServer
) -> None:
    """A configuration error is reported, with the variable, not a traceback."""
    env = production_env(redis_server, VERIFY_AUTH_TOKEN="short-tok-x1")
    result = invoke(runner, ["credentials"], env)
    assert result.exit_code != 0
    assert "configuration error" in result.stderr
    assert "VERIFY_AUTH_TOKEN" in result.stderr
    assert "short-tok-x1" not in result.output


def test_service_create_prints_the_new_service_as_json(
    runner: CliRunner, redis_server: RedisServer, api: Api
) -> None:
    """The service lands in Redis and the API serves it at once."""
    result = invoke(
        runner,
        ["service", "create", "Acme Login", "--code-length", "8", "--ttl-seconds", "120"],
        production_env(redis_server),
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert re.fullmatch(r"VA[0-9a-f]{32}", created["sid"])
    assert created["friendly_name"] == "Acme Login"
    assert created["code_length"] == 8
    fetched = api.get(f"/v2/Services/{created['sid']}")
    assert fetched.status_code == 200
    assert fetched.json["friendly_name"] == "Acme Login"  # type: ignore[index]
    assert fetched.json["code_length"] == 8  # type: ignore[index]


def test_service_create_defaults_to_six_digits(
    runner: CliRunner, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Without options, Twilio's defaults."""
    result = invoke(runner, ["service", "create", "Acme"], production_env(redis_server))
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["code_length"] == 6
    assert redis_client.zscore("it:{svc}:index", created["sid"]) is not None


def test_service_create_without_a_secret_fails_naming_verify_secret_key(
    runner: CliRunner, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """With Redis configured, a missing secret is an error, never a generated default."""
    env = production_env(redis_server)
    del env["VERIFY_SECRET_KEY"]
    result = invoke(runner, ["service", "create", "Acme"], env)
    assert result.exit_code != 0
    assert "VERIFY_SECRET_KEY" in result.stderr
    # Only this prefix: the e2e suite's session server (prefix `vs`) may still be polling.
    assert redis_client.keys("it:*") == []


def test_service_create_with_an_invalid_name_fails_with_the_reason(
    runner: CliRunner, redis_server: RedisServer
) -> None:
    """The same rules as the API: no links in a friendly name."""
    result = invoke(runner, ["service", "create", "www.evil.example"], production_env(redis_server))
    assert result.exit_code != 0
    assert "FriendlyName" in result.stderr


def test_service_create_in_embedded_mode_explains_why_not(runner: CliRunner) -> None:
    """The embedded store lives inside `serve`; a separate command cannot reach it."""
    result = invoke(runner, ["service", "create", "Acme"], {})
    assert result.exit_code != 0
    assert "VERIFY_REDIS_URL" in result.stderr


def test_serve_default_workers_fit_the_allowed_range_on_many_cores() -> None:
    """On a 48-core machine `serve` must not refuse its own default (2 x cores > 64)."""
    script = (
        "import os\n"
        "os.cpu_count = lambda: 48\n"
        "from verify_service.cli import main\n"
        "main(['serve'])\n"
    )
    # A bad VERIFY_REDIS_URL stops `serve` right after its options are parsed.
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_env(VERIFY_REDIS_URL="http://not-redis"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "--workers" not in result.stderr
    assert "configuration error: VERIFY_REDIS_URL" in result.stderr
    assert result.returncode == 1

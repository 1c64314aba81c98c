"""`make run` lets a newcomer into the console: `serve` on the embedded store creates a
console admin with a password made for this run and prints both in its start banner; the
session cookie works over http://127.0.0.1 there (not `Secure` by default on the embedded
store only), and the console still answers loopback clients only."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.embedded import Banner, EmbeddedServer, clean_env, parse_banner
from tests.support.processes import free_port
from verify_service.app import build_container, create_app
from verify_service.cli.embedded_demo import create_demo, embedded_banner
from verify_service.settings import Settings

_LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


def start_server(folder: Path, **variables: str) -> EmbeddedServer:
    port = free_port()
    server = EmbeddedServer(
        [sys.executable, "-m", "verify_service.cli", "serve", "--port", str(port)],
        port,
        folder,
        clean_env(VERIFY_CONSOLE_OUTBOX=str(folder / "outbox.jsonl"), **variables),
    )
    server.start()
    return server


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_server(tmp_path_factory.mktemp("embedded-console"))
    yield server
    server.stop()


def banner_of(server: EmbeddedServer) -> Banner:
    assert server.banner is not None
    return server.banner


def sign_in(server: EmbeddedServer, name: str, password: str) -> requests.Response:
    """The sign-in form as a browser submits it (its double-submit token included)."""
    session = requests.Session()
    form = session.get(f"{server.url}/console/login", timeout=10)
    assert form.status_code == 200
    token = _LOGIN_TOKEN.search(form.text)
    assert token is not None
    response = session.post(
        f"{server.url}/console/login",
        data={"login_token": token.group(1), "name": name, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    response.session = session  # type: ignore[attr-defined]
    return response


def test_the_banner_prints_a_console_user_and_a_generated_password(
    embedded: EmbeddedServer,
) -> None:
    """Beside the API credentials: the console's address, user `admin` and its password."""
    banner = banner_of(embedded)
    assert banner.console_url == f"{embedded.url}/console/"
    assert banner.console_user == "admin"
    assert len(banner.console_password) >= 20
    assert "from this machine only" in banner.text


def test_a_newcomer_signs_in_with_the_printed_credentials(embedded: EmbeddedServer) -> None:
    """Sign-in succeeds, the session cookie works over plain http, the admin pages open."""
    banner = banner_of(embedded)
    response = sign_in(embedded, banner.console_user, banner.console_password)
    assert response.status_code == 303, response.text
    assert response.headers["Location"].endswith("/console/search")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("vs_console=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie
    session: requests.Session = response.session  # type: ignore[attr-defined]
    search = session.get(f"{embedded.url}/console/search", timeout=10, allow_redirects=False)
    assert search.status_code == 200
    assert banner.service_sid in search.text  # the Demo service is in the selector
    audit = session.get(f"{embedded.url}/console/audit", timeout=10, allow_redirects=False)
    assert audit.status_code == 200
    assert "console.login" in audit.text


def test_a_wrong_password_for_the_demo_admin_is_refused(embedded: EmbeddedServer) -> None:
    """The demo user is an ordinary account: only the printed password opens it."""
    response = sign_in(embedded, "admin", "not-the-printed-password")
    assert response.status_code == 401
    assert "vs_console=" not in response.headers.get("Set-Cookie", "")


def test_each_start_makes_a_new_password() -> None:
    """Never a fixed demo password: two starts, two different random passwords."""
    first = create_demo(build_container(Settings.from_env({})))
    second = create_demo(build_container(Settings.from_env({})))
    assert first.console_password != second.console_password
    assert first.console_user == second.console_user == "admin"
    assert first.console_password not in repr(first)  # printed in the banner, nowhere else


def test_the_embedded_console_refuses_a_client_that_is_not_on_loopback() -> None:
    """An attacker on the network (`serve --host 0.0.0.0`) gets 403 from every console page,
    the sign-in form included, because the cookie is not `Secure` there."""
    settings = Settings.from_env({})
    container = build_container(settings)
    demo = create_demo(container)
    client = create_app(settings, container=container).test_client()
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/console/login", environ_base=remote).status_code == 403
    refused = client.post(
        "/console/login",
        data={"name": demo.console_user, "password": demo.console_password},
        environ_base=remote,
    )
    assert refused.status_code == 403
    assert client.get("/console/login", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == (
        200
    )


def test_with_secure_cookies_asked_for_the_banner_says_https_only() -> None:
    """`VERIFY_CONSOLE_SECURE_COOKIE=true` on the embedded store is honoured and said."""
    settings = Settings.from_env({"VERIFY_CONSOLE_SECURE_COOKIE": "true"})
    assert settings.console_secure_cookie is True
    text = embedded_banner(settings, create_demo(build_container(settings)), "http://127.0.0.1:1")
    banner = parse_banner(text)
    assert banner is not None
    assert "https only" in text

"""End-to-end fixtures: the real server under gunicorn, driven by the official twilio SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer, RedisServer


def server_env(redis_url: str, outbox: Path) -> dict[str, str]:
    return {
        "VERIFY_REDIS_URL": redis_url,
        "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
        "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
        "VERIFY_SECRET_KEY": SECRET_KEY,
        "VERIFY_CONSOLE_OUTBOX": str(outbox),
        "VERIFY_REDIS_TIMEOUT_SECONDS": "0.5",
    }


E2E_WHATSAPP_ROUTE = "MG" + "d" * 32
E2E_WHATSAPP_SENDER = "+14155550100"
E2E_ROUTES = f"""
[routes.e2e-whatsapp]
sid = "{E2E_WHATSAPP_ROUTE}"
whatsapp = "console://"
whatsapp_senders = ["{E2E_WHATSAPP_SENDER}"]
"""


@pytest.fixture(scope="session")
def outbox_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox") / "outbox.jsonl"


@pytest.fixture(scope="session")
def api_server(
    redis_server: RedisServer, outbox_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    # One route, so that the services specs can set Whatsapp.MsgServiceSid and From (a
    # setting naming no configured route is refused: docs/messages.md, "Routing by country").
    routes = tmp_path_factory.mktemp("routes") / "routes.toml"
    routes.write_text(E2E_ROUTES, encoding="utf-8")
    env = {**server_env(redis_server.url, outbox_path), "VERIFY_ROUTES_FILE": str(routes)}
    server = ApiServer(env, workers=2)
    server.start(tmp_path_factory.mktemp("logs") / "server.log")
    yield server
    server.stop()


@pytest.fixture
def outbox(outbox_path: Path, redis_server: RedisServer) -> Iterator[Outbox]:
    client = redis_server.client()
    yield Outbox(outbox_path, client)
    client.close()


def twilio_client(base_url: str, username: str = ACCOUNT_SID, password: str = AUTH_TOKEN) -> Client:
    """The official SDK, pointed at our server as the reference notes (§10) describe."""
    client = Client(username, password, account_sid=ACCOUNT_SID)
    client.verify.base_url = base_url
    return client


@pytest.fixture
def twilio(api_server: ApiServer, redis_client: object) -> Client:
    """An SDK client on a flushed Redis (the fixture `redis_client` flushes it)."""
    return twilio_client(api_server.url)


# The console's browser tests drive Debian's Chromium; Playwright never downloads one.
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def browser() -> Iterator[object]:
    """A launched Chromium (Playwright's sync API), closed after the test."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()

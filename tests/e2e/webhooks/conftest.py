"""Webhooks specifications (issue 12): fixtures shared by the resource's specs.

Two real servers over HTTP (tests/support/clocked_server.py), driven by the official SDK and
by raw requests: `plain` with no allow-list (the default: public addresses only), and
`loopback_allowed` with `127.0.0.0/8,::1/128` allowed (a receiver on this machine). The one
fake is at the process edge: DNS answers come from `DNS` (the network is not reachable
here), except `localhost`, which the system resolver answers from /etc/hosts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.e2e.conftest import twilio_client
from tests.support.clocked_server import ClockedServer
from tests.support.fakes import FixedClock
from tests.support.processes import RedisServer
from verify_service.adapters.webhooks.resolver import TargetResolver
from verify_service.domain.webhooks.targets import parse_allowed_networks
from verify_service.settings import Settings

PREFIX = "whspec"  # the servers' key prefix: "nothing stored" scans only these keys
PUBLIC_URL = "https://93.184.216.34/hooks/verify"  # a public address: no DNS involved
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"
DNS: dict[str, list[str]] = {
    "hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "private.example.com": ["10.0.0.5"],
    "metadata.example.com": ["169.254.169.254"],
    # A name answering one public and one loopback address: a resolver could pick either.
    "rebind.example.com": ["93.184.216.34", "127.0.0.1"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "cgnat.example.com": ["100.64.0.1"],
}


def fake_getaddrinfo(host: str, port: int, *args: Any) -> list[tuple[Any, ...]]:
    if host == "localhost":
        return socket.getaddrinfo(host, port, *args)
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return [
        (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
        for a in DNS[host]
    ]


def _server(
    redis_server: RedisServer, clock: FixedClock, allowed: str = ""
) -> Iterator[ClockedServer]:
    networks = parse_allowed_networks(allowed)
    settings = Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        secret_key=SECRET_KEY.encode(),
        redis_url=redis_server.url,
        key_prefix=PREFIX,
        webhook_allowed_networks=networks,
    )
    server = ClockedServer(
        settings, clock, webhook_targets=TargetResolver(networks, fake_getaddrinfo)
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def webhook_clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(scope="session")
def plain_server(redis_server: RedisServer, webhook_clock: FixedClock) -> Iterator[ClockedServer]:
    yield from _server(redis_server, webhook_clock)


@pytest.fixture(scope="session")
def loopback_server(
    redis_server: RedisServer, webhook_clock: FixedClock
) -> Iterator[ClockedServer]:
    yield from _server(redis_server, webhook_clock, LOOPBACK_NETWORKS)


@pytest.fixture
def client(plain_server: ClockedServer, redis_client: redis.Redis) -> Client:
    """The official SDK on the server without an allow-list, Redis flushed."""
    return twilio_client(plain_server.url)


@pytest.fixture
def loopback_client(loopback_server: ClockedServer, redis_client: redis.Redis) -> Client:
    """The official SDK on the server that allows loopback targets, Redis flushed."""
    return twilio_client(loopback_server.url)


def create_service(client: Client) -> str:
    return str(client.verify.v2.services.create(friendly_name="Acme").sid)


def raw(base_url: str, method: str, path: str, **params: Any) -> requests.Response:
    """One request below the SDK (form body, lists as repeated keys), account credentials."""
    return requests.request(
        method,
        f"{base_url}/v2{path}",
        data=params if method == "POST" else None,
        params=params if method != "POST" else None,
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )


def snapshot(client: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key under the servers' prefix but the audit log (each admin call, refused
    ones too, is recorded there by design), with its serialized value."""
    return {
        key: client.dump(key)
        for key in sorted(client.scan_iter(match=f"{PREFIX}:*"))
        if not key.startswith(f"{PREFIX}:{{audit}}:".encode())
    }

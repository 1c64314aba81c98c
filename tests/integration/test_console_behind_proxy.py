"""The support console behind a TLS proxy (docs/operations.md, "TLS in front"): with the
proxy's address in VERIFY_TRUSTED_PROXIES, the per-address sign-in throttle counts the client
the proxy names in X-Forwarded-For, so one client's wrong passwords do not lock everyone out;
without it, or from any other peer, X-Forwarded-For is ignored and cannot be used to dodge the
throttle. Through the console's sign-in form, on a real Redis."""

from __future__ import annotations

import dataclasses
import ipaddress

import redis
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.test_console import Console
from verify_service.app import CONTAINER_KEY, build_staff_users, create_app
from verify_service.application.support.staff_users import LOGINS_PER_CLIENT_IP
from verify_service.settings import Settings

PROXY = "10.1.2.3"  # the proxy the service sees as its peer


def app_behind_proxy(settings: Settings) -> Flask:
    trusted = (ipaddress.ip_network("10.1.2.0/24"),)
    app = create_app(dataclasses.replace(settings, trusted_proxies=trusted))
    build_staff_users(app.extensions[CONTAINER_KEY]).add("sam", "correct horse battery", "support")
    return app


def wrong_passwords(client: FlaskClient, forwarded_for: list[str]) -> list[int]:
    """One wrong sign-in per X-Forwarded-For value, each under another user name (so only
    the per-address throttle can refuse)."""
    console = Console(client)
    answers = []
    for n, value in enumerate(forwarded_for):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = value
        answers.append(console.login(name=f"nobody{n}", password="wrong password!!").status_code)
    return answers


def test_behind_a_trusted_proxy_each_client_has_its_own_budget(
    settings: Settings, redis_client: redis.Redis
) -> None:
    client = app_behind_proxy(settings).test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    attacker = ["198.51.100.7"] * (LOGINS_PER_CLIENT_IP + 1)
    assert wrong_passwords(client, attacker) == [401] * LOGINS_PER_CLIENT_IP + [429]
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"  # a colleague, same proxy
    assert Console(client).login().status_code == 303


def test_a_client_cannot_name_itself_through_the_proxy(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """The proxy appends the address it saw: what the client wrote before it is not used."""
    client = app_behind_proxy(settings).test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    spoofed = [f"192.0.2.{n}, 198.51.100.7" for n in range(1, LOGINS_PER_CLIENT_IP + 2)]
    assert wrong_passwords(client, spoofed) == [401] * LOGINS_PER_CLIENT_IP + [429]


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """A client talking to the service directly cannot dodge the throttle with the header."""
    client = app_behind_proxy(settings).test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    spoofed = [f"192.0.2.{n}" for n in range(1, LOGINS_PER_CLIENT_IP + 2)]
    assert wrong_passwords(client, spoofed) == [401] * LOGINS_PER_CLIENT_IP + [429]

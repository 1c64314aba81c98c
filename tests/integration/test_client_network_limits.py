"""Per-client-address limits count a network, not an exact address (docs/abuse-protection.md,
"One client, one network"): an IPv6 /64 is one client, an IPv4-mapped IPv6 address is its
IPv4 address. Through the HTTP API and the console's sign-in form, on a real Redis."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.conftest import Api
from tests.integration.test_console import Console
from verify_service.app import CONTAINER_KEY, build_staff_users
from verify_service.application.support.staff_users import LOGINS_PER_CLIENT_IP

DEFAULT_STARTS_PER_DEVICE_IP_PER_HOUR = 30


def numbers(count: int) -> list[str]:
    """Distinct valid UK mobiles (one per start, so no per-destination limit interferes)."""
    return [f"+447911{n:06d}" for n in range(1, count + 1)]


def status_codes(api: Api, service: str, device_ips: list[str]) -> list[int]:
    codes = []
    for to, device_ip in zip(numbers(len(device_ips)), device_ips, strict=True):
        codes.append(api.start(service, to, DeviceIp=device_ip).status_code)
    return codes


def assert_error(response: Any, status: int, code: int) -> None:
    assert response.status_code == status, response.json
    assert response.json["code"] == code, response.json


def test_a_hundred_addresses_of_one_ipv6_64_get_one_client_s_starts(api: Api) -> None:
    """100 starts from 100 addresses of one /64: exactly StartsPerDeviceIpPerHour admitted."""
    service = api.create_service()
    addresses = [f"2001:db8:1:2:{n:x}:{n * 7:x}:{n * 13:x}:{n:x}" for n in range(1, 101)]
    codes = status_codes(api, service, addresses)
    assert codes.count(201) == DEFAULT_STARTS_PER_DEVICE_IP_PER_HOUR
    assert codes.count(429) == 100 - DEFAULT_STARTS_PER_DEVICE_IP_PER_HOUR
    assert api.start(service, "+447400123456", DeviceIp="2001:db8:1:3::1").status_code == 201


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address(api: Api) -> None:
    """`::ffff:203.0.113.7` and `203.0.113.7` share one budget."""
    service = api.create_service(StartsPerDeviceIpPerHour=2)
    to = numbers(3)
    assert api.start(service, to[0], DeviceIp="203.0.113.7").status_code == 201
    assert api.start(service, to[1], DeviceIp="::ffff:203.0.113.7").status_code == 201
    assert_error(api.start(service, to[2], DeviceIp="::ffff:cb00:7107"), 429, 20429)


def test_console_sign_in_is_throttled_per_ipv6_64(app: Flask) -> None:
    """Sign-in attempts from many addresses of one /64 count as one client's: past
    LOGINS_PER_CLIENT_IP in the window the next is 429, before any password is compared."""
    build_staff_users(app.extensions[CONTAINER_KEY]).add("sam", "correct horse battery", "support")
    client = app.test_client()
    console = Console(client)
    answers = []
    for n in range(1, LOGINS_PER_CLIENT_IP + 2):
        client.environ_base["REMOTE_ADDR"] = f"2001:db8:5:6::{n:x}"
        # Another user name each time: only the per-address throttle can refuse.
        answers.append(console.login(name=f"nobody{n}", password="wrong password!!").status_code)
    assert answers == [401] * LOGINS_PER_CLIENT_IP + [429]
    client.environ_base["REMOTE_ADDR"] = "2001:db8:5:7::1"  # the next /64 is another client
    assert console.login().status_code == 303

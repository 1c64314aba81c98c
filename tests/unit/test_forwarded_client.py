"""The client behind trusted reverse proxies (domain/protection/forwarded.py) and
VERIFY_TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress

import pytest

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from verify_service.domain.protection.forwarded import client_address, parse_networks
from verify_service.settings import ConfigError, Settings

TRUSTED = parse_networks("10.0.0.0/8, 2001:db8:ff::/48")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # Not a trusted proxy: the peer, whatever it wrote.
        ("198.51.100.7", ["192.0.2.1"], "198.51.100.7"),
        # A trusted proxy: the address it appended.
        ("10.1.2.3", ["198.51.100.7"], "198.51.100.7"),
        # What the client wrote before the proxy's entry is not used.
        ("10.1.2.3", ["192.0.2.1, 198.51.100.7"], "198.51.100.7"),
        # Two trusted proxies in a row, the header given twice.
        ("10.1.2.3", ["192.0.2.1, 198.51.100.7", "10.9.9.9"], "198.51.100.7"),
        # IPv6 proxy, IPv4-mapped client.
        ("2001:db8:ff::1", ["::ffff:198.51.100.7"], "198.51.100.7"),
        # A trusted proxy without the header: the proxy.
        ("10.1.2.3", [], "10.1.2.3"),
        # Garbage where an address should be: the last trusted hop, never the garbage.
        ("10.1.2.3", ["evil.example"], "10.1.2.3"),
        ("10.1.2.3", ["198.51.100.7, unknown", "10.9.9.9"], "10.9.9.9"),
        # Every hop trusted: the left-most.
        ("10.1.2.3", ["10.4.4.4, 10.5.5.5"], "10.4.4.4"),
    ],
)
def test_the_client_is_the_right_most_untrusted_hop(
    peer: str, forwarded_for: list[str], client: str
) -> None:
    assert client_address(peer, forwarded_for, TRUSTED) == client


def test_no_trusted_proxy_means_the_header_is_never_read() -> None:
    assert client_address("10.1.2.3", ["198.51.100.7"], ()) == "10.1.2.3"


def test_networks_and_single_addresses_are_accepted() -> None:
    assert parse_networks(" 10.0.0.0/8 ,192.0.2.7,, ::1 ") == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.7/32"),
        ipaddress.ip_network("::1/128"),
    )


def test_the_variable_is_read_and_a_bad_entry_is_named_by_position_only() -> None:
    env = {
        "VERIFY_REDIS_URL": "redis://127.0.0.1:6379/0",
        "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
        "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
        "VERIFY_SECRET_KEY": SECRET_KEY,
    }
    assert Settings.from_env(env).trusted_proxies == ()
    settings = Settings.from_env({**env, "VERIFY_TRUSTED_PROXIES": "10.0.0.0/8"})
    assert settings.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"),)
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**env, "VERIFY_TRUSTED_PROXIES": "10.0.0.0/8,secret-name"})
    assert str(refused.value) == "VERIFY_TRUSTED_PROXIES: entry 2 is not an IP address or network"

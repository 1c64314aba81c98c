"""VERIFY_WEBHOOK_ALLOWED_NETWORKS: read at start, a malformed entry stops the start."""

from __future__ import annotations

import ipaddress

import pytest

from verify_service.settings import ConfigError, Settings

ENV = {
    "VERIFY_REDIS_URL": "redis://127.0.0.1:6390/0",
    "VERIFY_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
    "VERIFY_AUTH_TOKEN": "settings-test-auth-token-7f3a",
    "VERIFY_SECRET_KEY": "settings-test-secret-key-at-least-32-bytes-9c1e",
}


def test_unset_allows_no_network() -> None:
    """By default webhooks reach public addresses only."""
    assert Settings.from_env(ENV).webhook_allowed_networks == ()


def test_the_networks_are_read_in_order() -> None:
    """Comma-separated CIDRs, spaces tolerated, a bare address is one host."""
    env = {**ENV, "VERIFY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8, ::1 ,10.1.0.0/16"}
    assert Settings.from_env(env).webhook_allowed_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.1.0.0/16"),
    )


@pytest.mark.parametrize("entry", ["10.0.0.1/8", "localhost", "10.0.0.0/33", "127.0.0.0/8/8"])
def test_a_malformed_entry_stops_the_start_naming_the_variable_and_the_entry(entry: str) -> None:
    """A typo is never guessed at (host bits set included): the start stops with the reason."""
    env = {**ENV, "VERIFY_WEBHOOK_ALLOWED_NETWORKS": f"127.0.0.0/8,{entry}"}
    with pytest.raises(ConfigError, match="VERIFY_WEBHOOK_ALLOWED_NETWORKS") as stopped:
        Settings.from_env(env)
    assert repr(entry) in str(stopped.value)

"""`VERIFY_CONSOLE_SECURE_COOKIE` defaults to false on the embedded store only (so `make run`
lets a browser sign in over http://127.0.0.1, loopback clients only), true with Redis."""

from __future__ import annotations

import pytest

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from verify_service.settings import ConfigError, Settings

REDIS = {
    "VERIFY_REDIS_URL": "redis://127.0.0.1:6379/0",
    "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
    "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
    "VERIFY_SECRET_KEY": SECRET_KEY,
}


def test_the_embedded_store_defaults_to_a_non_secure_cookie() -> None:
    """No VERIFY_REDIS_URL: the console cookie is not `Secure` (http://127.0.0.1)."""
    assert Settings.from_env({}).console_secure_cookie is False


def test_a_redis_deployment_defaults_to_a_secure_cookie() -> None:
    """With VERIFY_REDIS_URL the cookie stays `Secure` unless the operator says otherwise."""
    assert Settings.from_env(REDIS).console_secure_cookie is True


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"VERIFY_CONSOLE_SECURE_COOKIE": "true"}, True),
        ({**REDIS, "VERIFY_CONSOLE_SECURE_COOKIE": "false"}, False),
        ({"VERIFY_CONSOLE_SECURE_COOKIE": " FALSE "}, False),
    ],
)
def test_an_explicit_value_wins_over_either_default(env: dict[str, str], expected: bool) -> None:
    """The variable, when set, decides in both modes."""
    assert Settings.from_env(env).console_secure_cookie is expected


def test_a_malformed_value_names_the_variable() -> None:
    """Anything but true/false stops the start, in embedded mode too."""
    with pytest.raises(ConfigError, match="VERIFY_CONSOLE_SECURE_COOKIE"):
        Settings.from_env({"VERIFY_CONSOLE_SECURE_COOKIE": "maybe"})

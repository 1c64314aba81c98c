"""`redis+sentinel://` URLs and the opt-in replica wait: parsed and checked at start-up, with
messages that never repeat a password."""

from __future__ import annotations

import pytest

from tests.unit.test_settings import production_env
from verify_service.adapters.redis_sentinel import (
    SentinelTarget,
    SentinelUrlError,
    parse_sentinel_url,
)
from verify_service.settings import ConfigError, Settings

SECRET = "s3cr3t-password"


@pytest.mark.parametrize(
    ("url", "target"),
    [
        (
            "redis+sentinel://10.0.0.1:26379,10.0.0.2:26380/mymaster",
            SentinelTarget((("10.0.0.1", 26379), ("10.0.0.2", 26380)), "mymaster"),
        ),
        (
            f"redis+sentinel://:{SECRET}@s1,s2:5000/verify?db=3",
            SentinelTarget((("s1", 26379), ("s2", 5000)), "verify", 3, None, SECRET),
        ),
        (
            f"redis+sentinel://app:{SECRET}@[::1]:26379/verify?sentinel_password=other",
            SentinelTarget(
                (("::1", 26379),), "verify", 0, "app", SECRET, sentinel_password="other"
            ),
        ),
        (
            "redis+sentinel://s1/verify?sentinel_username=mon&sentinel_password=p%40ss",
            SentinelTarget((("s1", 26379),), "verify", 0, None, None, "mon", "p@ss"),
        ),
    ],
)
def test_sentinel_urls_name_sentinels_master_db_and_credentials(
    url: str, target: SentinelTarget
) -> None:
    """Hosts default to port 26379; the URL's password is the master's, the sentinels' is
    `sentinel_password`."""
    assert parse_sentinel_url(url) == target


@pytest.mark.parametrize(
    "url",
    [
        f"redis+sentinel://:{SECRET}@s1:26379",  # no master name
        f"redis+sentinel://:{SECRET}@s1:26379/",
        f"redis+sentinel://:{SECRET}@s1:notaport/verify",
        f"redis+sentinel://:{SECRET}@:26379/verify",
        f"redis+sentinel://:{SECRET}@s1/verify?db=x",
        f"redis+sentinel://:{SECRET}@s1/verify?password=x",
        f"redis+sentinel://:{SECRET}@s1/a/b",
    ],
)
def test_a_malformed_sentinel_url_stops_the_start_without_echoing_it(url: str) -> None:
    """Settings refuse it naming VERIFY_REDIS_URL and the reason, never the password."""
    with pytest.raises(SentinelUrlError):
        parse_sentinel_url(url)
    with pytest.raises(ConfigError, match="VERIFY_REDIS_URL") as caught:
        Settings.from_env(production_env(VERIFY_REDIS_URL=url))
    assert SECRET not in str(caught.value)


def test_a_sentinel_url_is_accepted() -> None:
    settings = Settings.from_env(production_env(VERIFY_REDIS_URL="redis+sentinel://s1/verify"))
    assert settings.redis_url == "redis+sentinel://s1/verify"


def test_replica_wait_is_off_by_default_and_bounded_by_the_redis_timeout() -> None:
    """0 replicas by default; the wait's timeout is 100 ms and at most half the socket
    timeout, so a slow replica never turns a check into a timed-out 503."""
    settings = Settings.from_env(production_env())
    assert (settings.redis_wait_replicas, settings.redis_wait_timeout_ms) == (0, 100)
    settings = Settings.from_env(
        production_env(VERIFY_REDIS_WAIT_REPLICAS="1", VERIFY_REDIS_WAIT_TIMEOUT_MS="500")
    )
    assert (settings.redis_wait_replicas, settings.redis_wait_timeout_ms) == (1, 500)
    with pytest.raises(ConfigError, match="VERIFY_REDIS_WAIT_TIMEOUT_MS"):
        Settings.from_env(production_env(VERIFY_REDIS_WAIT_TIMEOUT_MS="501"))
    with pytest.raises(ConfigError, match="VERIFY_REDIS_WAIT_TIMEOUT_MS"):
        Settings.from_env(production_env(VERIFY_REDIS_WAIT_TIMEOUT_MS="0"))
    with pytest.raises(ConfigError, match="VERIFY_REDIS_WAIT_REPLICAS"):
        Settings.from_env(production_env(VERIFY_REDIS_WAIT_REPLICAS="-1"))


def test_replica_wait_needs_a_real_redis() -> None:
    """The embedded store has no replicas to wait for."""
    with pytest.raises(ConfigError, match="VERIFY_REDIS_WAIT_REPLICAS needs VERIFY_REDIS_URL"):
        Settings.from_env({"VERIFY_REDIS_WAIT_REPLICAS": "1"})

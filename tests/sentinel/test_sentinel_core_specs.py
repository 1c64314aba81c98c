"""The core specifications (tests/support/core_specs.py, written once for every Redis
deployment) against `serve` on the suite's Sentinel group: the same Lua scripts on the
master the sentinels name, and a race split across two `serve` processes that share nothing
but the group. Skipped where the specs module is not there yet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from twilio.rest import Client

from tests.e2e.conftest import server_env
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer
from tests.support.redis_sentinel_group import SentinelGroup

core_specs = pytest.importorskip("tests.support.core_specs")

pytestmark = [pytest.mark.e2e, pytest.mark.sentinel]


@pytest.fixture(scope="module")
def second_server(
    sentinel_group: SentinelGroup,
    sentinel_outbox_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiServer]:
    """Another `serve` on the same group (no delivery worker of its own)."""
    server = ApiServer(
        server_env(sentinel_group.url, sentinel_outbox_path), workers=2, options=("--no-worker",)
    )
    try:
        server.start(tmp_path_factory.mktemp("sentinel-second") / "server.log")
        yield server
    finally:
        server.stop()


def test_a_verification_lives_its_whole_life_through_sentinel(
    sentinel_twilio: Client, sentinel_outbox: Outbox
) -> None:
    """Start, wrong check, right check, gone: through the official SDK."""
    core_specs.lifecycle(sentinel_twilio, sentinel_outbox)


def test_sixty_concurrent_wrong_checks_count_exactly_five_through_sentinel(
    sentinel_twilio: Client, sentinel_outbox: Outbox, sentinel_api_server: ApiServer
) -> None:
    """Of 60 simultaneous wrong checks, five are evaluated and 55 refused with 60202."""
    core_specs.sixty_wrong_checks_count_exactly_five(
        sentinel_twilio, sentinel_outbox, [sentinel_api_server.url]
    )


def test_a_race_split_across_two_servers_counts_exactly_five_through_sentinel(
    sentinel_twilio: Client,
    sentinel_outbox: Outbox,
    sentinel_api_server: ApiServer,
    second_server: ApiServer,
) -> None:
    """Two `serve` processes share nothing but the Sentinel group: still exactly five."""
    core_specs.sixty_wrong_checks_count_exactly_five(
        sentinel_twilio, sentinel_outbox, [sentinel_api_server.url, second_server.url]
    )


def test_sixteen_concurrent_right_codes_approve_exactly_once_through_sentinel(
    sentinel_twilio: Client,
    sentinel_outbox: Outbox,
    sentinel_api_server: ApiServer,
    second_server: ApiServer,
) -> None:
    """One approval of 16 right codes, split across both servers."""
    core_specs.sixteen_right_codes_approve_once(
        sentinel_twilio, sentinel_outbox, [sentinel_api_server.url, second_server.url]
    )


def test_the_worker_delivers_every_message_through_sentinel(
    sentinel_twilio: Client, sentinel_outbox: Outbox
) -> None:
    """Many starts: the delivery worker delivers each message once."""
    core_specs.every_message_is_delivered_by_the_worker(sentinel_twilio, sentinel_outbox)


def test_rate_limits_refuse_at_the_limit_through_sentinel(
    sentinel_twilio: Client, sentinel_api_server: ApiServer, sentinel_redis: object
) -> None:
    """A bucket and the sends-per-destination limit refuse exactly at their limit."""
    core_specs.rate_limits_refuse_at_the_limit(sentinel_twilio, sentinel_api_server.url)


def test_a_totp_factor_lives_its_whole_life_through_sentinel(
    sentinel_twilio: Client, sentinel_api_server: ApiServer
) -> None:
    core_specs.totp_lifecycle(sentinel_twilio)


def test_sixteen_concurrent_totp_challenges_approve_once_through_sentinel(
    sentinel_twilio: Client, sentinel_api_server: ApiServer, second_server: ApiServer
) -> None:
    core_specs.sixteen_right_totp_codes_approve_once(
        sentinel_twilio, [sentinel_api_server.url, second_server.url]
    )

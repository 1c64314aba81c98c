"""The core specifications (tests/support/core_specs.py) against a real Redis Cluster of
three masters and three replicas: the same Lua scripts through redis-py's cluster client,
the sharded outbox consumed by a separate worker, and two `serve` processes sharing
nothing but the cluster."""

from __future__ import annotations

import pytest
from twilio.rest import Client

from tests.support import core_specs
from tests.support.delivery_processes import ServeProcess
from tests.support.outbox import Outbox

pytestmark = pytest.mark.cluster


def test_a_verification_lives_its_whole_life_on_the_cluster(
    cluster_twilio: Client, cluster_outbox: Outbox
) -> None:
    """Start, wrong check, right check, gone: through the official SDK."""
    core_specs.lifecycle(cluster_twilio, cluster_outbox)


def test_sixty_concurrent_wrong_checks_count_exactly_five(
    cluster_twilio: Client, cluster_outbox: Outbox, cluster_servers: list[ServeProcess]
) -> None:
    """Of 60 simultaneous wrong checks, five are evaluated and 55 refused with 60202."""
    core_specs.sixty_wrong_checks_count_exactly_five(
        cluster_twilio, cluster_outbox, [cluster_servers[0].url]
    )


def test_a_race_split_across_two_servers_still_counts_exactly_five(
    cluster_twilio: Client, cluster_outbox: Outbox, cluster_servers: list[ServeProcess]
) -> None:
    """Two `serve` processes share nothing but the cluster: 60 wrong checks, half on each,
    still count exactly five."""
    core_specs.sixty_wrong_checks_count_exactly_five(
        cluster_twilio, cluster_outbox, [server.url for server in cluster_servers]
    )


def test_sixteen_concurrent_right_codes_approve_exactly_once(
    cluster_twilio: Client, cluster_outbox: Outbox, cluster_servers: list[ServeProcess]
) -> None:
    """One approval of 16 right codes, split across both servers."""
    core_specs.sixteen_right_codes_approve_once(
        cluster_twilio, cluster_outbox, [server.url for server in cluster_servers]
    )


def test_the_worker_delivers_from_every_outbox_shard(
    cluster_twilio: Client, cluster_outbox: Outbox
) -> None:
    """40 starts land on most of the 16 outbox shards; the worker delivers each once."""
    core_specs.every_message_is_delivered_by_the_worker(cluster_twilio, cluster_outbox)


def test_rate_limits_refuse_at_the_limit_on_the_cluster(
    cluster_twilio: Client, cluster_servers: list[ServeProcess]
) -> None:
    """A bucket and the sends-per-destination limit refuse exactly at their limit."""
    core_specs.rate_limits_refuse_at_the_limit(cluster_twilio, cluster_servers[0].url)


def test_a_totp_factor_lives_its_whole_life_on_the_cluster(cluster_twilio: Client) -> None:
    """Enrol, challenges approved, answered and replayed, entity deleted: the MFA scripts
    each stay in their entity's slot."""
    core_specs.totp_lifecycle(cluster_twilio)


def test_sixteen_concurrent_totp_challenges_approve_once_on_the_cluster(
    cluster_twilio: Client, cluster_servers: list[ServeProcess]
) -> None:
    core_specs.sixteen_right_totp_codes_approve_once(
        cluster_twilio, [server.url for server in cluster_servers]
    )


def test_sixty_concurrent_wrong_totp_answers_count_five_on_the_cluster(
    cluster_twilio: Client, cluster_servers: list[ServeProcess]
) -> None:
    core_specs.sixty_wrong_totp_answers_count_exactly_five(
        cluster_twilio, [server.url for server in cluster_servers]
    )

"""Webhooks on a real Redis Cluster: every script of a service's webhooks stays in the
service's `{wh:<VA>}` slot, the per-service cap holds under concurrent creates split over two
servers, and a service's delete takes its webhooks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.delivery_processes import ServeProcess
from verify_service.domain.webhooks.rules import MAX_WEBHOOKS_PER_SERVICE

pytestmark = pytest.mark.cluster
URL = "https://93.184.216.34/hook"


def test_a_webhook_lives_its_whole_life_on_the_cluster(
    cluster_twilio: Client, cluster_client: redis.Redis
) -> None:
    """Create, list, update, delete, and the service's delete removing the rest."""
    service_sid = str(cluster_twilio.verify.v2.services.create(friendly_name="Acme").sid)
    webhooks = cluster_twilio.verify.v2.services(service_sid).webhooks
    first = webhooks.create(friendly_name="a", event_types=["*"], webhook_url=URL)
    second = webhooks.create(friendly_name="b", event_types=["factor.created"], webhook_url=URL)
    assert [w.sid for w in webhooks.list(page_size=1)] == [first.sid, second.sid]
    assert webhooks(first.sid).update(status="disabled").status == "disabled"
    assert webhooks(first.sid).delete() is True
    cluster_twilio.verify.v2.services(service_sid).delete()
    left = [
        key
        for key in cluster_client.scan_iter(match=f"vs:wh:*{service_sid}*")
        if not key.endswith(b":deleted")
    ]
    assert left == []


def test_concurrent_creates_over_two_servers_stop_exactly_at_the_cap(
    cluster_twilio: Client, cluster_servers: list[ServeProcess]
) -> None:
    """30 creates at once, alternating between two servers: exactly 20 are stored."""
    service_sid = str(cluster_twilio.verify.v2.services.create(friendly_name="Acme").sid)

    def create(index: int) -> int:
        server = cluster_servers[index % 2]
        return requests.post(
            f"{server.url}/v2/Services/{service_sid}/Webhooks",
            data={"FriendlyName": f"hook {index}", "EventTypes": "*", "WebhookUrl": URL},
            auth=(ACCOUNT_SID, AUTH_TOKEN),
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(create, range(30)))
    assert sorted(statuses) == [201] * MAX_WEBHOOKS_PER_SERVICE + [400] * 10
    listed = cluster_twilio.verify.v2.services(service_sid).webhooks.list()
    assert len(listed) == MAX_WEBHOOKS_PER_SERVICE

"""The WebhookDirectory event publishing reads (application/webhooks/directory.py), on a real
Redis: `subscribers` answers from a per-process list at most CACHE_TTL_MS old (no Redis read
per event), a change through this process is seen at once, `get` always reads Redis."""

from __future__ import annotations

from collections.abc import Callable

import redis
from flask import Flask

from tests.conftest import Api
from tests.support.fakes import FixedClock
from verify_service.adapters.redis_store.keys import WebhookKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.adapters.redis_store.webhooks.webhook_store import RedisWebhookStore
from verify_service.app import CONTAINER_KEY
from verify_service.application.webhooks.directory import (
    CACHE_TTL_MS,
    STALE_LIMIT_MS,
    CachedWebhookDirectory,
)
from verify_service.application.webhooks.ports import Webhook
from verify_service.domain.events.event_types import EventType

PUBLIC_URL = "https://93.184.216.34/hook"


def _create(api: Api, service_sid: str, event_types: list[str], **extra: str) -> str:
    response = api.client.post(
        f"/v2/Services/{service_sid}/Webhooks",
        data={"FriendlyName": "hook", "EventTypes": event_types, "WebhookUrl": PUBLIC_URL, **extra},
        headers=api.headers,
    )
    assert response.status_code == 201, response.json
    sid: str = response.json["sid"]  # type: ignore[index]
    return sid


def _directory(app: Flask) -> CachedWebhookDirectory:
    found: CachedWebhookDirectory = app.extensions[CONTAINER_KEY].webhook_directory
    return found


def _count_reads(directory: CachedWebhookDirectory) -> list[str]:
    """The services whose webhook lists the directory reads from the store from now on."""
    reads: list[str] = []
    store = directory._store
    original = store.list_webhooks

    def counting(service_sid: str) -> list[Webhook]:
        reads.append(service_sid)
        return original(service_sid)

    store.list_webhooks = counting  # type: ignore[method-assign]
    return reads


def _commands(client: redis.Redis) -> int:
    return int(client.info("stats")["total_commands_processed"])


def test_subscribers_are_the_enabled_webhooks_that_want_the_event(app: Flask, api: Api) -> None:
    """`*` wants everything; a disabled webhook wants nothing; creation order kept."""
    service_sid = api.create_service()
    every = _create(api, service_sid, ["*"])
    approvals = _create(api, service_sid, ["verification.approved", "factor.created"])
    _create(api, service_sid, ["*"], Status="disabled")
    directory = _directory(app)
    wanted = directory.subscribers(service_sid, EventType.VERIFICATION_APPROVED)
    assert [w.sid for w in wanted] == [every, approvals]
    assert [w.sid for w in directory.subscribers(service_sid, EventType.DELIVERY_FAILED)] == [every]
    assert directory.subscribers(api.create_service(), EventType.DELIVERY_FAILED) == []


def test_a_cached_answer_costs_no_redis_command(
    app: Flask, api: Api, redis_client: redis.Redis, clock: FixedClock
) -> None:
    """Within the TTL no command reaches Redis, with or without webhooks; after it, one read."""
    with_hooks, without = api.create_service(), api.create_service()
    _create(api, with_hooks, ["*"])
    directory = _directory(app)
    for service_sid in (with_hooks, without):
        directory.subscribers(service_sid, EventType.VERIFICATION_STARTED)
    reads = _count_reads(directory)
    for _ in range(100):
        for service_sid in (with_hooks, without):
            directory.subscribers(service_sid, EventType.VERIFICATION_STARTED)
    assert reads == []  # (counted at the store: other tests' threads share this Redis)
    clock.advance(CACHE_TTL_MS / 1000)
    directory.run_in_background = lambda work: work()  # the refresh, in place
    assert len(directory.subscribers(with_hooks, EventType.VERIFICATION_STARTED)) == 1
    assert reads == [with_hooks]


def test_another_processs_change_is_seen_within_the_ttl(
    app: Flask, api: Api, redis_client: redis.Redis, clock: FixedClock
) -> None:
    """A webhook deleted behind this process's back stays listed until the TTL ends, and
    for the event that starts the refresh; `get` (the delivery worker's check before each
    send) sees the delete at once."""
    service_sid = api.create_service()
    sid = _create(api, service_sid, ["*"])
    directory = _directory(app)
    assert len(directory.subscribers(service_sid, EventType.FACTOR_CREATED)) == 1
    for key in redis_client.scan_iter(match=f"it:wh:*{sid}"):
        redis_client.delete(key)  # as another process's delete would
    assert directory.get(service_sid, sid) is None
    clock.advance((CACHE_TTL_MS - 1) / 1000)
    assert len(directory.subscribers(service_sid, EventType.FACTOR_CREATED)) == 1
    clock.advance(0.001)
    refreshes: list[Callable[[], None]] = []
    directory.run_in_background = refreshes.append
    assert len(directory.subscribers(service_sid, EventType.FACTOR_CREATED)) == 1  # stale
    assert len(directory.subscribers(service_sid, EventType.FACTOR_CREATED)) == 1
    assert len(refreshes) == 1  # one refresh under way, not one per event
    refreshes[0]()
    assert directory.subscribers(service_sid, EventType.FACTOR_CREATED) == []


def test_a_rarely_started_service_pays_no_directory_read_on_the_request_path(
    app: Flask, api: Api, redis_client: redis.Redis, clock: FixedClock
) -> None:
    """Past the TTL the list is answered at once and read again in the background; only a
    list older than STALE_LIMIT_MS (or none) is read on the request path."""
    service_sid = api.create_service()
    directory = _directory(app)
    directory.subscribers(service_sid, EventType.VERIFICATION_STARTED)
    directory.run_in_background = lambda _work: None  # a refresh that never answers
    clock.advance(30)
    reads = _count_reads(directory)
    assert directory.subscribers(service_sid, EventType.VERIFICATION_STARTED) == []
    assert reads == []
    clock.advance(STALE_LIMIT_MS / 1000)
    assert directory.subscribers(service_sid, EventType.VERIFICATION_STARTED) == []
    assert reads == [service_sid]  # too old: read in the request


def test_a_change_through_this_process_is_seen_at_once(app: Flask, api: Api) -> None:
    """Create, disable, delete through the API: the next `subscribers` reflects each."""
    service_sid = api.create_service()
    directory = _directory(app)
    assert directory.subscribers(service_sid, EventType.FACTOR_CREATED) == []
    sid = _create(api, service_sid, ["factor.created"])
    assert [w.sid for w in directory.subscribers(service_sid, EventType.FACTOR_CREATED)] == [sid]
    path = f"/v2/Services/{service_sid}/Webhooks/{sid}"
    api.client.post(path, data={"Status": "disabled"}, headers=api.headers)
    assert directory.subscribers(service_sid, EventType.FACTOR_CREATED) == []
    api.client.post(path, data={"Status": "enabled"}, headers=api.headers)
    assert len(directory.subscribers(service_sid, EventType.FACTOR_CREATED)) == 1
    api.client.delete(path, headers=api.headers)
    assert directory.subscribers(service_sid, EventType.FACTOR_CREATED) == []
    fetched = directory.get(service_sid, sid)
    assert fetched is None


def test_a_create_racing_its_services_delete_stores_nothing(
    app: Flask, api: Api, redis_client: redis.Redis
) -> None:
    """The delete leaves a marker in the service's slot: a create that read the service just
    before the delete (its script runs after) finds it and stores nothing (404)."""
    service_sid = api.create_service()
    store = RedisWebhookStore(redis_client, ScriptBook(), WebhookKeys("it"))  # no service read
    assert api.client.delete(f"/v2/Services/{service_sid}", headers=api.headers).status_code == 204
    late = Webhook("YW" + "1" * 32, service_sid, "late", ("*",), PUBLIC_URL, "enabled", "v2", 1, 1)
    assert store.create_webhook(late, 20) == -1
    assert list(redis_client.scan_iter(match=f"it:wh:*{service_sid}*")) == [
        f"it:wh:{{wh:{service_sid}}}:deleted".encode()
    ]
    assert 0 < redis_client.pttl(f"it:wh:{{wh:{service_sid}}}:deleted") <= 3_600_000

"""Webhooks in Redis: one hash per webhook (a JSON value per field), an index per service in
creation order, all of a service under its own hash tag (keys.WebhookKeys)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import WebhookKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.webhooks.ports import Webhook

# How long a deleted service's marker refuses webhook creates: far longer than a create's
# read of the service and its script apart (milliseconds), and it then goes by itself.
DELETED_MARKER_MS = 3_600_000
# Passes over a deleted service's index (each removes what it read; a create racing the
# delete adds at most one more before the marker stops it).
MAX_DELETE_PASSES = 5
_FIELDS = frozenset(field.name for field in dataclasses.fields(Webhook))


def _encode(values: dict[str, Any]) -> list[str]:
    flat: list[str] = []
    for name, value in values.items():
        flat += [name, json.dumps(list(value) if isinstance(value, tuple) else value)]
    return flat


def _decode(raw: Any) -> Webhook | None:
    pairs: dict[bytes, bytes] = (
        dict(zip(raw[::2], raw[1::2], strict=True)) if isinstance(raw, list) else raw
    )
    if not pairs:
        return None
    values = {k.decode(): json.loads(v) for k, v in pairs.items()}
    values = {k: v for k, v in values.items() if k in _FIELDS}
    values["event_types"] = tuple(values["event_types"])
    return Webhook(**values)


class RedisWebhookStore:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: WebhookKeys) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys

    @fail_closed
    def create_webhook(self, webhook: Webhook, max_per_service: int) -> int:
        service = webhook.service_sid
        position = self._scripts.run(
            self._client,
            "create_webhook",
            [
                self._keys.webhook(service, webhook.sid),
                self._keys.index(service),
                self._keys.counter(service),
                self._keys.deleted(service),
            ],
            [webhook.sid, max_per_service, *_encode(dataclasses.asdict(webhook))],
        )
        return int(position)

    @fail_closed
    def get_webhook(self, service_sid: str, webhook_sid: str) -> Webhook | None:
        return _decode(self._client.hgetall(self._keys.webhook(service_sid, webhook_sid)))

    @fail_closed
    def list_webhooks(self, service_sid: str) -> list[Webhook]:
        sids: list[bytes] = self._client.zrange(  # type: ignore[assignment]
            self._keys.index(service_sid), 0, -1
        )
        if not sids:
            return []
        pipe = self._client.pipeline(transaction=False)
        for sid in sids:
            pipe.hgetall(self._keys.webhook(service_sid, sid.decode()))
        found = [_decode(raw) for raw in pipe.execute()]
        return [webhook for webhook in found if webhook is not None]

    @fail_closed
    def update_webhook(
        self, service_sid: str, webhook_sid: str, changes: dict[str, Any], now_ms: int
    ) -> Webhook | None:
        raw = self._scripts.run(
            self._client,
            "update_webhook",
            [self._keys.webhook(service_sid, webhook_sid)],
            _encode({**changes, "date_updated_ms": now_ms}),
        )
        return _decode(raw)

    @fail_closed
    def delete_webhook(self, service_sid: str, webhook_sid: str) -> bool:
        deleted = self._scripts.run(
            self._client,
            "delete_webhook",
            [self._keys.webhook(service_sid, webhook_sid), self._keys.index(service_sid)],
            [webhook_sid],
        )
        return bool(deleted)

    @fail_closed
    def delete_service_webhooks(self, service_sid: str) -> int:
        index = self._keys.index(service_sid)
        count = 0
        for _ in range(MAX_DELETE_PASSES):
            sids = [s.decode() for s in self._client.zrange(index, 0, -1)]  # type: ignore[union-attr]
            left = self._scripts.run(
                self._client,
                "delete_service_webhooks",
                [
                    index,
                    self._keys.counter(service_sid),
                    self._keys.deleted(service_sid),
                    *(self._keys.webhook(service_sid, sid) for sid in sids),
                ],
                [DELETED_MARKER_MS, *sids],
            )
            count += len(sids)
            if int(left) == 0:
                break
        return count

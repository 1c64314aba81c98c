"""Verify Services in Redis: one hash per service (a JSON value per field) and an index."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import KeySpace
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.domain.routing.routing import MessagingConfiguration
from verify_service.domain.service import Service, configuration_fields


def encode_fields(values: dict[str, Any]) -> list[str]:
    """Flat field/value list for HSET; values are JSON so types survive the round trip."""
    flat: list[str] = []
    for name, value in values.items():
        flat += [name, json.dumps(list(value) if isinstance(value, tuple) else value)]
    return flat


def decode_service(raw: Any) -> Service | None:
    """A service from HGETALL (a dict) or from a script's flat field/value list."""
    pairs: dict[bytes, bytes] = (
        dict(zip(raw[::2], raw[1::2], strict=True)) if isinstance(raw, list) else raw
    )
    if not pairs:
        return None
    return Service.from_mapping({k.decode(): json.loads(v) for k, v in pairs.items()})


class RedisServiceStore:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: KeySpace) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys

    @fail_closed
    def create_service(self, service: Service) -> None:
        values = dataclasses.asdict(service)
        del values["messaging_configurations"]  # their own fields: MessagingConfigurations
        self._scripts.run(
            self._client,
            "create_service",
            [
                self._keys.service(service.sid),
                self._keys.service_index(),
                self._keys.service_counter(),
            ],
            [service.sid, *encode_fields(values)],
        )

    @fail_closed
    def get_service(self, sid: str) -> Service | None:
        return decode_service(self._client.hgetall(self._keys.service(sid)))

    @fail_closed
    def update_service(self, sid: str, changes: dict[str, Any], now_ms: int) -> Service | None:
        values = {**changes, "date_updated_ms": now_ms}
        raw = self._scripts.run(
            self._client, "update_service", [self._keys.service(sid)], encode_fields(values)
        )
        return decode_service(raw)

    @fail_closed
    def delete_service(self, sid: str) -> bool:
        deleted = self._scripts.run(
            self._client,
            "delete_service",
            [self._keys.service(sid), self._keys.service_index(), self._keys.rate_limits(sid)],
            [sid],
        )
        return bool(deleted)

    @fail_closed
    def create_messaging_configuration(
        self, service_sid: str, configuration: MessagingConfiguration
    ) -> bool | None:
        """True: added; False: its country has one already; None: no such service."""
        field, created_field = configuration_fields(configuration.country)
        value = json.dumps([configuration.messaging_service_sid, configuration.date_updated_ms])
        added = self._scripts.run(
            self._client,
            "create_messaging_configuration",
            [self._keys.service(service_sid)],
            [field, value, created_field, configuration.date_created_ms],
        )
        return None if int(added) < 0 else bool(added)

    @fail_closed
    def update_messaging_configuration(
        self, service_sid: str, country: str, route_sid: str, now_ms: int
    ) -> MessagingConfiguration | None:
        field, created_field = configuration_fields(country)
        created = self._scripts.run(
            self._client,
            "update_messaging_configuration",
            [self._keys.service(service_sid)],
            [field, json.dumps([route_sid, now_ms]), created_field],
        )
        if created is None:
            return None
        return MessagingConfiguration(country, route_sid, int(created), now_ms)

    @fail_closed
    def delete_messaging_configuration(self, service_sid: str, country: str) -> bool:
        deleted = self._scripts.run(
            self._client,
            "delete_messaging_configuration",
            [self._keys.service(service_sid)],
            list(configuration_fields(country)),
        )
        return bool(deleted)

    @fail_closed
    def list_services(self, offset: int, limit: int) -> tuple[list[Service], bool]:
        # One extra sid tells whether another page follows.
        sids: list[bytes] = self._client.zrange(  # type: ignore[assignment]
            self._keys.service_index(), offset, offset + limit
        )
        more = len(sids) > limit
        pipe = self._client.pipeline(transaction=False)
        for sid in sids[:limit]:
            pipe.hgetall(self._keys.service(sid.decode()))
        services = [decode_service(raw) for raw in pipe.execute()]
        return [s for s in services if s is not None], more

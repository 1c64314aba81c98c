"""The Safe List in-process against a real Redis: one field per number named by a keyed
digest (the one a start tests), atomic adds, masked logs and errors, fail closed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from flask import Flask

from tests.conftest import Api
from verify_service.adapters.redis_store.keys import KeySpace
from verify_service.adapters.redis_store.protection.safe_list_store import (
    RedisSafeListStore,
    safe_list_field,
)
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.app import CONTAINER_KEY
from verify_service.application.protection.ports import SafeListRecord
from verify_service.domain.keyring import Keyring
from verify_service.settings import Settings

NUMBER = "+14155552671"
NUMBERS = "/v2/SafeList/Numbers"


def test_the_field_is_the_one_a_start_tests(app: Flask, settings: Settings) -> None:
    """The start path (AbuseProtection) and the Safe List name a number's entry alike."""
    container = app.extensions[CONTAINER_KEY]
    keyring = Keyring.from_secret(settings.secret_key)
    assert container.protection is not None
    assert container.protection.safe_list_field(NUMBER) == safe_list_field(keyring, NUMBER)
    assert NUMBER.lstrip("+") not in safe_list_field(keyring, NUMBER)


def test_an_added_number_is_one_field_of_the_safe_list_hash(
    api: Api, settings: Settings, redis_client: redis.Redis
) -> None:
    added = api.post(NUMBERS, PhoneNumber=NUMBER)
    assert added.status_code == 201
    key = KeySpace(settings.key_prefix).safe_list()
    field = safe_list_field(Keyring.from_secret(settings.secret_key), NUMBER)
    assert redis_client.hkeys(key) == [field.encode()]
    assert redis_client.ttl(key) == -1  # entries stay until deleted


def test_concurrent_adds_of_one_number_agree_on_one_sid(
    settings: Settings, redis_client: redis.Redis
) -> None:
    store = RedisSafeListStore(redis_client, ScriptBook(), KeySpace(settings.key_prefix))
    field = safe_list_field(Keyring.from_secret(settings.secret_key), NUMBER)
    candidates = [SafeListRecord(f"GN{index:032x}", 1_000 + index) for index in range(32)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        stored = list(pool.map(lambda record: store.add(field, record), candidates))
    assert len({record.sid for record in stored}) == 1
    assert store.get(field) == stored[0]
    assert store.remove(field) is True
    assert store.remove(field) is False
    assert store.get(field) is None


def test_logs_and_error_messages_mask_the_number(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert api.post(NUMBERS, PhoneNumber=NUMBER).status_code == 201
    assert api.client.delete(f"{NUMBERS}/{NUMBER}", headers=api.headers).status_code == 204
    missing = api.get(f"{NUMBERS}/{NUMBER}")
    assert (missing.status_code, missing.json["code"]) == (404, 20404)  # type: ignore[index]
    assert missing.json["message"].startswith(  # type: ignore[index]
        "The requested resource /v2/SafeList/Numbers/+14"
    )
    assert "5552671" not in missing.get_data(as_text=True)
    assert "added" in caplog.text
    assert "removed" in caplog.text
    assert "5552671" not in caplog.text


@pytest.fixture
def redis_out_of_memory(redis_client: redis.Redis) -> Iterator[None]:
    redis_client.config_set("maxmemory", "1")
    redis_client.config_set("maxmemory-policy", "noeviction")
    yield
    redis_client.config_set("maxmemory", "0")


def test_a_redis_that_refuses_writes_is_a_503(api: Api, redis_out_of_memory: None) -> None:
    added = api.post(NUMBERS, PhoneNumber=NUMBER)
    assert (added.status_code, added.json["code"]) == (503, 20503)  # type: ignore[index]

"""The attempt history's storage: buckets of one service and one UTC day, read newest first
across bucket edges and across services, retention by whole buckets expiring, a start that
writes its history in one script of few commands, and what a retained attempt costs."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import Flask

from bench.services import UNPROTECTED
from tests.conftest import SECRET_KEY, Api
from tests.support.fakes import START_MS, FixedClock, RecordingSender
from tests.support.processes import RedisServer
from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.attempts.attempt_records import RedisAttemptRecords
from verify_service.adapters.redis_store.keys import HistoryKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.domain import sids
from verify_service.domain.keyring import Keyring
from verify_service.settings import Settings

DAY_MS = 24 * 3600 * 1000
# The fixed clock's day ends this many ms after it starts (14:13:20 → 24:00:00).
TO_MIDNIGHT_MS = DAY_MS - START_MS % DAY_MS


def _get(api: Api, url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    response = api.get(f"{parts.path}?{parts.query}" if parts.query else parts.path)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def _pages(api: Api, query: str) -> Iterator[list[str]]:
    """Each page's attempt sids, following `next_page_url` as the SDK does."""
    url: str | None = f"/v2/Attempts?{query}"
    while url is not None:
        page = _get(api, url)
        yield [attempt["sid"] for attempt in page["attempts"]]
        url = page["meta"]["next_page_url"]


def _listed(api: Api, query: str) -> list[str]:
    return [sid for page in _pages(api, query) for sid in page]


def _attempt_sid(api: Api, service: str, to: str) -> str:
    started = api.start(service, to)
    assert started.status_code == 201, started.json
    sid: str = started.json["send_code_attempts"][-1]["attempt_sid"]  # type: ignore[index]
    return sid


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_vl_sid_names_its_service_and_day(api: Api, clock: FixedClock) -> None:
    """The VL sid carries where its record lives: still 32 hex digits, as Twilio's are."""
    service = api.create_service()
    sid = _attempt_sid(api, service, "+14155552671")
    assert sids.is_sid(sid, "VL")
    location = sids.attempt_location(sid)
    assert location is not None
    assert location.service_locator == service[-12:]
    assert location.day == clock.now_ms() // DAY_MS


def test_attempts_either_side_of_midnight_are_listed_in_order_across_pages(
    api: Api, clock: FixedClock
) -> None:
    """Two services, two buckets each: newest first, one per page, none lost or repeated,
    with and without a service filter and with a date range across the edge."""
    first, second = api.create_service(), api.create_service()
    clock.advance((TO_MIDNIGHT_MS - 200) / 1000)  # 23:59:59.800
    a = _attempt_sid(api, first, "+14155550001")
    clock.advance(0.1)
    b = _attempt_sid(api, second, "+14155550002")
    clock.advance(0.2)  # 00:00:00.100: the next day's buckets
    c = _attempt_sid(api, first, "+14155550003")
    clock.advance(0.1)
    d = _attempt_sid(api, second, "+14155550004")
    assert sids.attempt_location(a).day + 1 == sids.attempt_location(c).day  # type: ignore[union-attr]
    pages = list(_pages(api, "PageSize=1"))
    # A full page always offers a next one, which may then be empty (as today).
    assert pages in ([[d], [c], [b], [a]], [[d], [c], [b], [a], []])
    assert _listed(api, f"PageSize=1&VerifyServiceSid={first}") == [c, a]
    assert _listed(api, f"PageSize=3&VerifyServiceSid={second}") == [d, b]
    edge = START_MS + TO_MIDNIGHT_MS
    window = f"DateCreatedAfter={_iso(edge - 1000)}&DateCreatedBefore={_iso(edge + 1000)}"
    assert _listed(api, f"PageSize=2&{window}") == [d, c, b, a]
    after_edge = f"DateCreatedAfter={_iso(edge)}"
    assert _listed(api, f"PageSize=1&{after_edge}") == [d, c]
    assert _listed(api, f"PageSize=1&DateCreatedBefore={_iso(edge)}") == [b, a]


def test_attempts_of_one_millisecond_in_two_services_are_each_listed_once(
    api: Api, clock: FixedClock
) -> None:
    """Ties in time across services are ordered by sid, so paging neither skips nor repeats."""
    services = [api.create_service() for _ in range(3)]
    made = {_attempt_sid(api, service, f"+1415555010{i}") for i, service in enumerate(services)}
    clock.advance(1)
    later = _attempt_sid(api, services[0], "+14155550109")
    listed = _listed(api, "PageSize=1")
    assert listed[0] == later
    assert sorted(listed[1:]) == sorted(made)
    assert len(listed) == 4


def test_a_record_that_arrives_late_keeps_ids_growing_and_is_found_by_its_sid(
    api: Api, app: Flask, clock: FixedClock
) -> None:
    """A start whose clock is behind the bucket's newest record (a slower process) is
    recorded at that newest time: the stream's ids only grow, nothing is refused."""
    service = api.create_service()
    ahead = _attempt_sid(api, service, "+14155550201")
    clock.advance(-0.5)
    behind = _attempt_sid(api, service, "+14155550202")
    listed = _get(api, f"/v2/Attempts?VerifyServiceSid={service}")["attempts"]
    assert [a["sid"] for a in listed] == [behind, ahead]
    attempts = app.extensions[CONTAINER_KEY].attempts
    assert attempts.fetch(behind).created_ms == attempts.fetch(ahead).created_ms
    fetched = _get(api, f"/v2/Attempts/{behind}")
    assert fetched["sid"] == behind
    assert fetched["channel_data"]["message_status"] == "sent"


def test_attempts_of_one_millisecond_in_one_service_page_by_their_sequence(api: Api) -> None:
    """Same service, same millisecond: the stream numbers them; pages and fetch find each."""
    service = api.create_service()
    made = [_attempt_sid(api, service, f"+1415555060{i}") for i in range(3)]
    assert _listed(api, f"PageSize=1&VerifyServiceSid={service}") == made[::-1]
    for sid in made:
        assert _get(api, f"/v2/Attempts/{sid}")["sid"] == sid


def test_to_and_verification_filters_find_attempts_in_any_service(
    api: Api, clock: FixedClock
) -> None:
    """`To` matches by the storage tag inside the VE sid (no index per destination), in
    every service when none is named; `VerificationSid` by the sid."""
    first, second = api.create_service(), api.create_service()
    one = _attempt_sid(api, first, "+14155550301")
    clock.advance(24 * 3600)
    two = _attempt_sid(api, second, "+14155550301")
    _attempt_sid(api, second, "+14155550302")
    to = "ChannelData.To=%2B14155550301"
    assert _listed(api, to) == [two, one]
    assert _listed(api, f"{to}&VerifyServiceSid={first}") == [one]
    verification = _get(api, f"/v2/Attempts/{one}")["verification_sid"]
    assert _listed(api, f"VerificationSid={verification}") == [one]


def test_retention_is_whole_buckets_expiring_nothing_is_trimmed(
    api: Api, app: Flask, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """An attempt older than the retention is not listed, fetched or summed; its bucket
    carries a TTL to the end of its day plus the retention, later starts trim nothing, and
    once Redis expires the bucket the attempt is gone."""
    service = api.create_service()
    old = _attempt_sid(api, service, "+14155550401")
    location = sids.attempt_location(old)
    assert location is not None
    records = f"it:h:{{{location.service_locator}:20260921}}:r"
    statuses = f"it:h:{{{location.service_locator}:20260921}}:s"
    expected_ms = location.day_start_ms + DAY_MS + 30 * DAY_MS - clock.now_ms()
    for key in (records, statuses):
        assert expected_ms - 5_000 < redis_client.pttl(key) <= expected_ms
    clock.advance(30 * 24 * 3600 + 1)
    assert redis_client.config_resetstat()
    new = _attempt_sid(api, service, "+14155550402")
    stats = redis_client.info("commandstats")
    assert "cmdstat_xtrim" not in stats
    # Untouched: it goes by expiring whole (its record, its status and its service sid).
    assert (redis_client.xlen(records), redis_client.hlen(statuses)) == (1, 2)
    assert _listed(api, f"VerifyServiceSid={service}") == [new]
    assert api.get(f"/v2/Attempts/{old}").status_code == 404
    assert _get(api, "/v2/Attempts/Summary")["total_attempts"] == 1
    # When Redis expires the bucket (deleted here, as its TTL will), the attempt is gone.
    redis_client.delete(records, statuses)
    container = app.extensions[CONTAINER_KEY]
    assert container.outbox.attempt_status(old) == {}
    assert not container.outbox.record_status(old, "delivered", clock.now_ms())


def test_a_start_writes_its_history_with_one_script_and_no_index_upkeep(
    api: Api, redis_client: redis.Redis, clock: FixedClock
) -> None:
    """Once the day's bucket exists, a start's history is one EVALSHA running XADD and
    HSET: no sorted set, no trim, no TTL refresh."""
    service = api.create_service(**UNPROTECTED)
    _attempt_sid(api, service, "+14155550501")  # the bucket exists, scripts are loaded
    clock.advance(1)
    redis_client.config_resetstat()
    response = api.post(f"/v2/Services/{service}/Verifications", To="+14155550502", Channel="sms")
    assert response.status_code == 201
    stats = redis_client.info("commandstats")
    assert stats["cmdstat_xadd"]["calls"] == 2  # the outbox's message and the history record
    assert not {"cmdstat_zadd", "cmdstat_zremrangebyscore"} & set(stats)
    assert "cmdstat_pexpire" not in stats or stats["cmdstat_pexpire"]["calls"] <= 1


ATTEMPTS = 2000
BOUND_BYTES = 200


def _retained_bytes(client: redis.Redis, records: RedisAttemptRecords, now_ms: int) -> float:
    """Bytes per attempt its history keys free when deleted: ATTEMPTS attempts of one service
    (one bucket, 50 ms apart), each recorded as a start does, sent with a Twilio-sized message
    sid and delivered 3 s later, as the worker and a receipt record them."""
    service = sids.new_sid("VA")
    made = []
    for index in range(ATTEMPTS):
        at = now_ms + 50 * index
        sid = sids.new_attempt_sid(service, at)
        verification = sids.new_verification_sid(secrets.token_hex(10))
        pipe = client.pipeline(transaction=False)
        records.queue_creation(pipe, sid, service, verification, "sms", "+14155550100", "US", at)
        pipe.execute()
        assert records.record_status(sid, "sent", at + 400, "twilio", "SM" + secrets.token_hex(16))
        made.append(sid)
    for index, sid in enumerate(made):
        assert records.record_status(sid, "delivered", now_ms + 50 * index + 3000)
    keys = list(client.scan_iter("it:h:*"))
    (stream,) = [key for key in keys if key.endswith(b":r")]
    (statuses,) = [key for key in keys if key.endswith(b":s")]
    # Not vacuous: every attempt is there, in a bucket as large buckets are encoded.
    assert client.xlen(stream) == ATTEMPTS
    assert client.hlen(statuses) == ATTEMPTS + 1  # and the bucket's service sid
    assert client.object("encoding", statuses) == b"hashtable"
    assert records.fields(made[-1])["status"] == "delivered"
    used = int(client.info("memory")["used_memory"])
    client.delete(*keys)
    return (used - int(client.info("memory")["used_memory"])) / ATTEMPTS


def test_a_retained_attempt_costs_at_most_200_bytes_of_redis() -> None:
    """Measured on a redis-server of its own: the memory the history keys of 2000 delivered
    attempts free, after a first round that absorbs Redis's one-time growth (counted in
    bytes, not timed)."""
    server = RedisServer().start()
    try:
        client = server.client()
        keyring = Keyring.from_secret(SECRET_KEY.encode())
        records = RedisAttemptRecords(
            client,
            ScriptBook(),
            HistoryKeys("it"),
            DestinationCipher(keyring.destination_encryption_key),
        )
        ScriptBook().load_all(client)
        _retained_bytes(client, records, START_MS)  # warm-up
        measured = _retained_bytes(client, records, START_MS + 3_600_000)
        # A record holds a sealed destination (40 B) and two sids: far more than 100 B.
        assert 100 < measured <= BOUND_BYTES, measured
        client.close()
    finally:
        server.stop()


def test_history_reads_and_writes_survive_a_script_flush(
    api: Api, app: Flask, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """NOSCRIPT (a Redis restart, SCRIPT FLUSH) on the history's own scripts is handled: list,
    fetch, a status change and a start."""
    service = api.create_service()
    sid = _attempt_sid(api, service, "+14155550701")
    redis_client.script_flush()
    assert _listed(api, f"VerifyServiceSid={service}") == [sid]
    redis_client.script_flush()
    assert _get(api, f"/v2/Attempts/{sid}")["sid"] == sid
    redis_client.script_flush()
    container = app.extensions[CONTAINER_KEY]
    assert container.outbox.record_status(sid, "delivered", clock.now_ms())
    redis_client.script_flush()
    clock.advance(1)
    later = _attempt_sid(api, service, "+14155550702")
    assert _listed(api, f"VerifyServiceSid={service}") == [later, sid]


def test_a_resealed_bucket_keeps_what_was_appended_during_the_copy_and_its_ttl(
    redis_client: redis.Redis,
) -> None:
    """swap_attempt_bucket.lua: records are only appended, so the entries written after the
    copy's last one are carried over, and the bucket keeps its TTL."""
    records, copy = "it:h:{0123456789ab:20260921}:r", "it:h:{0123456789ab:20260921}:n"
    for index in range(3):
        redis_client.xadd(records, {"d": f"old-{index}"}, id=f"1790000000{index}00-0")
    redis_client.pexpire(records, 5_000_000)
    for index in range(2):  # the copy was made before the third record came
        redis_client.xadd(copy, {"d": f"new-{index}"}, id=f"1790000000{index}00-0")
    scripts = ScriptBook()
    appended = scripts.run(
        redis_client, "swap_attempt_bucket", [records, copy], ["1790000000100-0"]
    )
    assert appended == 1
    assert [e[1][b"d"] for e in redis_client.xrange(records)] == [b"new-0", b"new-1", b"old-2"]
    assert not redis_client.exists(copy)
    assert 4_000_000 < redis_client.pttl(records) <= 5_000_000
    # Gone meanwhile (expired): the copy goes too, nothing is recreated.
    redis_client.delete(records)
    redis_client.xadd(copy, {"d": "new-0"}, id="1790000000000-0")
    assert scripts.run(redis_client, "swap_attempt_bucket", [records, copy], ["0-0"]) == -1
    assert not redis_client.exists(records, copy)


def test_a_swap_never_renames_a_copy_that_misses_a_record(redis_client: redis.Redis) -> None:
    """swap_attempt_bucket.lua refuses (-2) a copy that does not end at the id it was told
    (another run's, or one part-expired) or that still misses a record after the tail is
    appended: the records stay as they were, the copy goes."""
    records, copy = "it:h:{0123456789ab:20260921}:r", "it:h:{0123456789ab:20260921}:n:run"
    for index in range(3):
        redis_client.xadd(records, {"d": f"old-{index}"}, id=f"1790000000{index}00-0")
    redis_client.pexpire(records, 5_000_000)
    before = redis_client.xrange(records)
    scripts = ScriptBook()
    # Its newest entry is not the one the run copied last (a partial page of someone else).
    redis_client.xadd(copy, {"d": "new-0"}, id="1790000000000-0")
    assert (
        scripts.run(redis_client, "swap_attempt_bucket", [records, copy], ["1790000000100-0"]) == -2
    )
    assert redis_client.xrange(records) == before
    assert not redis_client.exists(copy)
    # Ends where it was told, but a record in the middle is missing.
    redis_client.xadd(copy, {"d": "new-0"}, id="1790000000000-0")
    redis_client.xadd(copy, {"d": "new-2"}, id="1790000000200-0")
    assert (
        scripts.run(redis_client, "swap_attempt_bucket", [records, copy], ["1790000000200-0"]) == -2
    )
    assert redis_client.xrange(records) == before
    assert not redis_client.exists(copy)
    assert 4_000_000 < redis_client.pttl(records) <= 5_000_000
    # Gone (expired) before the swap: nothing is renamed.
    assert (
        scripts.run(redis_client, "swap_attempt_bucket", [records, copy], ["1790000000200-0"]) == -2
    )
    assert redis_client.xrange(records) == before


def test_a_search_by_number_finds_attempts_from_before_a_key_rotation(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    """`ChannelData.To` matches the storage tag under every key on the ring, so attempts of
    verifications started under the old key are still found while it is on the ring."""
    old_secret, new_secret = b"1" * 32, b"2" * 32
    old = dataclasses.replace(settings, secret_key=old_secret, secret_keys=(("k1", old_secret),))
    new = dataclasses.replace(
        settings, secret_key=new_secret, secret_keys=(("k2", new_secret), ("k1", old_secret))
    )
    api_old = Api(create_app(old, clock=clock, providers=sender.as_providers()).test_client())
    service = api_old.create_service()
    before = _attempt_sid(api_old, service, "+14155550801")
    clock.advance(1)
    api_new = Api(create_app(new, clock=clock, providers=sender.as_providers()).test_client())
    after = _attempt_sid(api_new, service, "+14155550801")
    assert _listed(api_new, "ChannelData.To=%2B14155550801") == [after, before]
    assert _listed(api_old, "ChannelData.To=%2B14155550801") == [before]
    assert redis_client.exists(f"it:h:{{{service[-12:]}:20260921}}:r")


def _xlen_calls(redis_client: redis.Redis) -> int:
    stats = redis_client.info("commandstats")
    return int(stats.get("cmdstat_xlen", {}).get("calls", 0))


def test_a_date_far_from_now_costs_no_more_than_the_retention_and_the_day_ahead(
    api: Api, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """An attacker's `DateCreatedBefore` in the year 2400 (or `DateCreatedAfter` in 1970)
    probes the same buckets as no date at all (the retention's days and the day ahead, 32
    `XLEN` for one service, counted by Redis), and lists the same; a range wholly past that
    horizon answers an empty page without touching a bucket."""
    service = api.create_service()
    made = _attempt_sid(api, service, "+14155550901")
    scope = f"VerifyServiceSid={service}"
    tomorrow = _iso(START_MS + TO_MIDNIGHT_MS + 1000)
    costs = {}
    for label, dates in {
        "none": "",
        "tomorrow": f"&DateCreatedBefore={tomorrow}",
        "2030": "&DateCreatedBefore=2030-01-01T00:00:00Z",
        "2400": "&DateCreatedBefore=2400-01-01T00:00:00Z",
        "1970-2400": "&DateCreatedAfter=1970-01-01T00:00:00Z"
        "&DateCreatedBefore=2400-01-01T00:00:00Z",
    }.items():
        for path in ("/v2/Attempts", "/v2/Attempts/Summary"):
            redis_client.config_resetstat()
            body = _get(api, f"{path}?{scope}{dates}")
            costs[label, path] = _xlen_calls(redis_client)
            if path == "/v2/Attempts":
                assert [a["sid"] for a in body["attempts"]] == [made], label
            else:
                assert body["total_attempts"] == 1, label
    assert set(costs.values()) == {32}, costs
    for path in ("/v2/Attempts", "/v2/Attempts/Summary"):
        redis_client.config_resetstat()
        body = _get(
            api,
            f"{path}?{scope}&DateCreatedAfter=2399-01-01T00:00:00Z"
            "&DateCreatedBefore=2400-01-01T00:00:00Z",
        )
        assert _xlen_calls(redis_client) == 0
        assert body.get("attempts", []) == []
        assert body.get("total_attempts", 0) == 0

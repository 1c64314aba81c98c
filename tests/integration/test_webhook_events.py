"""Webhook events, end to end inside one process: the API (the official twilio SDK over the
in-process app, or its form API) changes state, the events are written to the event outbox
in real Redis, and the real events loop sends them over HTTP to a receiver on loopback that
records every request. Time is the FixedClock's (backoff, expiry), except the visibility
timeout, which Redis measures itself.

The webhooks are created through `/v2/Services/{VA}/Webhooks` (the operator's allow-list
names loopback, where the receiver listens)."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, Api
from tests.integration.test_passkeys_api import IDENTITY as PASSKEY_IDENTITY
from tests.integration.test_passkeys_api import ORIGIN, PASSKEY_SETTINGS, Passkeys
from tests.support.events import LOOPBACK, Hooks, Resolver, loopback_resolver, run_events
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.flask_sdk import sdk_client
from tests.support.mfa import IDENTITY, totp_code
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.standin_http import Failure, RecordedRequest, StandinHttp
from verify_service.adapters.redis_store.keys import EventOutboxKeys, ExpiryKeys
from verify_service.app import CONTAINER_KEY, Container, create_app
from verify_service.application.events.event_delivery import EventRetryPolicy
from verify_service.cli import main
from verify_service.domain.keyring import Keyring
from verify_service.settings import Settings

TO = "+14155552671"
POLICY = EventRetryPolicy(
    max_tries=3, base_delay_ms=1_000, max_delay_ms=8_000, visibility_timeout_ms=60_000
)


@pytest.fixture
def receiver() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def dns() -> Resolver:
    return Resolver()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, webhook_allowed_networks=LOOPBACK)


@pytest.fixture
def app(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    dns: Resolver,
) -> Flask:
    return create_app(
        settings,
        clock=clock,
        providers=sender.as_providers(),
        webhook_targets=loopback_resolver(dns),
    )


@pytest.fixture
def hooks(api: Api) -> Hooks:
    return Hooks(api)


@pytest.fixture
def container(app: Flask) -> Container:
    found: Container = app.extensions[CONTAINER_KEY]
    return found


@pytest.fixture
def events(container: Container) -> Any:
    return container.event_worker("tests", POLICY)


@pytest.fixture
def hook_url(receiver: StandinHttp) -> str:
    return f"http://{receiver.netloc}/events?source=verify"


@pytest.fixture
def service_sid(api: Api, hooks: Hooks, hook_url: str) -> str:
    sid = api.create_service()
    hooks.add(sid, hook_url)
    return sid


def token(settings: Settings) -> str:
    return Keyring(settings.key_ring()).webhook_signing_token()


def types_of(requests: list[RecordedRequest]) -> list[str]:
    return [request.form["type"] for request in requests]


def start(api: Api, service_sid: str, to: str = TO) -> str:
    response = api.start(service_sid, to)
    assert response.status_code == 201, response.json
    sid: str = response.json["sid"]  # type: ignore[index]
    return sid


# -- verification events ----------------------------------------------------------------------


def test_a_started_and_approved_verification_sends_two_signed_events(
    api: Api,
    service_sid: str,
    sender: RecordingSender,
    events: Any,
    receiver: StandinHttp,
    settings: Settings,
    hook_url: str,
    clock: FixedClock,
) -> None:
    """Each event once, form-encoded, signed so that Twilio's own RequestValidator accepts
    it with the signing token; a tampered parameter is refused."""
    sid = start(api, service_sid)
    clock.advance(3)
    assert api.check(service_sid, sender.last_code(sid), To=TO).json["status"] == "approved"
    run_events(events)

    started, sent, approved = receiver.requests
    assert [started.form["type"], approved.form["type"]] == [
        "verification.started",
        "verification.approved",
    ]
    assert sent.form["type"] == "delivery.sent"
    assert started.form == {
        "uuid": started.form["uuid"],
        "type": "verification.started",
        "account_sid": ACCOUNT_SID,
        "service_sid": service_sid,
        "verification_sid": sid,
        "channel": "sms",
        "status": "pending",
        "to": "+14•••••••71",
        "country": "US",
        "send_attempts": "1",
        "check_attempts": "0",
        "date_created": started.form["date_created"],
        "date_updated": started.form["date_created"],
        "expiration_date": started.form["expiration_date"],
        "event_date": started.form["date_created"],
    }
    assert approved.form["status"] == "approved"
    assert approved.form["check_attempts"] == "1"
    validator = RequestValidator(token(settings))
    for request in receiver.requests:
        assert request.method == "POST"
        assert request.path == "/events?source=verify"
        assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
        assert request.headers["I-Twilio-Idempotency-Token"] == request.form["uuid"]
        assert request.headers["X-Verify-Signature-Key-Id"] == "k0"
        signature = request.headers["X-Twilio-Signature"]
        assert validator.validate(hook_url, request.form, signature)
        assert not validator.validate(hook_url, {**request.form, "status": "x"}, signature)
        assert not RequestValidator("0" * 32).validate(hook_url, request.form, signature)
    assert len({request.form["uuid"] for request in receiver.requests}) == 3


def test_tags_reach_every_event_of_the_verification(
    api: Api, service_sid: str, events: Any, receiver: StandinHttp, sender: RecordingSender
) -> None:
    """A start's `Tags` are not kept for nothing: each event of the verification carries
    them as `tags` (the JSON object text), as Twilio's verification events do; a
    verification started without tags sends no `tags`."""
    tags = {"tenant_id": "12345", "flow": "signup"}
    response = api.start(service_sid, TO, Tags=json.dumps(tags))
    assert response.status_code == 201, response.json
    sid = response.json["sid"]  # type: ignore[index]
    assert api.check(service_sid, sender.last_code(sid), To=TO).json["status"] == "approved"
    untagged = start(api, service_sid, "+14155552672")
    run_events(events)
    verification_events = [r.form for r in receiver.requests if r.form["type"].startswith("v")]
    tagged = [form for form in verification_events if form["verification_sid"] == sid]
    assert [form["type"] for form in tagged] == ["verification.started", "verification.approved"]
    assert all(json.loads(form["tags"]) == tags for form in tagged)
    assert all(
        "tags" not in form for form in verification_events if form["verification_sid"] == untagged
    )


def everything_stored(client: redis.Redis, pattern: str) -> bytes:
    """Every value (and field, member, entry) of the keys matching `pattern`, as stored: not
    a `DUMP`, whose compression could hide a value in clear."""
    found: list[bytes] = []
    for key in client.scan_iter(pattern):
        kind = client.type(key)
        if kind == b"string":
            found.append(client.get(key) or b"")
        elif kind == b"hash":
            found.extend(part for pair in client.hgetall(key).items() for part in pair)
        elif kind == b"zset":
            found.extend(client.zrange(key, 0, -1))
        elif kind == b"list":
            found.extend(client.lrange(key, 0, -1))
        elif kind == b"set":
            found.extend(client.smembers(key))
        elif kind == b"stream":
            for _id, fields in client.xrange(key):
                found.extend(part for pair in fields.items() for part in pair)
    return b"\x00".join(found)


def test_a_verifications_tags_are_sealed_at_rest_and_still_reach_its_events(
    api: Api,
    service_sid: str,
    events: Any,
    receiver: StandinHttp,
    sender: RecordingSender,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    """Tags are caller data: a dump of the verification's keys shows none of them (sealed
    like its destination, prefixed by their key id); its events carry them still. A hash
    written before sealing (`tg` a JSON object in clear) still sends its tags."""
    tags = {"tenant_ref": "acme-tenant-4f9e", "flow": "signup-flow"}
    sid = api.start(service_sid, TO, Tags=json.dumps(tags)).json["sid"]  # type: ignore[index]
    prefix = settings.key_prefix
    [key] = list(redis_client.scan_iter(f"{prefix}:v:{{{service_sid}:*"))
    stored = redis_client.hget(key, "tg")
    assert (stored or b"").startswith(b"k0:")
    stored_values = everything_stored(redis_client, f"{prefix}:*")
    for clear in (b"tenant_ref", b"acme-tenant-4f9e", b"signup-flow"):
        assert clear not in stored_values
    old = {"tenant_id": "1"}
    legacy = start(api, service_sid, "+14155552672")
    [legacy_key] = [k for k in redis_client.scan_iter(f"{prefix}:v:{{{service_sid}:*") if k != key]
    redis_client.hset(legacy_key, "tg", json.dumps(old))
    assert api.update(service_sid, sid, "canceled").status_code == 200
    assert api.update(service_sid, legacy, "canceled").status_code == 200
    run_events(events)
    canceled = {
        r.form["verification_sid"]: r.form
        for r in receiver.requests
        if r.form["type"] == "verification.canceled"
    }
    assert json.loads(canceled[sid]["tags"]) == tags
    assert json.loads(canceled[legacy]["tags"]) == old


def test_a_canceled_verification_sends_verification_canceled(
    api: Api, service_sid: str, events: Any, receiver: StandinHttp
) -> None:
    sid = start(api, service_sid)
    assert api.update(service_sid, sid, "canceled").json["status"] == "canceled"
    run_events(events)
    assert types_of(receiver.requests) == [
        "verification.started",
        "delivery.sent",
        "verification.canceled",
    ]
    assert receiver.requests[-1].form["status"] == "canceled"


def test_the_fifth_wrong_code_sends_max_attempts_reached_once(
    api: Api, service_sid: str, events: Any, receiver: StandinHttp, sender: RecordingSender
) -> None:
    sid = start(api, service_sid)
    wrong = "000000" if sender.last_code(sid) != "000000" else "111111"
    for _ in range(4):
        assert api.check(service_sid, wrong, To=TO).json["status"] == "pending"
    assert api.check(service_sid, wrong, To=TO).json["status"] == "max_attempts_reached"
    api.check(service_sid, wrong, To=TO)  # refused (60202): no second event
    run_events(events)
    reached = [r for r in receiver.requests if r.form["type"].endswith("max_attempts_reached")]
    assert len(reached) == 1
    assert reached[0].form["check_attempts"] == "5"
    assert reached[0].form["status"] == "max_attempts_reached"
    assert reached[0].form["verification_sid"] == sid


def test_an_expiry_is_sent_from_the_schedule_at_its_time_and_only_if_still_pending(
    api: Api,
    hooks: Hooks,
    hook_url: str,
    events: Any,
    receiver: StandinHttp,
    clock: FixedClock,
    sender: RecordingSender,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    """A verification left pending expires with an event when its time comes (the worker
    reads a due-time schedule, never a scan of keys); one approved before does not."""
    service = api.create_service()
    hooks.add(service, hook_url, event_types=("verification.expired",))
    left = start(api, service, TO)
    approved = start(api, service, "+14155552672")
    api.check(service, sender.last_code(approved), To="+14155552672")
    clock.advance(599)
    run_events(events)
    assert receiver.requests == []
    clock.advance(2)
    run_events(events)
    (expired,) = receiver.requests
    assert expired.form["type"] == "verification.expired"
    assert expired.form["verification_sid"] == left
    assert expired.form["status"] == "expired"
    assert expired.form["to"] == "+14•••••••71"
    # Nothing left scheduled.
    keys = ExpiryKeys(settings.key_prefix)
    assert sum(int(redis_client.zcard(key)) for key in keys.every_shard) == 0


def expiry_members(redis_client: redis.Redis, settings: Settings) -> list[Any]:
    """Every expiry watch's member, decoded (JSON arrays)."""
    keys = ExpiryKeys(settings.key_prefix)
    return [json.loads(m) for key in keys.every_shard for m in redis_client.zrange(key, 0, -1)]


def test_an_expired_event_carries_the_starts_tags_sealed_at_rest(
    api: Api,
    hooks: Hooks,
    hook_url: str,
    events: Any,
    receiver: StandinHttp,
    clock: FixedClock,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    """`verification.expired` carries the start's `Tags` as `tags`, like started/approved:
    the watch holds them sealed (never in clear, prefixed by their key id). A start without
    tags writes the seven-element watch it always did, and its event has no `tags`."""
    tags = {"tenant_id": "12345", "flow": "signup"}
    service = api.create_service()
    hooks.add(service, hook_url, event_types=("verification.expired",))
    tagged = api.start(service, TO, Tags=json.dumps(tags)).json["sid"]  # type: ignore[index]
    untagged = start(api, service, "+14155552672")
    members = {member[1]: member for member in expiry_members(redis_client, settings)}
    assert len(members[untagged]) == 7  # the form watches had before tags
    assert len(members[tagged]) == 8
    sealed = base64.b64decode(members[tagged][7])
    assert sealed.startswith(b"k0:")
    keys = ExpiryKeys(settings.key_prefix)
    stored = b"".join(m for key in keys.every_shard for m in redis_client.zrange(key, 0, -1))
    for clear in (b"tenant_id", b"12345", b"signup"):
        assert clear not in sealed
        assert clear not in stored
    clock.advance(601)
    run_events(events)
    by_sid = {r.form["verification_sid"]: r.form for r in receiver.requests}
    assert by_sid[tagged]["type"] == "verification.expired"
    assert json.loads(by_sid[tagged]["tags"]) == tags
    assert "tags" not in by_sid[untagged]
    assert expiry_members(redis_client, settings) == []


def test_a_watch_written_before_tags_still_emits_without_them(
    api: Api,
    hooks: Hooks,
    hook_url: str,
    events: Any,
    receiver: StandinHttp,
    clock: FixedClock,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    """A tagged start whose watch was written by the release before (seven elements, no
    tags): its expiry is still sent, without `tags`, and the watch removed."""
    service = api.create_service()
    hooks.add(service, hook_url, event_types=("verification.expired",))
    sid = api.start(service, TO, Tags=json.dumps({"a": "b"})).json["sid"]  # type: ignore[index]
    keys = ExpiryKeys(settings.key_prefix)
    for key in keys.every_shard:
        for member, score in redis_client.zrange(key, 0, -1, withscores=True):
            redis_client.zrem(key, member)
            before = json.dumps(json.loads(member)[:7], separators=(",", ":"), ensure_ascii=False)
            redis_client.zadd(key, {before: score})
    clock.advance(601)
    run_events(events)
    (expired,) = receiver.requests
    assert expired.form["verification_sid"] == sid
    assert "tags" not in expired.form
    assert expiry_members(redis_client, settings) == []


K1 = "k1-secret-of-at-least-thirty-two-bytes-0001"
K2 = "k2-secret-of-at-least-thirty-two-bytes-0002"


def test_a_watchs_tags_are_resealed_and_still_sent_once_the_old_key_is_dropped(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    dns: Resolver,
    receiver: StandinHttp,
    hook_url: str,
) -> None:
    """Tags sealed under k1 are counted under k1 by `secrets status`, moved to k2 by the
    reseal (same watch, same due time), and the expired event sent on the ring "k2" alone
    still carries them."""

    def on_ring(*ring: tuple[str, str]) -> Flask:
        keys = tuple((key_id, secret.encode()) for key_id, secret in ring)
        ringed = replace(settings, secret_key=keys[0][1], secret_keys=keys)
        return create_app(
            ringed,
            clock=clock,
            providers=sender.as_providers(),
            webhook_targets=loopback_resolver(dns),
        )

    def watch_tags(app: Flask) -> Any:
        found: Container = app.extensions[CONTAINER_KEY]
        [kind] = [r for r in found.resealables() if r.kind == "expiry watch tags"]
        return kind

    tags = {"tenant_id": "12345"}
    old = Api(on_ring(("k1", K1)).test_client())
    service = old.create_service()
    Hooks(old).add(service, hook_url, event_types=("verification.expired",))
    sid = old.start(service, TO, Tags=json.dumps(tags)).json["sid"]  # type: ignore[index]
    keys = ExpiryKeys(settings.key_prefix)
    before = {
        m: s
        for key in keys.every_shard
        for m, s in redis_client.zrange(key, 0, -1, withscores=True)
    }

    both = on_ring(("k2", K2), ("k1", K1))
    assert watch_tags(both).key_ids() == {"k1": 1}
    count = watch_tags(both).reseal(lambda _kind, _n: None, clock.now_ms())
    assert (count.resealed, count.raced, count.unreadable) == (1, 0, 0)
    assert watch_tags(both).key_ids() == {"k2": 1}
    assert watch_tags(both).reseal(lambda _kind, _n: None, clock.now_ms()).already_primary == 1
    after = {
        m: s
        for key in keys.every_shard
        for m, s in redis_client.zrange(key, 0, -1, withscores=True)
    }
    assert list(after.values()) == list(before.values())  # the same due time
    assert [json.loads(m)[:7] for m in after] == [json.loads(m)[:7] for m in before]

    new = on_ring(("k2", K2))
    clock.advance(601)
    run_events(new.extensions[CONTAINER_KEY].event_worker("tests", POLICY))
    (expired,) = receiver.requests
    assert expired.form["verification_sid"] == sid
    assert json.loads(expired.form["tags"]) == tags
    assert sum(int(redis_client.zcard(key)) for key in keys.every_shard) == 0


def test_a_watch_a_worker_holds_is_left_by_the_reseal(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    dns: Resolver,
    receiver: StandinHttp,
    hook_url: str,
) -> None:
    """A watch claimed between the reseal's read and its replacement (its score moved) is
    not replaced: counted as raced, and its worker still removes it by the form it read."""
    keys = tuple((key_id, secret.encode()) for key_id, secret in (("k2", K2), ("k1", K1)))
    app = create_app(
        replace(settings, secret_key=K1.encode(), secret_keys=(("k1", K1.encode()),)),
        clock=clock,
        providers=sender.as_providers(),
        webhook_targets=loopback_resolver(dns),
    )
    api = Api(app.test_client())
    service = api.create_service()
    Hooks(api).add(service, hook_url, event_types=("verification.expired",))
    api.start(service, TO, Tags=json.dumps({"a": "b"}))
    both = create_app(
        replace(settings, secret_key=keys[0][1], secret_keys=keys),
        clock=clock,
        providers=sender.as_providers(),
        webhook_targets=loopback_resolver(dns),
    )
    container: Container = both.extensions[CONTAINER_KEY]
    [kind] = [r for r in container.resealables() if r.kind == "expiry watch tags"]
    assert container.expiries is not None
    claimed: list[Any] = []
    clock.advance(601)

    def claim_meanwhile(_kind: str, _looked_at: int) -> None:
        if not claimed:
            claimed.extend(container.expiries.claim_due(clock.now_ms(), 60_000, 10))  # type: ignore[union-attr]

    count = kind.reseal(claim_meanwhile, clock.now_ms())
    assert (count.resealed, count.raced) == (0, 1)
    assert count.notes
    (watch,) = claimed
    assert watch.tags == '{"a":"b"}'
    assert container.expiries.done(watch)


@pytest.mark.parametrize("hash_gone", [False, True], ids=["kept", "gone by its TTL"])
def test_no_expiry_event_follows_max_attempts_reached(
    api: Api,
    hooks: Hooks,
    hook_url: str,
    events: Any,
    receiver: StandinHttp,
    clock: FixedClock,
    sender: RecordingSender,
    redis_client: redis.Redis,
    settings: Settings,
    hash_gone: bool,
) -> None:
    """A verification whose five checks are used has ended (max_attempts_reached): its
    lifetime running out later is not `verification.expired` ("still pending" only),
    whether its hash is still there or gone (then its attempt history says so)."""
    service = api.create_service()
    hooks.add(service, hook_url, event_types=("verification.expired",))
    sid = start(api, service, TO)
    wrong = "000000" if sender.last_code(sid) != "000000" else "111111"
    for _ in range(5):
        api.check(service, wrong, To=TO)
    if hash_gone:
        prefix = settings.key_prefix
        for key in redis_client.scan_iter(f"{prefix}:v:{{{service}:*"):
            redis_client.delete(key)
    clock.advance(601)
    run_events(events)
    assert receiver.requests == []
    keys = ExpiryKeys(settings.key_prefix)
    assert sum(int(redis_client.zcard(key)) for key in keys.every_shard) == 0


def test_a_service_with_no_webhook_for_expiries_schedules_none(
    api: Api,
    hooks: Hooks,
    hook_url: str,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    service = api.create_service()
    hooks.add(service, hook_url, event_types=("verification.approved",))
    start(api, service)
    keys = ExpiryKeys(settings.key_prefix)
    assert sum(int(redis_client.zcard(key)) for key in keys.every_shard) == 0
    outbox = EventOutboxKeys(settings.key_prefix)
    assert sum(int(redis_client.xlen(shard.stream)) for shard in outbox.every_shard) == 0


def test_a_service_without_webhooks_pays_no_extra_round_trip_per_start(
    api: Api, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch, container: Container
) -> None:
    """The publisher asks the (cached) directory and writes nothing: the event outbox is
    never called."""
    service = api.create_service()
    outbox = container.event_outbox
    assert outbox is not None
    calls: list[str] = []

    def append(*_args: object, **_kwargs: object) -> None:
        calls.append("append")

    monkeypatch.setattr(outbox, "append", append)
    start(api, service)
    assert calls == []


# -- delivery events ---------------------------------------------------------------------------


def test_a_sent_message_sends_delivery_sent(
    api: Api, service_sid: str, events: Any, receiver: StandinHttp
) -> None:
    sid = start(api, service_sid)
    run_events(events)
    (sent,) = [r for r in receiver.requests if r.form["type"] == "delivery.sent"]
    assert sent.form["verification_sid"] == sid
    assert sent.form["attempt_sid"].startswith("VL")
    assert sent.form["status"] == "sent"
    assert sent.form["channel"] == "sms"
    assert sent.form["provider"] == "recording"
    assert sent.form["to"] == "+14•••••••71"


# -- retries, dead letters ------------------------------------------------------------------------


def test_a_failed_send_is_retried_after_its_backoff_with_the_same_uuid(
    api: Api,
    service: str,
    events: Any,
    receiver: StandinHttp,
    clock: FixedClock,
) -> None:
    receiver.fail_next(Failure.server_error())
    start(api, service)
    run_events(events)
    assert len(receiver.requests) == 1
    clock.advance(0.4)  # the first backoff is 0.5-1 s (equal jitter over 1 s)
    run_events(events)
    assert len(receiver.requests) == 1
    clock.advance(0.7)
    run_events(events)
    first, second = receiver.requests
    assert first.form == second.form
    assert first.headers["X-Twilio-Signature"] == second.headers["X-Twilio-Signature"]
    assert second.headers["I-Twilio-Idempotency-Token"] == first.form["uuid"]


@pytest.fixture
def service(api: Api, hooks: Hooks, hook_url: str) -> str:
    """A service whose webhook wants verification.started only."""
    sid = api.create_service()
    hooks.add(sid, hook_url, event_types=("verification.started",))
    return sid


def test_a_delivery_that_fails_every_try_is_a_dead_letter_an_operator_requeues(
    api: Api,
    service: str,
    events: Any,
    receiver: StandinHttp,
    clock: FixedClock,
    cli: CliRunner,
) -> None:
    receiver.fail_next(Failure.server_error(), times=3)
    start(api, service)
    for _ in range(3):
        run_events(events)
        clock.advance(8)
    assert len(receiver.requests) == 3
    listed = cli.invoke(main, ["webhooks", "dead-letters", "list"])
    assert listed.exit_code == 0, listed.output
    (letter,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert letter["type"] == "verification.started"
    assert letter["uuid"] == receiver.requests[0].form["uuid"]
    assert letter["reason"] == "3 tries, last: http 500"
    requeued = cli.invoke(main, ["webhooks", "dead-letters", "requeue", letter["key"]])
    assert requeued.exit_code == 0, requeued.output
    run_events(events)
    assert len(receiver.requests) == 4
    assert receiver.requests[-1].form["uuid"] == letter["uuid"]
    empty = cli.invoke(main, ["webhooks", "dead-letters", "list"])
    assert empty.stdout == ""


def test_a_webhook_disabled_or_deleted_receives_nothing_more(
    api: Api,
    service: str,
    hooks: Hooks,
    events: Any,
    receiver: StandinHttp,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    (hook,) = [w["sid"] for w in api.get(f"/v2/Services/{service}/Webhooks").json["webhooks"]]  # type: ignore[index]
    start(api, service, "+14155550001")
    hooks.disable(service, hook)
    run_events(events)
    start(api, service, "+14155550002")
    hooks.delete(service, hook)
    start(api, service, "+14155550003")
    run_events(events)
    assert receiver.requests == []
    outbox = EventOutboxKeys(settings.key_prefix)
    assert sum(int(redis_client.xlen(shard.stream)) for shard in outbox.every_shard) == 0


def test_a_delivery_left_by_a_dead_worker_is_sent_by_another(
    api: Api, service: str, container: Container, receiver: StandinHttp
) -> None:
    """At-least-once: taken by a worker that dies before answering, it is reclaimed once
    idle past the visibility timeout (measured by Redis) and sent, same uuid."""
    start(api, service)
    outbox = container.event_outbox
    assert outbox is not None
    outbox.ensure_groups()
    (taken,) = outbox.read("dead-worker", 10, 60_000)
    patient = container.event_worker("patient", POLICY)
    assert run_events(patient) == 0
    time.sleep(0.15)
    rescuer = container.event_worker("rescuer", replace(POLICY, visibility_timeout_ms=100))
    assert run_events(rescuer) == 1
    (sent,) = receiver.requests
    assert sent.form["uuid"] == taken.event.event_id
    assert outbox.complete(taken) is False  # the dead worker's late answer changes nothing


def test_a_target_that_resolves_to_a_private_address_at_send_time_is_not_sent(
    api: Api,
    hooks: Hooks,
    container: Container,
    receiver: StandinHttp,
    cli: CliRunner,
    dns: Resolver,
    events: Any,
) -> None:
    """DNS answered a public address when the webhook was saved; at send time it answers
    a private one (rebinding): nothing is sent, the delivery is a dead letter saying why."""
    service = api.create_service()
    dns.answers["hooks.example.test"] = "93.184.216.34"
    hooks.add(service, "https://hooks.example.test/events")
    dns.answers["hooks.example.test"] = "10.0.0.7"
    start(api, service)
    run_events(events)
    assert receiver.requests == []
    listed = cli.invoke(main, ["webhooks", "dead-letters", "list"])
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    assert letters
    assert all(letter["reason"].startswith("target refused") for letter in letters)


# -- what bodies never carry ---------------------------------------------------------------------


def test_no_body_carries_a_code_or_the_full_destination_unless_asked(
    api: Api,
    hooks: Hooks,
    receiver: StandinHttp,
    events: Any,
    sender: RecordingSender,
) -> None:
    service = api.create_service()
    hooks.add(service, f"http://{receiver.netloc}/masked")
    hooks.add(service, f"http://{receiver.netloc}/full", include_destination=True)
    sid = start(api, service)
    code = sender.last_code(sid)
    api.check(service, code, To=TO)
    run_events(events)
    masked = [r for r in receiver.requests if r.path == "/masked"]
    full = [r for r in receiver.requests if r.path == "/full"]
    assert len(masked) == len(full) == 3
    for request in receiver.requests:
        body = request.body.decode()
        assert code not in body
        assert "code" not in request.form
    for request in masked:
        body = request.body.decode()
        assert TO not in body
        assert quote(TO) not in body
        assert "4155552671" not in body
    for request in full:
        assert request.form["to"] == TO


# -- factors and challenges (Twilio's events) --------------------------------------------------


@pytest.fixture
def twilio(app: Flask) -> Client:
    return sdk_client(app.test_client())


def test_totp_factor_and_challenge_events_carry_twilios_parameters(
    twilio: Client,
    hooks: Hooks,
    hook_url: str,
    events: Any,
    receiver: StandinHttp,
    clock: FixedClock,
) -> None:
    created = twilio.verify.v2.services.create(friendly_name="Acme")
    hooks.add(created.sid, hook_url)
    entity = twilio.verify.v2.services(created.sid).entities(IDENTITY)
    factor = entity.new_factors.create(
        friendly_name="phone", factor_type="totp", metadata={"os": "ios"}
    )
    secret = factor.binding["secret"]
    entity.factors(factor.sid).update(auth_payload=totp_code(secret, clock.now))
    clock.advance(60)
    code = totp_code(secret, clock.now)
    approved = entity.challenges.create(
        factor_sid=factor.sid,
        auth_payload=code,
        details_message="Sign in",
        hidden_details={"ip": "x"},
    )
    assert approved.status == "approved"
    denied = entity.challenges.create(factor_sid=factor.sid)
    assert entity.challenges(denied.sid).update(auth_payload=code).status == "denied"
    entity.factors(factor.sid).delete()
    run_events(events)

    assert types_of(receiver.requests) == [
        "factor.created",
        "factor.verified",
        "challenge.approved",
        "challenge.denied",
        "factor.deleted",
    ]
    by_type = {request.form["type"]: request.form for request in receiver.requests}
    assert by_type["factor.created"] == {
        "uuid": by_type["factor.created"]["uuid"],
        "type": "factor.created",
        "account_sid": ACCOUNT_SID,
        "service_sid": created.sid,
        "entity_identity": IDENTITY,
        "factor_sid": factor.sid,
        "factor_type": "totp",
        "factor_friendly_name": "phone",
        "factor_metadata": '{"os":"ios"}',
        "event_date": by_type["factor.created"]["event_date"],
    }
    for request in receiver.requests:  # every event says when it happened (UTC)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", request.form["event_date"])
    challenge = by_type["challenge.approved"]
    assert challenge["challenge_sid"] == approved.sid
    assert challenge["challenge_status"] == "approved"
    assert challenge["factor_sid"] == factor.sid
    assert challenge["factor_friendly_name"] == "phone"
    assert json.loads(challenge["challenge_details"])["message"] == "Sign in"
    assert json.loads(challenge["challenge_hidden_details"]) == {"ip": "x"}
    assert by_type["challenge.denied"]["challenge_status"] == "denied"
    for request in receiver.requests:
        assert secret not in request.body.decode()
        assert code not in request.body.decode()


def test_passkey_factor_and_challenge_events(
    api: Api,
    hooks: Hooks,
    hook_url: str,
    events: Any,
    receiver: StandinHttp,
) -> None:
    """The same Twilio events for passkeys: created, verified, a sign-in approved, one
    refused (from another origin) denied."""
    service = api.create_service(**PASSKEY_SETTINGS)
    hooks.add(service, hook_url)
    passkeys = Passkeys(api.client, api.headers, service)
    device = SoftAuthenticator(ORIGIN)
    factor = passkeys.register(device)
    challenge = passkeys.challenge(identity=PASSKEY_IDENTITY).json
    assert passkeys.approve(device.get(challenge["options"])).status_code == 200  # type: ignore[index]
    refused = passkeys.challenge(identity=PASSKEY_IDENTITY).json
    stranger = SoftAuthenticator("https://evil.test")
    stranger.credentials = device.credentials
    assert passkeys.approve(stranger.get(refused["options"])).status_code >= 400  # type: ignore[index]
    run_events(events)
    assert types_of(receiver.requests) == [
        "factor.created",
        "factor.verified",
        "challenge.approved",
        "challenge.denied",
    ]
    approved = receiver.requests[2].form
    assert approved["factor_type"] == "passkeys"
    assert approved["factor_sid"] == factor["sid"]
    assert approved["challenge_sid"] == challenge["sid"]  # type: ignore[index]
    assert approved["entity_identity"] == PASSKEY_IDENTITY
    assert approved["factor_friendly_name"] == "Ada's laptop"
    assert receiver.requests[3].form["challenge_sid"] == refused["sid"]  # type: ignore[index]


def test_deleting_an_entity_sends_factor_deleted_for_each_of_its_factors(
    twilio: Client, hooks: Hooks, hook_url: str, events: Any, receiver: StandinHttp
) -> None:
    created = twilio.verify.v2.services.create(friendly_name="Acme")
    hooks.add(created.sid, hook_url, event_types=("factor.deleted",))
    entity = twilio.verify.v2.services(created.sid).entities(IDENTITY)
    sids = {
        entity.new_factors.create(friendly_name=name, factor_type="totp").sid
        for name in ("phone", "tablet")
    }
    assert entity.delete() is True
    run_events(events)
    assert types_of(receiver.requests) == ["factor.deleted", "factor.deleted"]
    assert {r.form["factor_sid"] for r in receiver.requests} == sids

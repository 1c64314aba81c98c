"""Key rotation end to end, through the HTTP API and the CLI against a real Redis: values made
under k1 keep working on the ring "k2,k1", `secrets reseal` moves them to k2 (idempotent,
resumable), and on the ring "k2" alone everything still works while a stale copy of a
k1-only value is refused. Processes still on the old ring neither lose messages nor 500
(docs/key-rotation.md)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from typing import Any

import pytest
import redis
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.attempts import attempt_reseal
from verify_service.adapters.redis_store.attempts.attempt_records import RedisAttemptRecords
from verify_service.adapters.redis_store.attempts.attempt_reseal import AttemptHistorySeals
from verify_service.adapters.redis_store.keys import AuditKeys, HistoryKeys, KeySpace, OutboxKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.app import (
    CONTAINER_KEY,
    Container,
    build_staff_users,
    create_app,
    ring_cipher,
)
from verify_service.cli import main
from verify_service.console.guard import SESSION_COOKIE
from verify_service.domain.audit_chain import GENESIS, seal
from verify_service.domain.keyring import Keyring
from verify_service.settings import Settings

K1 = "k1-secret-of-at-least-thirty-two-bytes-0001"
K2 = "k2-secret-of-at-least-thirty-two-bytes-0002"
K3 = "k3-secret-of-at-least-thirty-two-bytes-0003"
SECRETS = {"k1": K1, "k2": K2, "k3": K3}
SAFE_NUMBER = "+14155550100"
PASSWORD = "correct horse battery staple"


def ring_text(ring: str) -> str:
    return ",".join(f"{key_id}:{SECRETS[key_id]}" for key_id in ring.split(","))


class Rotation:
    """Apps and CLI runs on one Redis, each with its own ring ("k1", "k2,k1", "k2")."""

    def __init__(
        self, settings: Settings, clock: FixedClock, sender: RecordingSender, cli: CliRunner
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sender = sender
        self.cli = cli

    def settings_for(self, ring: str) -> Settings:
        entries = tuple((key_id, SECRETS[key_id].encode()) for key_id in ring.split(","))
        return dataclasses.replace(self.settings, secret_key=entries[0][1], secret_keys=entries)

    def app(self, ring: str) -> Flask:
        return create_app(
            self.settings_for(ring), clock=self.clock, providers=self.sender.as_providers()
        )

    def run(self, ring: str, *args: str) -> Result:
        env = {"VERIFY_SECRET_KEY": "", "VERIFY_SECRET_KEYS": ring_text(ring)}
        return self.cli.invoke(main, list(args), env=env)


@pytest.fixture
def rotation(
    settings: Settings,
    clock: FixedClock,
    sender: RecordingSender,
    cli: CliRunner,
    redis_client: redis.Redis,
) -> Rotation:
    return Rotation(settings, clock, sender, cli)


def container(app: Flask) -> Container:
    found: Container = app.extensions[CONTAINER_KEY]
    return found


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def as_key(client: FlaskClient, key: dict[str, Any]) -> int:
    return client.get("/v2/Services", headers=basic(key["sid"], key["secret"])).status_code


def deliver(app: Flask) -> int:
    worker = container(app).delivery_worker("rotation-test")
    handled = 0
    while batch := worker.run_once(block_ms=0):
        handled += batch
    return handled


def start_queued(api: Api, service_sid: str, to: str) -> str:
    """Start a verification and leave its message in the outbox (no worker runs)."""
    response = api.post(f"/v2/Services/{service_sid}/Verifications", To=to, Channel="sms")
    assert response.status_code == 201, response.json
    sid: str = response.json["sid"]  # type: ignore[index]
    return sid


def login(client: FlaskClient, name: str = "ada") -> int:
    form = client.get("/console/login").get_data(as_text=True)
    token = form.split('name="login_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/console/login", data={"login_token": token, "name": name, "password": PASSWORD}
    )
    return response.status_code


def test_a_rotation_keeps_every_long_lived_value_working(
    rotation: Rotation, redis_client: redis.Redis, settings: Settings
) -> None:
    """k1 → "k2,k1" → reseal (twice; after an interrupted run) → "k2": API key, safe list,
    queued message, dead letter, audit chain, staff user and session all keep working."""
    # -- everything made under k1 ---------------------------------------------------------
    old = rotation.app("k1")
    api = Api(old.test_client())
    service_sid = api.create_service()
    created = api.post("/v2/Keys", FriendlyName="checkout", Role="backend")
    assert created.status_code == 201
    key: dict[str, Any] = created.json  # type: ignore[assignment]
    assert api.post("/v2/SafeList/Numbers", PhoneNumber=SAFE_NUMBER).status_code == 201
    build_staff_users(container(old)).add("ada", PASSWORD, "admin")
    console = old.test_client()
    assert login(console) == 303
    # A verification whose code went out, to check after the restart.
    pending = start_queued(api, service_sid, "+14155550101")
    assert deliver(old) == 1
    code = rotation.sender.last_code(pending)
    # A message still queued, and one every provider refused (a dead letter).
    dead = start_queued(api, service_sid, "+14155550102")
    outbox = container(old).outbox
    [job] = outbox.read("setup", count=1, block_ms=0, visibility_ms=60_000)
    assert outbox.dead_letter(job, "every provider failed", rotation.clock.now_ms())
    queued = start_queued(api, service_sid, "+14155550103")
    stale_key_record = redis_client.dump(f"it:{{keys}}:{key['sid']}")
    assert isinstance(stale_key_record, bytes)

    # -- restart on "k2,k1": all of it still works ----------------------------------------
    both = rotation.app("k2,k1")
    api = Api(both.test_client())
    assert as_key(both.test_client(), key) == 200
    assert api.get(f"/v2/SafeList/Numbers/{SAFE_NUMBER}").status_code == 200
    checked = api.post(
        f"/v2/Services/{service_sid}/VerificationCheck", VerificationSid=pending, Code=code
    )
    assert checked.status_code == 200
    assert checked.json["status"] == "approved"  # type: ignore[index]
    console_both = both.test_client()
    _same_session(console, console_both)
    assert console_both.get("/console/search").status_code == 200
    assert rotation.run("k2,k1", "audit", "verify").exit_code == 0

    # -- reseal, interrupted part-way, then resumed, then once more -----------------------
    def interrupt(kind: str, looked_at: int) -> None:
        if kind == "outbox" and looked_at == 2:
            raise KeyboardInterrupt

    def reseal_all() -> None:
        for kind in container(both).resealables():
            kind.reseal(interrupt, rotation.clock.now_ms())

    before = rotation.run("k2,k1", "secrets", "status").output
    for kind in ("api keys", "safe list", "outbox", "attempt history", "audit log"):
        assert "k1=" in before.split(f"\n{kind}: ", 1)[1].split("\n", 1)[0], kind
    with pytest.raises(KeyboardInterrupt):
        reseal_all()
    status = rotation.run("k2,k1", "secrets", "status")
    assert "k1: still needed by" in status.output
    first = rotation.run("k2,k1", "secrets", "reseal")
    assert first.exit_code == 0, first.output
    assert "nothing left" in first.output
    second = rotation.run("k2,k1", "secrets", "reseal")
    assert second.exit_code == 0, second.output
    assert "summary: 0 resealed under k2, nothing left" in second.output
    status = rotation.run("k2,k1", "secrets", "status")
    assert "k1: holds nothing: it can be dropped from the ring" in status.output, status.output

    # -- the old key is gone: "k2" alone --------------------------------------------------
    new = rotation.app("k2")
    api = Api(new.test_client())
    assert as_key(new.test_client(), key) == 200
    assert api.get(f"/v2/SafeList/Numbers/{SAFE_NUMBER}").status_code == 200
    requeued = rotation.run("k2", "dead-letters", "requeue", _attempt_of(redis_client, dead))
    assert requeued.exit_code == 0, requeued.output
    assert deliver(new) == 2
    assert {m.verification_sid for m in rotation.sender.sent} >= {queued, dead}
    console_new = new.test_client()
    _same_session(console, console_new)
    assert console_new.get("/console/search").status_code == 200
    assert login(new.test_client()) == 303
    verified = rotation.run("k2", "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "k1" not in rotation.run("k2", "secrets", "status").output.split("\n", 1)[1]

    # A stale copy of the k1-only API key record (a backup restored) is refused: dropping
    # k1 ended it, rather than leaving the old digest valid forever.
    redis_client.restore(f"it:{{keys}}:{key['sid']}", 0, stale_key_record, replace=True)
    assert as_key(new.test_client(), key) == 401


def _same_session(source: FlaskClient, target: FlaskClient) -> None:
    """Present `source`'s console session cookie to another app process."""
    cookie = source.get_cookie(SESSION_COOKIE, path="/console")
    assert cookie is not None
    target.set_cookie(SESSION_COOKIE, cookie.value, path="/console")


def _attempt_of(redis_client: redis.Redis, verification_sid: str) -> str:
    letters: list[bytes] = [
        attempt
        for shard in OutboxKeys("it").every_shard
        for attempt in redis_client.lrange(shard.dead, 0, -1)  # type: ignore[union-attr]
    ]
    records = RedisAttemptRecords(
        redis_client, ScriptBook(), HistoryKeys("it"), DestinationCipher(bytes(32))
    )
    for attempt in letters:
        if records.fields(attempt.decode()).get("ve") == verification_sid:
            return attempt.decode()
    raise AssertionError("no dead letter for that verification")


def test_an_old_worker_puts_back_a_message_sealed_under_a_newer_key(
    rotation: Rotation, redis_client: redis.Redis
) -> None:
    """A worker still on "k1" meets a k2-sealed message: not delivered, not dropped, not
    dead-lettered; a worker with k2 delivers it."""
    new = rotation.app("k2,k1")
    api = Api(new.test_client())
    verification = start_queued(api, api.create_service(), "+14155550104")
    old = rotation.app("k1")
    for _ in range(3):
        assert deliver(old) == 0
    shards = OutboxKeys("it").every_shard
    assert sum(redis_client.llen(shard.dead) for shard in shards) == 0  # type: ignore[misc]
    assert sum(redis_client.zcard(shard.delayed) for shard in shards) == 1  # type: ignore[misc]
    assert container(new).outbox.promote_due(2**62) == 1
    assert deliver(new) == 1
    assert [m.verification_sid for m in rotation.sender.sent] == [verification]


def test_an_old_app_answers_401_to_a_key_made_under_a_newer_key(rotation: Rotation) -> None:
    """An app still on "k1" cannot check a k2 digest: 401, never a 500."""
    new = rotation.app("k2,k1")
    created = Api(new.test_client()).post("/v2/Keys", FriendlyName="new", Role="backend")
    key: dict[str, Any] = created.json  # type: ignore[assignment]
    assert as_key(rotation.app("k1").test_client(), key) == 401
    assert as_key(new.test_client(), key) == 200


@pytest.mark.parametrize("relinked", [False, True], ids=["body", "body-and-links"])
def test_tampering_with_an_old_entry_is_detected_after_its_key_is_gone(
    rotation: Rotation, redis_client: redis.Redis, relinked: bool
) -> None:
    """Entries made under k1, vouched for by the reseal's checkpoint: once k1 is dropped, an
    altered k1 entry still breaks `audit verify` (the links lead to the k2 checkpoint)."""
    old = rotation.app("k1")
    api = Api(old.test_client())
    for name in ("a", "b", "c"):
        api.create_service(FriendlyName=name)
    assert rotation.run("k2,k1", "secrets", "reseal").exit_code == 0
    assert rotation.run("k2", "audit", "verify").exit_code == 0
    log = AuditKeys("it").log
    entries: list[Any] = redis_client.xrange(log)  # type: ignore[assignment]
    target = entries[1][0]
    redis_client.delete(log)
    for entry_id, stored in entries:
        fields = dict(stored)
        if entry_id == target:
            fields[b"entry"] = fields[b"entry"].replace(b'"outcome":"ok"', b'"outcome":"no"')
            assert fields[b"entry"] != stored[b"entry"]
            if relinked:
                fields[b"hash"] = (
                    hashlib.sha256(fields[b"prev"] + b"\n" + fields[b"entry"]).hexdigest().encode()
                )
        redis_client.xadd(log, fields, id=entry_id)
    broken = rotation.run("k2", "audit", "verify")
    assert broken.exit_code == 1, broken.output
    assert "broken at" in broken.output


def test_an_entry_claiming_a_dropped_key_after_the_checkpoint_is_a_break(
    rotation: Rotation, redis_client: redis.Redis
) -> None:
    """Someone who can write to Redis appends an entry 'made under k1' after k1 was dropped
    (no MAC can be checked): it is a break, and a later entry does not vouch for it."""
    old = rotation.app("k1")
    Api(old.test_client()).create_service()
    assert rotation.run("k2,k1", "secrets", "reseal").exit_code == 0
    head: dict[bytes, bytes] = redis_client.hgetall(AuditKeys("it").head)  # type: ignore[assignment]
    body = json.loads(redis_client.xrange(AuditKeys("it").log)[-1][1][b"entry"])  # type: ignore[index]
    body = {**body, "seq": int(head[b"seq"]) + 1, "action": "keys.create", "actor": "forged"}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    link = hashlib.sha256(head[b"hash"] + b"\n" + raw).hexdigest()
    redis_client.xadd(
        AuditKeys("it").log,
        {"entry": raw, "prev": head[b"hash"], "hash": link, "k": "k1", "mac": "0" * 64},
    )
    redis_client.hset(AuditKeys("it").head, mapping={"hash": link, "seq": body["seq"]})
    new = rotation.app("k2")
    Api(new.test_client()).create_service(FriendlyName="after")  # a k2 entry follows it
    broken = rotation.run("k2", "audit", "verify")
    assert broken.exit_code == 1, broken.output
    assert "not on the ring" in broken.output


def test_a_number_listed_under_the_old_key_is_safe_listed_on_the_new_ring(
    rotation: Rotation, redis_client: redis.Redis
) -> None:
    """Listed under k1, before any reseal: a "k2,k1" start still bypasses geo permissions
    for it (the start reads every ring key's field in its one HMGET), and adding it again
    keeps the one entry."""
    old = rotation.app("k1")
    listed = Api(old.test_client()).post("/v2/SafeList/Numbers", PhoneNumber=SAFE_NUMBER)
    both = Api(rotation.app("k2,k1").test_client())
    service = both.create_service(GeoPermissions=json.dumps({"sms": {"allowed": []}}))
    assert (
        both.post(
            f"/v2/Services/{service}/Verifications", To=SAFE_NUMBER, Channel="sms"
        ).status_code
        == 201
    )
    refused = both.post(f"/v2/Services/{service}/Verifications", To="+14155550199", Channel="sms")
    assert refused.status_code == 403  # 60605, geo permissions
    again = both.post("/v2/SafeList/Numbers", PhoneNumber=SAFE_NUMBER)
    assert again.json["sid"] == listed.json["sid"]  # type: ignore[index]
    assert redis_client.hlen(KeySpace("it").safe_list()) == 1


# -- concurrent writers: each replacement is a compare-and-set ------------------------------


def reseal_kind(app: Flask, kind: str, meanwhile: Any) -> Any:
    """Reseal one kind, running `meanwhile` between the read of the first value and its
    replacement (the window a concurrent writer has)."""
    [resealable] = [r for r in container(app).resealables() if r.kind == kind]
    done: list[bool] = []

    def progress(_kind: str, _looked_at: int) -> None:
        if not done:
            done.append(True)
            meanwhile()

    return resealable.reseal(progress, 0)


def test_a_reseal_never_revives_a_key_revoked_meanwhile(
    rotation: Rotation, redis_client: redis.Redis
) -> None:
    old = Api(rotation.app("k1").test_client())
    key: dict[str, Any] = old.post("/v2/Keys", Role="backend").json  # type: ignore[assignment]
    both = rotation.app("k2,k1")
    revoke = lambda: Api(both.test_client()).client.delete(  # noqa: E731
        f"/v2/Keys/{key['sid']}", headers=old.headers
    )
    count = reseal_kind(both, "api keys", revoke)
    assert count.raced == 1
    assert count.resealed == 0
    assert not redis_client.exists(f"it:{{keys}}:{key['sid']}")


def test_a_reseal_never_revives_a_number_deleted_meanwhile(
    rotation: Rotation, redis_client: redis.Redis
) -> None:
    Api(rotation.app("k1").test_client()).post("/v2/SafeList/Numbers", PhoneNumber=SAFE_NUMBER)
    both = rotation.app("k2,k1")
    api = Api(both.test_client())
    count = reseal_kind(
        both,
        "safe list",
        lambda: api.client.delete(f"/v2/SafeList/Numbers/{SAFE_NUMBER}", headers=api.headers),
    )
    assert count.raced == 1
    assert redis_client.hlen(KeySpace("it").safe_list()) == 0


def test_a_reseal_leaves_a_job_a_worker_took_meanwhile_to_that_worker(
    rotation: Rotation, redis_client: redis.Redis
) -> None:
    """Re-adding a stream entry a worker holds would send the message twice: it is skipped,
    and the worker's delivery completes."""
    old = rotation.app("k1")
    api = Api(old.test_client())
    verification = start_queued(api, api.create_service(), "+14155550105")
    both = rotation.app("k2,k1")
    taken: list[Any] = []
    outbox = container(both).outbox
    count = reseal_kind(both, "outbox", lambda: taken.extend(outbox.read("w", 1, 0, 60_000)))
    assert count.raced == 1
    stream = OutboxKeys("it").for_attempt(taken[0].attempt_sid).stream
    assert redis_client.xlen(stream) == 1
    assert outbox.complete(taken[0])
    assert redis_client.xlen(stream) == 0
    assert rotation.sender.sent == []  # nothing was handed out twice
    assert taken[0].verification_sid == verification


# -- values from before key ids (an upgrade) ------------------------------------------------


def test_an_api_key_from_before_key_ids_works_is_upgraded_on_use_and_then_rotates(
    rotation: Rotation, redis_client: redis.Redis, settings: Settings
) -> None:
    """VERIFY_SECRET_KEY is the ring k0: a key stored as the older release did (the keyed
    digest of the secret, no key id) authenticates, is rewritten with its proof on first
    use, and then survives a rotation to k2."""
    SECRETS["k0"] = settings.secret_key.decode()
    try:
        legacy = rotation.app("k0")
        api = Api(legacy.test_client())
        key: dict[str, Any] = api.post("/v2/Keys", Role="backend").json  # type: ignore[assignment]
        record = f"it:{{keys}}:{key['sid']}"
        digest = Keyring.from_secret(settings.secret_key).api_key_digest(key["sid"], key["secret"])
        redis_client.hset(record, "h", digest)
        redis_client.hdel(record, "k", "p")
        reseal = rotation.run("k2,k0", "secrets", "reseal")
        assert "1 unreadable" in reseal.output  # no proof yet: it waits for its next use
        assert as_key(legacy.test_client(), key) == 200
        assert redis_client.hget(record, "k") == b"k0"
        assert rotation.run("k2,k0", "secrets", "reseal").exit_code == 0
        assert redis_client.hget(record, "k") == b"k2"
        assert as_key(rotation.app("k2").test_client(), key) == 200
    finally:
        del SECRETS["k0"]


def write_legacy_audit_entries(redis_client: redis.Redis, secret: bytes, count: int) -> None:
    """Entries as the release before key ids wrote them: a keyed hash, no `k`, no `mac`."""
    key = Keyring.from_secret(secret).audit_chain_key
    keys = AuditKeys("it")
    prev = GENESIS
    for seq in range(1, count + 1):
        fields = {
            "seq": seq,
            "actor": "cli",
            "role": "admin",
            "action": "services.create",
            "target": f"VA{seq:032x}",
            "outcome": "ok",
            "time_ms": 1_700_000_000_000 + seq,
            "reason": None,
        }
        body, digest = seal(key, prev, fields)
        redis_client.xadd(keys.log, {"entry": body, "prev": prev, "hash": digest})
        prev = digest
    redis_client.hset(keys.head, mapping={"hash": prev, "seq": count})


@pytest.mark.parametrize("tamper", ["none", "body", "body-and-legacy-link"])
def test_audit_entries_from_before_key_ids_stay_verifiable_after_k0_is_dropped(
    rotation: Rotation, redis_client: redis.Redis, settings: Settings, tamper: str
) -> None:
    """The upgrade path: entries keyed under VERIFY_SECRET_KEY (k0, no key id) are vouched
    for by the reseal's checkpoint through their legacy links, so `audit verify` passes on
    "k2" alone, and altering one (even with its legacy link) is still detected."""
    SECRETS["k0"] = settings.secret_key.decode()
    try:
        write_legacy_audit_entries(redis_client, settings.secret_key, 4)
        Api(rotation.app("k0").test_client()).create_service()  # a k0 entry with a key id
        assert rotation.run("k0", "audit", "verify").exit_code == 0
        assert rotation.run("k2", "audit", "verify").exit_code == 1  # not yet vouched for
        resealed = rotation.run("k2,k0", "secrets", "reseal")
        assert resealed.exit_code == 0, resealed.output
        status = rotation.run("k2,k0", "secrets", "status").output
        assert "k0: holds nothing: it can be dropped from the ring" in status, status
        log, links = AuditKeys("it").log, AuditKeys("it").legacy_links
        if tamper != "none":
            entries: list[Any] = redis_client.xrange(log)  # type: ignore[assignment]
            target_id, target = entries[1]
            altered = target[b"entry"].replace(b'"outcome":"ok"', b'"outcome":"no"')
            redis_client.delete(log)
            for entry_id, stored in entries:
                redis_client.xadd(
                    log,
                    {**stored, b"entry": altered} if entry_id == target_id else stored,
                    id=entry_id,
                )
            if tamper == "body-and-legacy-link":
                new_link = hashlib.sha256(target[b"prev"] + b"\n" + altered).hexdigest()
                redis_client.hset(links, target[b"hash"], new_link)
        verified = rotation.run("k2", "audit", "verify")
        assert verified.exit_code == (0 if tamper == "none" else 1), verified.output
    finally:
        del SECRETS["k0"]


@pytest.mark.parametrize("first", ["k1", "k0"], ids=["key-ids", "before-key-ids"])
def test_a_second_rotation_drops_the_previous_key_and_the_log_still_verifies(
    rotation: Rotation, redis_client: redis.Redis, settings: Settings, first: str
) -> None:
    """first → k2 → k3: the second reseal appends a k3 checkpoint (the k2 one is not
    settled once k3 is primary), `secrets status` then says k2 can be dropped, and on "k3"
    alone `audit verify` passes (entries from before key ids included)."""
    SECRETS["k0"] = settings.secret_key.decode()
    try:
        if first == "k0":
            write_legacy_audit_entries(redis_client, settings.secret_key, 3)
        Api(rotation.app(first).test_client()).create_service(FriendlyName="a")
        assert rotation.run(f"k2,{first}", "secrets", "reseal").exit_code == 0
        Api(rotation.app("k2").test_client()).create_service(FriendlyName="b")
        assert rotation.run("k2", "audit", "verify").exit_code == 0
        resealed = rotation.run("k3,k2", "secrets", "reseal")
        assert resealed.exit_code == 0, resealed.output
        assert "audit log: 0 resealed" not in resealed.output, resealed.output
        status = rotation.run("k3,k2", "secrets", "status").output
        assert "k2: holds nothing: it can be dropped from the ring" in status, status
        verified = rotation.run("k3", "audit", "verify")
        assert verified.exit_code == 0, verified.output
        again = rotation.run("k3", "secrets", "reseal")
        assert "audit log: 0 resealed" in again.output, again.output
    finally:
        del SECRETS["k0"]


class _Meddling:
    """A Redis client through which a reseal runs, and a writer acts at one chosen moment."""

    def __init__(self, client: redis.Redis, **hooks: Any) -> None:
        self._client = client
        self._hooks = hooks

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        pipe = self._client.pipeline(*args, **kwargs)
        after = self._hooks.get("after_check")
        if after is None:
            return pipe
        execute = pipe.execute

        def meddled_execute(*a: Any, **k: Any) -> Any:
            result = execute(*a, **k)
            if len(result) == 2 and not self._hooks.get("done"):
                self._hooks["done"] = True
                after()
            return result

        pipe.execute = meddled_execute  # type: ignore[method-assign]
        return pipe

    def hgetall(self, name: Any) -> Any:
        before = self._hooks.get("before_hgetall")
        if before is not None:
            before(name)
        return self._client.hgetall(name)


def _audit_resealable(app: Flask) -> Any:
    [log] = [r for r in container(app).resealables() if r.kind == "audit log"]
    return log


def _forge_after_head(redis_client: redis.Redis, key_id: str, action: str = "keys.create") -> None:
    """What a Redis-only writer can append: a linked entry under a made-up key, junk MAC."""
    keys = AuditKeys("it")
    head: dict[bytes, bytes] = redis_client.hgetall(keys.head)  # type: ignore[assignment]
    last: Any = redis_client.xrange(keys.log)[-1]  # type: ignore[index]
    body = json.loads(last[1][b"entry"])
    body = {**body, "seq": int(head[b"seq"]) + 1, "action": action, "actor": "forged"}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    link = hashlib.sha256(head[b"hash"] + b"\n" + raw).hexdigest()
    redis_client.xadd(
        keys.log, {"entry": raw, "prev": head[b"hash"], "hash": link, "k": key_id, "mac": "0" * 64}
    )
    redis_client.hset(keys.head, mapping={"hash": link, "seq": body["seq"]})


def test_a_checkpoint_never_vouches_for_an_entry_appended_after_the_check(
    rotation: Rotation, redis_client: redis.Redis
) -> None:
    """An entry with a made-up key id and a junk MAC, appended between the reseal's check
    and its checkpoint: the checkpoint is chained onto the checked head only (the head
    moved, so it checks again and finds the forgery), and `audit verify` names it."""
    Api(rotation.app("k1").test_client()).create_service()
    log = _audit_resealable(rotation.app("k2,k1"))
    log._client = _Meddling(redis_client, after_check=lambda: _forge_after_head(redis_client, "k9"))
    count = log.reseal(lambda *_: None, 0)
    assert count.resealed == 0, count
    assert any("does not check" in note for note in count.notes), count.notes
    broken = rotation.run("k2", "audit", "verify")
    assert broken.exit_code == 1, broken.output
    assert "not on the ring" in broken.output


def test_an_append_between_the_check_and_the_checkpoint_is_checked_then_vouched_for(
    rotation: Rotation, redis_client: redis.Redis
) -> None:
    """A genuine append racing the reseal moves the head: the checkpoint's compare-and-set
    fails, reseal checks again, and chains the checkpoint after it."""
    Api(rotation.app("k1").test_client()).create_service()
    both = rotation.app("k2,k1")
    log = _audit_resealable(both)
    log._client = _Meddling(
        redis_client,
        after_check=lambda: Api(both.test_client()).create_service(FriendlyName="racing"),
    )
    count = log.reseal(lambda *_: None, 0)
    assert count.resealed > 0, count
    entries: list[Any] = redis_client.xrange(AuditKeys("it").log)  # type: ignore[assignment]
    assert b"secrets.reseal" in entries[-1][1][b"entry"]
    assert b"services.create" in entries[-2][1][b"entry"]
    verified = rotation.run("k2", "audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_a_forged_checkpoint_does_not_make_status_drop_a_key(
    rotation: Rotation, redis_client: redis.Redis
) -> None:
    """A Redis writer appends a 'checkpoint' claiming the primary, with a junk MAC: status
    still says k1 is needed, and reseal does not take it for one (it reports the break)."""
    Api(rotation.app("k1").test_client()).create_service()
    _forge_after_head(redis_client, "k2", action="secrets.reseal")
    status = rotation.run("k2,k1", "secrets", "status").output
    assert "k1: still needed" in status, status
    resealed = rotation.run("k2,k1", "secrets", "reseal")
    assert "the chain does not check" in resealed.output, resealed.output


def test_a_legacy_link_swapped_during_the_reseal_is_never_vouched_for(
    rotation: Rotation, redis_client: redis.Redis, settings: Settings
) -> None:
    """A Redis writer swaps the legacy link of an entry from before key ids while the reseal
    runs (to the link of an altered body): no checkpoint names that table, so once k0 is
    dropped the altered entry does not verify."""
    SECRETS["k0"] = settings.secret_key.decode()
    try:
        write_legacy_audit_entries(redis_client, settings.secret_key, 3)
        keys = AuditKeys("it")
        entries: list[Any] = redis_client.xrange(keys.log)  # type: ignore[assignment]
        target_id, target = entries[1]
        altered = target[b"entry"].replace(b'"outcome":"ok"', b'"outcome":"no"')
        swapped = hashlib.sha256(target[b"prev"] + b"\n" + altered).hexdigest()

        def swap(name: Any) -> None:
            if name == keys.legacy_links:
                redis_client.hset(keys.legacy_links, target[b"hash"], swapped)

        log = _audit_resealable(rotation.app("k2,k0"))
        log._client = _Meddling(redis_client, before_hgetall=swap)
        count = log.reseal(lambda *_: None, 0)
        assert count.resealed == 0, count
        redis_client.delete(keys.log)
        for entry_id, stored in entries:
            changed = {**stored, b"entry": altered} if entry_id == target_id else stored
            redis_client.xadd(keys.log, changed, id=entry_id)
        verified = rotation.run("k2", "audit", "verify")
        assert verified.exit_code == 1, verified.output
    finally:
        del SECRETS["k0"]


def test_a_job_from_before_key_ids_whose_nonce_looks_like_a_key_id_is_counted_as_k0(
    rotation: Rotation, redis_client: redis.Redis, settings: Settings
) -> None:
    """A queued job sealed before key ids whose random nonce starts with `ab:` (about 1 in
    1 024 do): `secrets status` counts it under k0, not under a key `ab` nobody has, reseal
    moves it, and it is delivered on the new ring alone."""
    SECRETS["k0"] = settings.secret_key.decode()
    try:
        api = Api(rotation.app("k0").test_client())
        start_queued(api, api.create_service(), "+14155550123")
        cipher = DestinationCipher(Keyring.from_secret(settings.secret_key).outbox_encryption_key)
        streams = [
            key for key in redis_client.scan_iter("it:*", _type="stream") if b"outbox" in key
        ]
        rewritten = 0
        for stream in streams:
            entries: list[Any] = redis_client.xrange(stream)  # type: ignore[assignment]
            for entry_id, fields in entries:
                if b"job" not in fields:
                    continue
                plain = cipher.open(fields[b"job"], fields[b"att"])
                assert plain is not None
                nonce = b"ab:" + b"\x05" * 9
                legacy = nonce + AESGCM(
                    Keyring.from_secret(settings.secret_key).outbox_encryption_key
                ).encrypt(nonce, plain.encode(), fields[b"att"])
                redis_client.xdel(stream, entry_id)
                redis_client.xadd(stream, {**fields, b"job": legacy})
                rewritten += 1
        assert rewritten == 1
        status = rotation.run("k2,k0", "secrets", "status").output
        assert "outbox: k0=1" in status, status
        assert "not on the ring" not in status, status
        assert rotation.run("k2,k0", "secrets", "reseal").exit_code == 0
        status = rotation.run("k2,k0", "secrets", "status").output
        assert "outbox: k2=1" in status, status
        assert deliver(rotation.app("k2")) == 1
    finally:
        del SECRETS["k0"]


def test_during_a_zero_downtime_promotion_both_rings_understand_each_other(
    rotation: Rotation,
) -> None:
    """Step 1 puts k2 everywhere as a verify-only key ("k1,k2"); while step 2 promotes it
    ("k2,k1") process by process, each side opens what the other made."""
    verify_only, promoted = rotation.app("k1,k2"), rotation.app("k2,k1")
    made_by_promoted = Api(promoted.test_client()).post("/v2/Keys", Role="backend").json
    made_by_verify_only = Api(verify_only.test_client()).post("/v2/Keys", Role="backend").json
    assert as_key(verify_only.test_client(), made_by_promoted) == 200  # type: ignore[arg-type]
    assert as_key(promoted.test_client(), made_by_verify_only) == 200  # type: ignore[arg-type]
    api = Api(promoted.test_client())
    service_sid = api.create_service()
    verification = start_queued(api, service_sid, "+14155550106")
    assert deliver(verify_only) == 1  # sealed under k2, delivered by a "k1,k2" worker
    checked = Api(verify_only.test_client()).post(
        f"/v2/Services/{service_sid}/VerificationCheck",
        VerificationSid=verification,
        Code=rotation.sender.last_code(verification),
    )
    assert checked.json["status"] == "approved"  # type: ignore[index]


# -- two reseals at once: the attempt history ---------------------------------------------


class PausedRun(Exception):
    """A reseal run stopped after its first page of copy (it still runs, elsewhere)."""


class OnePageClient(redis.Redis):
    """A reseal run's client that stops the run after its first page is copied."""

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        original = pipe.execute

        def execute(raise_on_error: bool = True) -> Any:
            original(raise_on_error)
            raise PausedRun

        pipe.execute = execute  # type: ignore[method-assign]
        return pipe


class SwapLater(ScriptBook):
    """Runs `meanwhile` once, just before the first bucket swap: the window between a
    run's copy and its swap."""

    def __init__(self, meanwhile: Any) -> None:
        super().__init__()
        self.meanwhile = meanwhile

    def run(self, client: redis.Redis, name: str, keys: Any, args: Any) -> Any:
        if name == "swap_attempt_bucket" and self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return super().run(client, name, keys, args)


def history_seals(app: Flask, client: redis.Redis, scripts: ScriptBook) -> AttemptHistorySeals:
    settings = container(app).settings
    return AttemptHistorySeals(
        client,
        scripts,
        HistoryKeys(settings.key_prefix),
        ring_cipher(Keyring(settings.key_ring()), "destination_encryption_key"),
    )


def no_progress(_kind: str, _looked_at: int) -> None:
    return None


@pytest.mark.parametrize("meanwhile", ["a run copying its first page", "a whole run", "expiry"])
def test_two_attempt_history_reseals_at_once_lose_no_record(
    rotation: Rotation,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    meanwhile: str,
) -> None:
    """Between run A's copy of a bucket and A's swap: run B copies its first page (and goes
    on later), or runs whole, or A's copy expires. Every record is still listed, A's swap
    never renames an incomplete copy over the records, and a re-run finishes the job."""
    monkeypatch.setattr(attempt_reseal, "PAGE", 2)
    api = Api(rotation.app("k1").test_client())
    service = api.create_service()
    for index in range(5):
        assert start_queued(api, service, f"+1415555070{index}")
    both = rotation.app("k2,k1")
    api_both = Api(both.test_client())
    listing = f"/v2/Attempts?VerifyServiceSid={service}&PageSize=50"

    def listed() -> list[str]:
        response = api_both.get(listing)
        assert response.status_code == 200, response.json
        return [a["sid"] for a in response.json["attempts"]]  # type: ignore[index]

    made = listed()
    assert len(made) == 5

    def run_b_one_page() -> None:
        paused = OnePageClient(connection_pool=redis_client.connection_pool)
        with pytest.raises(PausedRun):
            history_seals(both, paused, ScriptBook()).reseal(no_progress, 0)

    def run_b_whole() -> None:
        count = history_seals(both, redis_client, ScriptBook()).reseal(no_progress, 0)
        assert count.resealed == 5

    def expire_copies() -> None:
        copies = list(redis_client.scan_iter("it:h:*:n*"))
        assert copies
        redis_client.delete(*copies)

    action = {
        "a run copying its first page": run_b_one_page,
        "a whole run": run_b_whole,
        "expiry": expire_copies,
    }[meanwhile]
    run_a = history_seals(both, redis_client, SwapLater(action))
    run_a.reseal(no_progress, 0)
    assert listed() == made
    # A re-run (B going on, or the operator) leaves every record under k2, all still listed.
    history_seals(both, redis_client, ScriptBook()).reseal(no_progress, 0)
    assert listed() == made
    assert history_seals(both, redis_client, ScriptBook()).key_ids() == {"k2": 5}
    # B's copy, if it was left part-way, goes by itself.
    for copy in redis_client.scan_iter("it:h:*:n*"):
        assert 0 < redis_client.pttl(copy) <= attempt_reseal.COPY_TTL_MS


def test_an_attempt_history_swap_refused_every_time_leaves_the_bucket_and_says_so(
    rotation: Rotation, redis_client: redis.Redis
) -> None:
    """Each copy lost before its swap (SWAP_TRIES times): the bucket is left as it was (all
    listed, still under k1), its records are counted as changed meanwhile with a note, and
    no copy is left behind."""
    api = Api(rotation.app("k1").test_client())
    service = api.create_service()
    for index in range(3):
        assert start_queued(api, service, f"+1415555071{index}")
    both = rotation.app("k2,k1")

    class CopyLost(ScriptBook):
        def run(self, client: redis.Redis, name: str, keys: Any, args: Any) -> Any:
            if name == "swap_attempt_bucket":
                redis_client.delete(keys[1])
            return super().run(client, name, keys, args)

    count = history_seals(both, redis_client, CopyLost()).reseal(no_progress, 0)
    assert (count.resealed, count.raced) == (0, 3)
    assert "run the reseal again" in count.notes[0]
    assert history_seals(both, redis_client, ScriptBook()).key_ids() == {"k1": 3}
    response = Api(both.test_client()).get(f"/v2/Attempts?VerifyServiceSid={service}")
    assert len(response.json["attempts"]) == 3  # type: ignore[index]
    assert not list(redis_client.scan_iter("it:h:*:n*"))

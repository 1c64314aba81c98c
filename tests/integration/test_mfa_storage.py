"""What MFA leaves in Redis (real Redis, the SDK over the in-process app): the TOTP secret
only sealed, bound to its factor, and moved to the new primary by `secrets reseal`; deletes
that cascade; ended challenges kept a day past their expiration; audit entries without a
secret or a code."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from twilio.rest import Client

from tests.support.fakes import FixedClock, RecordingSender
from tests.support.flask_sdk import sdk_client
from tests.support.mfa import IDENTITY, refusal, totp_code
from verify_service.adapters.redis_store.keys import MfaKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.cli import main
from verify_service.settings import Settings

K1 = "k1-secret-of-at-least-thirty-two-bytes-0001"
K2 = "k2-secret-of-at-least-thirty-two-bytes-0002"


@pytest.fixture
def twilio(app: Flask) -> Client:
    return sdk_client(app.test_client())


def enrol(twilio: Client, clock: FixedClock) -> tuple[Any, Any, str]:
    """(service context, factor, secret) of a verified TOTP factor of IDENTITY."""
    created = twilio.verify.v2.services.create(friendly_name="Acme")
    service = twilio.verify.v2.services(created.sid)
    factor = service.entities(IDENTITY).new_factors.create(
        friendly_name="phone", factor_type="totp"
    )
    secret = factor.binding["secret"]
    service.entities(IDENTITY).factors(factor.sid).update(auth_payload=totp_code(secret, clock.now))
    clock.advance(60)
    return service, factor, secret


def every_value(client: redis.Redis) -> bytes:
    """Every key and value in Redis, concatenated (hashes, sets, streams)."""
    dump = b""
    for key in client.scan_iter():
        dump += key
        kind = client.type(key)
        if kind == b"hash":
            dump += b"".join(k + v for k, v in client.hgetall(key).items())
        elif kind == b"zset":
            dump += b"".join(client.zrange(key, 0, -1))
        elif kind == b"string":
            dump += client.get(key) or b""
        elif kind == b"stream":
            dump += repr(client.xrange(key)).encode()
    return dump


def test_the_secret_is_never_in_redis_in_the_clear(
    twilio: Client, clock: FixedClock, redis_client: redis.Redis
) -> None:
    _service, _factor, secret = enrol(twilio, clock)
    dump = every_value(redis_client)
    assert secret.encode() not in dump
    assert secret.lower().encode() not in dump
    assert base64.b32decode(secret) not in dump


def test_a_sealed_secret_copied_onto_another_factor_does_not_open(
    twilio: Client, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """The seal is bound to its service and factor sids (AES-GCM associated data)."""
    service, first, first_secret = enrol(twilio, clock)
    second = service.entities(IDENTITY).new_factors.create(friendly_name="b", factor_type="totp")
    second_code = totp_code(second.binding["secret"], clock.now)
    service.entities(IDENTITY).factors(second.sid).update(auth_payload=second_code)
    clock.advance(60)
    [first_key] = redis_client.scan_iter(match=f"it:mfa:*:factor:{first.sid}")
    [second_key] = redis_client.scan_iter(match=f"it:mfa:*:factor:{second.sid}")
    redis_client.hset(second_key, "totp_secret", redis_client.hget(first_key, "totp_secret") or b"")
    challenge = service.entities(IDENTITY).challenges.create(
        factor_sid=second.sid, auth_payload=totp_code(first_secret, clock.now)
    )
    assert challenge.status == "pending"


def test_deleting_an_entity_deletes_its_factors_and_challenges(
    twilio: Client, clock: FixedClock, redis_client: redis.Redis
) -> None:
    service, factor, _secret = enrol(twilio, clock)
    service.entities(IDENTITY).challenges.create(factor_sid=factor.sid)
    other = "other-user-0001"
    service.entities.create(identity=other)
    assert service.entities(IDENTITY).delete() is True
    left = sorted(k.decode() for k in redis_client.scan_iter(match="it:mfa:*"))
    assert all(IDENTITY not in key for key in left), left
    assert [e.identity for e in service.entities.list()] == [other]
    assert refusal(service.entities(IDENTITY).factors(factor.sid).fetch) == (404, 20404)


def test_deleting_a_factor_deletes_its_challenges(
    twilio: Client, clock: FixedClock, redis_client: redis.Redis
) -> None:
    service, factor, _secret = enrol(twilio, clock)
    challenge = service.entities(IDENTITY).challenges.create(factor_sid=factor.sid)
    service.entities(IDENTITY).factors(factor.sid).delete()
    assert list(redis_client.scan_iter(match="it:mfa:*:challenge:*")) == []
    assert refusal(service.entities(IDENTITY).challenges(challenge.sid).fetch) == (404, 20404)
    assert service.entities(IDENTITY).fetch().identity == IDENTITY


def test_deleting_a_service_deletes_its_entities(
    twilio: Client, clock: FixedClock, redis_client: redis.Redis
) -> None:
    service, factor, _secret = enrol(twilio, clock)
    service.entities(IDENTITY).challenges.create(factor_sid=factor.sid)
    service.delete()
    assert list(redis_client.scan_iter(match="it:mfa:*")) == []


def test_a_challenge_is_kept_a_day_past_its_expiration_then_leaves_the_list(
    twilio: Client, clock: FixedClock, redis_client: redis.Redis
) -> None:
    service, factor, _secret = enrol(twilio, clock)
    old = service.entities(IDENTITY).challenges.create(factor_sid=factor.sid)
    [key] = redis_client.scan_iter(match=f"it:mfa:*:challenge:{old.sid}")
    day_and_five_minutes = (24 * 60 + 5) * 60 * 1000
    assert day_and_five_minutes - 1000 < redis_client.pttl(key) <= day_and_five_minutes
    # A day and an hour later (past any challenge's retention), a new challenge prunes the
    # entity's list; Redis has expired the old hash by then (here: expired by hand).
    redis_client.delete(key)
    clock.advance(25 * 3600 + 1)
    new = service.entities(IDENTITY).challenges.create(factor_sid=factor.sid)
    [listed] = redis_client.scan_iter(match="it:mfa:*:challenges")
    assert redis_client.zrange(listed, 0, -1) == [new.sid.encode()]


def test_changes_are_audited_without_secret_or_code(
    app: Flask, twilio: Client, clock: FixedClock
) -> None:
    service, factor, secret = enrol(twilio, clock)
    code = totp_code(secret, clock.now)
    service.entities(IDENTITY).challenges.create(factor_sid=factor.sid, auth_payload=code)
    service.entities(IDENTITY).factors(factor.sid).delete()
    container = app.extensions[CONTAINER_KEY]
    records, _more = container.audit.newest(50)
    activity, _more = container.mfa_activity.newest(50)  # challenges: docs/audit-log.md
    mfa = [r.entry for r in records if r.entry.action.startswith("mfa.")]
    assert [(e.action, e.outcome) for e in reversed(mfa)] == [
        ("mfa.factor.create", "ok"),
        ("mfa.factor.verify", "verified"),
        ("mfa.factor.delete", "ok"),
    ]
    assert [(r.entry.action, r.entry.outcome) for r in activity] == [
        ("mfa.challenge.create", "approved")
    ]
    target = f"{factor.service_sid}/{factor.entity_sid}/{factor.sid}"
    assert all(e.target.startswith(target) for e in [*mfa, activity[0].entry])
    text = repr(records) + repr(activity)
    assert secret not in text
    assert code not in text
    assert IDENTITY not in text


def test_a_rotation_reseals_the_secret_and_the_factor_still_verifies(
    settings: Settings,
    clock: FixedClock,
    sender: RecordingSender,
    cli: CliRunner,
    redis_client: redis.Redis,
) -> None:
    """k1 → "k2,k1" → `secrets reseal` → "k2" alone: the factor answers throughout."""

    def app_on(ring: str) -> Flask:
        entries = tuple((kid, {"k1": K1, "k2": K2}[kid].encode()) for kid in ring.split(","))
        ringed = dataclasses.replace(settings, secret_key=entries[0][1], secret_keys=entries)
        return create_app(ringed, clock=clock, providers=sender.as_providers())

    service, factor, secret = enrol(sdk_client(app_on("k1").test_client()), clock)
    sid = service._solution["sid"]

    def approves(app: Flask) -> bool:
        clock.advance(30)
        entity = sdk_client(app.test_client()).verify.v2.services(sid).entities(IDENTITY)
        code = totp_code(secret, clock.now)
        return entity.challenges.create(factor_sid=factor.sid, auth_payload=code).status == (
            "approved"
        )

    [key] = redis_client.scan_iter(match=f"it:mfa:*:factor:{factor.sid}")
    assert (redis_client.hget(key, "totp_secret") or b"").startswith(b"k1:")
    assert approves(app_on("k2,k1"))
    env = {"VERIFY_SECRET_KEY": "", "VERIFY_SECRET_KEYS": f"k2:{K2},k1:{K1}"}
    assert "totp secrets" in cli.invoke(main, ["secrets", "status"], env=env).output
    result = cli.invoke(main, ["secrets", "reseal"], env=env)
    assert result.exit_code == 0, result.output
    assert (redis_client.hget(key, "totp_secret") or b"").startswith(b"k2:")
    assert approves(app_on("k2"))


def test_a_cascade_with_a_stale_list_changes_nothing(
    twilio: Client, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """delete_entity.lua is given the keys the caller listed: when a challenge was created
    after the listing, it deletes nothing (-1) and the store lists again."""
    service, factor, _secret = enrol(twilio, clock)
    keys = MfaKeys("it").of(service._solution["sid"], IDENTITY)
    stale = redis_client.zrange(keys.challenges, 0, -1)
    service.entities(IDENTITY).challenges.create(factor_sid=factor.sid)
    reply = ScriptBook().run(
        redis_client,
        "delete_entity",
        [keys.entity, keys.factors, keys.challenges, keys.factor(factor.sid)],
        [1, factor.sid, *stale],
    )
    assert reply == -1
    assert redis_client.exists(keys.entity, keys.factor(factor.sid)) == 2
    assert service.entities(IDENTITY).delete() is True  # the store lists afresh
    assert list(redis_client.scan_iter(match=f"*{IDENTITY}*")) == []

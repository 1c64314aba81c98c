"""Challenge traffic goes to its own tamper-evident stream, the MFA activity log
(docs/audit-log.md, "Two logs"): operator-level MFA changes stay in the audit log, where a
flood of sign-ins (or an attacker hammering a locked factor) cannot push them out. A lock
leaves one `mfa.factor.locked` entry in the audit log; the refusals while locked leave none."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from flask import Flask

from tests.conftest import Api
from tests.integration.test_api_keys import basic, create_key
from tests.integration.test_console import ADMIN_PASSWORD, Console
from tests.integration.test_key_rotation import Rotation
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.mfa import IDENTITY, other_code, totp_code
from verify_service.app import CONTAINER_KEY, build_staff_users, create_app
from verify_service.cli import main
from verify_service.domain.mfa.limits import MAX_WRONG_CODES
from verify_service.settings import Settings

CAP = 20
MAIN = "it:{audit}:log"
ACTIVITY = "it:{mfa-activity}:log"


def stream(redis_client: redis.Redis, key: str) -> list[dict[str, Any]]:
    raw: list[Any] = redis_client.xrange(key)  # type: ignore[assignment]
    return [json.loads(fields[b"entry"]) for _id, fields in raw]


def mfa_entries(redis_client: redis.Redis, key: str) -> list[tuple[str, str, str]]:
    return [
        (e["action"], e["target"], e["outcome"])
        for e in stream(redis_client, key)
        if e["action"].startswith("mfa.")
    ]


@pytest.fixture
def small(settings: Settings) -> Settings:
    return dataclasses.replace(settings, audit_max_entries=CAP, mfa_activity_max_entries=CAP)


@pytest.fixture
def small_api(small: Settings, clock: FixedClock, redis_client: redis.Redis) -> Api:
    app = create_app(small, clock=clock, providers=RecordingSender().as_providers())
    return Api(app.test_client())


class Totp:
    """A service, a verified TOTP factor of IDENTITY, and its paths."""

    def __init__(self, api: Api, clock: FixedClock) -> None:
        self.api, self.clock = api, clock
        self.service = api.create_service()
        self.base = f"/v2/Services/{self.service}/Entities/{IDENTITY}"
        made = api.post(f"{self.base}/Factors", FriendlyName="Phone", FactorType="totp").json
        assert made is not None
        self.sid, self.entity = made["sid"], made["entity_sid"]
        self.secret = made["binding"]["secret"]
        verified = api.post(f"{self.base}/Factors/{self.sid}", AuthPayload=self.code())
        assert verified.json["status"] == "verified"  # type: ignore[index]
        self.target = f"{self.service}/{self.entity}/{self.sid}"

    def code(self) -> str:
        return totp_code(self.secret, self.clock.now_ms())

    def challenge(self, **params: Any) -> dict[str, Any]:
        created = self.api.post(f"{self.base}/Challenges", FactorSid=self.sid, **params)
        assert created.status_code == 201, created.json
        body: dict[str, Any] = created.json  # type: ignore[assignment]
        return body

    def answer(self, challenge_sid: str, code: str) -> int:
        path = f"{self.base}/Challenges/{challenge_sid}"
        return self.api.post(path, AuthPayload=code).status_code


def test_admin_entries_survive_ten_times_the_cap_of_challenge_traffic(
    small_api: Api, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """A support deletion with its reason, then ten times the audit log's cap of sign-ins and of
    refused answers to a locked factor: the deletion is still on record."""
    totp = Totp(small_api, clock)
    old = small_api.post(f"{totp.base}/Factors", FriendlyName="Old", FactorType="totp").json
    assert old is not None
    deleted = small_api.client.delete(
        f"{totp.base}/Factors/{old['sid']}?Reason=Customer+lost+the+phone",
        headers=small_api.headers,
    )
    assert deleted.status_code == 204
    for _ in range(10 * CAP):
        totp.challenge()
    pending = totp.challenge()["sid"]
    wrong = other_code(totp.code())
    codes = [totp.answer(pending, wrong) for _ in range(10 * CAP)]
    assert codes.count(429) == 10 * CAP - MAX_WRONG_CODES

    kept = [e for e in stream(redis_client, MAIN) if e["action"] == "mfa.factor.delete"]
    assert [(e["target"], e["reason"]) for e in kept] == [
        (f"{totp.service}/{totp.entity}/{old['sid']}", "Customer lost the phone")
    ]
    assert redis_client.xlen(ACTIVITY) == CAP  # the activity log has its own bound


def test_each_challenge_change_leaves_one_activity_entry_and_none_in_the_audit_log(
    api: Api, clock: FixedClock, redis_client: redis.Redis
) -> None:
    totp = Totp(api, clock)
    main_before = stream(redis_client, MAIN)

    def added(call: Any) -> list[tuple[str, str, str]]:
        before = len(mfa_entries(redis_client, ACTIVITY))
        call()
        return mfa_entries(redis_client, ACTIVITY)[before:]

    created: dict[str, Any] = {}
    assert added(lambda: created.update(totp.challenge())) == [
        ("mfa.challenge.create", f"{totp.target}/{created['sid']}", "pending")
    ]
    yc = created["sid"]
    assert added(lambda: totp.answer(yc, other_code(totp.code()))) == [
        ("mfa.challenge.answer", f"{totp.target}/{yc}", "wrong")
    ]
    clock.advance(60)
    assert added(lambda: totp.answer(yc, totp.code())) == [
        ("mfa.challenge.answer", f"{totp.target}/{yc}", "approved")
    ]
    replayed = totp.challenge()["sid"]
    assert added(lambda: totp.answer(replayed, totp.code())) == [
        ("mfa.challenge.answer", f"{totp.target}/{replayed}", "denied")
    ]
    clock.advance(60)
    with_code: dict[str, Any] = {}
    assert added(lambda: with_code.update(totp.challenge(AuthPayload=totp.code()))) == [
        ("mfa.challenge.create", f"{totp.target}/{with_code['sid']}", "approved")
    ]
    assert stream(redis_client, MAIN) == main_before
    everything = json.dumps(stream(redis_client, ACTIVITY))
    assert totp.secret not in everything
    assert IDENTITY not in everything


@pytest.mark.parametrize("via", ["challenge", "factor"])
def test_a_lock_leaves_exactly_one_locked_entry_and_refusals_none(
    api: Api, clock: FixedClock, redis_client: redis.Redis, via: str
) -> None:
    """The answer that fills the wrong-code window locks the factor: one `mfa.factor.locked`
    in the audit log. The refusals while it is locked (a right code included) change
    nothing and leave no entry in either log."""
    totp = Totp(api, clock)
    pending = totp.challenge()["sid"]
    wrong = other_code(totp.code())
    if via == "challenge":
        path, status = f"{totp.base}/Challenges/{pending}", 200
    else:
        path, status = f"{totp.base}/Factors/{totp.sid}", 200
    for _ in range(MAX_WRONG_CODES):
        assert api.post(path, AuthPayload=wrong).status_code == status
    locked = [e for e in mfa_entries(redis_client, MAIN) if e[0] == "mfa.factor.locked"]
    assert locked == [("mfa.factor.locked", totp.target, "ok")]
    main, activity = stream(redis_client, MAIN), stream(redis_client, ACTIVITY)
    for code in [wrong] * 30 + [totp.code()]:
        assert api.post(path, AuthPayload=code).status_code == 429
    refused = api.post(f"{totp.base}/Challenges", FactorSid=totp.sid, AuthPayload=wrong)
    assert refused.status_code == 429
    assert stream(redis_client, MAIN) == main
    assert stream(redis_client, ACTIVITY) == activity


def test_the_activity_log_verifies_and_detects_tampering(
    api: Api, clock: FixedClock, redis_client: redis.Redis, cli: CliRunner
) -> None:
    totp = Totp(api, clock)
    for _ in range(5):
        totp.challenge()
    result = cli.invoke(main, ["audit", "verify", "--log", "mfa-activity"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 5 entries"), result.output
    every = cli.invoke(main, ["audit", "verify"])
    assert every.exit_code == 0, every.output
    assert "mfa-activity: ok: 5 entries" in every.output, every.output

    third = redis_client.xrange(ACTIVITY)[2][0]
    redis_client.xdel(ACTIVITY, third)
    broken = cli.invoke(main, ["audit", "verify", "--log", "mfa-activity"])
    assert broken.exit_code == 1
    assert "1 entry removed before it" in broken.output, broken.output
    assert cli.invoke(main, ["audit", "verify", "--log", "audit"]).exit_code == 0
    assert cli.invoke(main, ["audit", "verify"]).exit_code == 1  # both: one is broken

    exported = cli.invoke(main, ["audit", "export", "--log", "mfa-activity"])
    assert exported.exit_code == 0, exported.output
    assert [json.loads(line)["action"] for line in exported.stdout.splitlines()] == [
        "mfa.challenge.create"
    ] * 4


def test_a_reseal_moves_the_activity_log_to_the_new_key(
    settings: Settings,
    clock: FixedClock,
    sender: RecordingSender,
    cli: CliRunner,
    redis_client: redis.Redis,
) -> None:
    rotation = Rotation(settings, clock, sender, cli)
    totp = Totp(Api(rotation.app("k1").test_client()), clock)
    totp.challenge()
    status = rotation.run("k2,k1", "secrets", "status").output
    assert "k1=" in status.split("\nmfa activity log: ", 1)[1].split("\n", 1)[0], status
    resealed = rotation.run("k2,k1", "secrets", "reseal")
    assert resealed.exit_code == 0, resealed.output
    status = rotation.run("k2,k1", "secrets", "status")
    assert "k1: holds nothing: it can be dropped from the ring" in status.output, status.output
    verified = rotation.run("k2", "audit", "verify", "--log", "mfa-activity")
    assert verified.exit_code == 0, verified.output
    Totp(Api(rotation.app("k2").test_client()), clock).challenge()
    assert rotation.run("k2", "audit", "verify").exit_code == 0


def test_the_audit_api_reads_the_activity_log_for_admins_only(
    app: Flask, api: Api, clock: FixedClock
) -> None:
    totp = Totp(api, clock)
    yc = totp.challenge()["sid"]
    page = api.get("/v2/Audit/Entries?Log=mfa-activity&PageSize=10")
    assert page.status_code == 200, page.json
    assert [(e["action"], e["target"]) for e in page.json["entries"]] == [  # type: ignore[index]
        ("mfa.challenge.create", f"{totp.target}/{yc}")
    ]
    main = api.get("/v2/Audit/Entries?PageSize=100").json["entries"]  # type: ignore[index]
    assert "mfa.challenge.create" not in {e["action"] for e in main}
    assert api.get("/v2/Audit/Entries?Log=other").status_code == 400
    for role in ("backend", "support"):
        key = create_key(api, role=role, name=role)
        refused = app.test_client().get(
            "/v2/Audit/Entries?Log=mfa-activity", headers=basic(key["sid"], key["secret"])
        )
        assert refused.status_code == 403


def test_the_activity_logs_pages_link_to_the_activity_log(api: Api, clock: FixedClock) -> None:
    """`next_page_url` (followed verbatim by the SDKs) keeps `Log=mfa-activity`."""
    totp = Totp(api, clock)
    made = [totp.challenge()["sid"] for _ in range(3)]
    first = api.get("/v2/Audit/Entries?Log=mfa-activity&PageSize=2").json
    assert first is not None
    following = first["meta"]["next_page_url"]
    assert "Log=mfa-activity" in following
    assert "Log=mfa-activity" in first["meta"]["first_page_url"]
    second = api.get(following.removeprefix("https://verify.example.test")).json
    assert second is not None
    listed = [e["target"].rsplit("/", 1)[1] for e in first["entries"] + second["entries"]]
    assert listed == made[::-1]


def test_console_admins_pick_the_activity_log_on_the_audit_page(
    app: Flask, api: Api, clock: FixedClock
) -> None:
    totp = Totp(api, clock)
    yc = totp.challenge()["sid"]
    build_staff_users(app.extensions[CONTAINER_KEY]).add("ada", ADMIN_PASSWORD, "admin")
    console = Console(app.test_client())
    assert console.login("ada", ADMIN_PASSWORD).status_code == 303
    audit_page = console.get("/console/audit").get_data(as_text=True)
    assert "mfa.factor.create" in audit_page
    assert yc not in audit_page
    activity_page = console.get("/console/audit?log=mfa-activity").get_data(as_text=True)
    assert yc in activity_page
    assert "mfa.factor.create" not in activity_page
    filtered = console.get("/console/audit?log=mfa-activity&action=mfa.factor.")
    assert yc not in filtered.get_data(as_text=True)


def test_concurrent_wrong_answers_lock_the_factor_once(
    app: Flask, api: Api, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """Thirty wrong answers at once: the script counts exactly five, so exactly one of them
    fills the window and exactly one `mfa.factor.locked` is written; the refused ones
    leave nothing, the five counted one `wrong` each in the activity log."""
    totp = Totp(api, clock)
    pending = totp.challenge()["sid"]
    wrong = other_code(totp.code())
    statuses: list[int] = []

    def answer() -> None:
        client = Api(app.test_client())
        path = f"{totp.base}/Challenges/{pending}"
        statuses.append(client.post(path, AuthPayload=wrong).status_code)

    threads = [threading.Thread(target=answer) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * MAX_WRONG_CODES + [429] * (30 - MAX_WRONG_CODES)
    locked = [e for e in mfa_entries(redis_client, MAIN) if e[0] == "mfa.factor.locked"]
    assert locked == [("mfa.factor.locked", totp.target, "ok")]
    answers = [e for e in mfa_entries(redis_client, ACTIVITY) if e[0] == "mfa.challenge.answer"]
    assert answers == [("mfa.challenge.answer", f"{totp.target}/{pending}", "wrong")] * 5

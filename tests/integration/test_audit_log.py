"""The audit log on a real Redis: one unbroken chain under concurrent appends, admin API
calls audited (reads not), tampering with the stream found by `verify-service audit verify`,
retention trimming not taken for tampering, export as JSON lines, and a Redis outage during
the audit hook leaving the API's answer unchanged."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from flask import Flask

from tests.conftest import ACCOUNT_SID, SECRET_KEY, Api
from verify_service.adapters.redis_store.audit.audit_log import RedisAuditLog
from verify_service.adapters.redis_store.keys import AuditKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.app import CONTAINER_KEY
from verify_service.application.audit.ports import AuditEntry
from verify_service.cli import main
from verify_service.domain.keyring import Keyring

KEYS = AuditKeys("it")


def audit_log(app: Flask) -> RedisAuditLog:
    log = app.extensions[CONTAINER_KEY].audit
    assert isinstance(log, RedisAuditLog)
    return log


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        actor=ACCOUNT_SID,
        role="admin",
        action="services.update",
        target="VA" + f"{n:032x}",
        outcome="ok",
        time_ms=1_700_000_000_000 + n,
    )


def stored(redis_client: redis.Redis, keys: AuditKeys = KEYS) -> list[tuple[str, dict[str, Any]]]:
    raw: list[Any] = redis_client.xrange(keys.log)  # type: ignore[assignment]
    return [
        (entry_id.decode(), {**json.loads(fields[b"entry"]), "hash": fields[b"hash"].decode()})
        for entry_id, fields in raw
    ]


def test_concurrent_appends_form_one_unbroken_chain(app: Flask, cli: CliRunner) -> None:
    """Eight appenders, each its own log object as separate processes would be (one
    process's threads take turns): the compare-and-set keeps one chain."""
    log = audit_log(app)
    key = Keyring.from_secret(SECRET_KEY.encode()).audit_chain_key
    errors: list[BaseException] = []

    def append_many(worker: int) -> None:
        own = RedisAuditLog(log._client, ScriptBook(), KEYS, key, max_entries=100_000)
        try:
            for n in range(15):
                own.append(entry(worker * 100 + n))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append_many, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entries = stored(log._client)
    assert [e["seq"] for _, e in entries] == list(range(1, 121))
    report = log.verify()
    assert report.ok
    assert report.checked == 120
    result = cli.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok: 120 entries, head {entries[-1][1]['hash']}")


def test_an_admin_write_is_audited_with_actor_role_and_outcome(
    api: Api, redis_client: redis.Redis
) -> None:
    sid = api.create_service()
    missing = "VA" + "f" * 32
    assert api.client.delete(f"/v2/Services/{missing}", headers=api.headers).status_code == 404
    entries = [e for _, e in stored(redis_client)]
    assert len(entries) == 2
    created, refused = entries
    assert (created["actor"], created["role"], created["action"]) == (
        ACCOUNT_SID,
        "admin",
        "services.create",
    )
    assert (created["target"], created["outcome"], created["reason"]) == (sid, "ok", None)
    assert (refused["action"], refused["target"], refused["outcome"]) == (
        "services.delete",
        missing,
        "20404",
    )


def test_reads_and_verifications_are_not_audited(api: Api, redis_client: redis.Redis) -> None:
    sid = api.create_service()
    before = redis_client.xlen(KEYS.log)
    assert api.get("/v2/Services").status_code == 200
    assert api.get(f"/v2/Services/{sid}").status_code == 200
    assert api.start(sid).status_code == 201  # a backend's call, not an admin's
    assert redis_client.xlen(KEYS.log) == before == 1


def test_a_safe_listed_number_is_recorded_masked(api: Api, redis_client: redis.Redis) -> None:
    assert api.post("/v2/SafeList/Numbers", PhoneNumber="+14155552671").status_code == 201
    assert (
        api.client.delete("/v2/SafeList/Numbers/+14155552671", headers=api.headers).status_code
        == 204
    )
    added, removed = [e for _, e in stored(redis_client)]
    assert added["action"] == "safe_list.add_number"
    assert added["target"].startswith("GN")
    assert (removed["action"], removed["target"]) == ("safe_list.remove_number", "+14•••••••71")
    assert b"4155552671" not in b"".join(
        fields[b"entry"]
        for _, fields in redis_client.xrange(KEYS.log)  # type: ignore[union-attr]
    )


def _rewrite(client: redis.Redis, change: dict[str, Any], index: int) -> None:
    """Rebuild the stream with the same ids, one entry's body altered (its hash kept)."""
    raw: list[Any] = client.xrange(KEYS.log)  # type: ignore[assignment]
    client.delete(KEYS.log)
    for position, (entry_id, fields) in enumerate(raw):
        copy = dict(fields)
        if position == index:
            body = {**json.loads(fields[b"entry"]), **change}
            copy[b"entry"] = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        client.xadd(KEYS.log, copy, id=entry_id)


TAMPERING = {
    "a middle entry deleted": lambda c, ids: c.xdel(KEYS.log, ids[2]),
    "a field altered": lambda c, _ids: _rewrite(c, {"actor": "SK" + "1" * 32}, 2),
    "the head changed": lambda c, _ids: c.hset(KEYS.head, "hash", "0" * 64),
    "the newest entry deleted": lambda c, ids: c.xdel(KEYS.log, ids[-1]),
    "the head deleted": lambda c, _ids: c.delete(KEYS.head),
}


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=list(TAMPERING))
def test_tampering_is_found_by_audit_verify(
    app: Flask, cli: CliRunner, redis_client: redis.Redis, tamper: Any
) -> None:
    log = audit_log(app)
    for n in range(6):
        log.append(entry(n))
    assert cli.invoke(main, ["audit", "verify"]).exit_code == 0
    tamper(redis_client, [entry_id for entry_id, _ in stored(redis_client)])
    result = cli.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("broken at ")


def test_an_entry_appended_after_the_head_was_deleted_breaks_the_chain(
    app: Flask, cli: CliRunner, redis_client: redis.Redis
) -> None:
    log = audit_log(app)
    for n in range(3):
        log.append(entry(n))
    redis_client.delete(KEYS.head)
    log.append(entry(3))  # starts a new chain after the old entries
    result = cli.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert stored(redis_client)[-1][0] in result.output


def test_trimming_by_the_retention_bound_is_not_tampering(
    redis_client: redis.Redis, cli: CliRunner
) -> None:
    key = Keyring.from_secret(SECRET_KEY.encode()).audit_chain_key
    log = RedisAuditLog(redis_client, ScriptBook(), KEYS, key, max_entries=5)
    for n in range(12):
        log.append(entry(n))
    assert redis_client.xlen(KEYS.log) == 5
    result = cli.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 5 entries (7 older trimmed by retention), head ")


def test_export_writes_json_lines_oldest_first(app: Flask, cli: CliRunner, tmp_path: Path) -> None:
    log = audit_log(app)
    for n in range(4):
        log.append(entry(n))
    target = tmp_path / "audit.jsonl"
    result = cli.invoke(main, ["audit", "export", "--output", str(target)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in target.read_text("utf-8").splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]
    assert set(lines[0]) == {
        "id", "seq", "actor", "role", "action", "target", "outcome", "time_ms", "reason",
        "prev", "hash",
    }  # fmt: skip
    assert lines[1]["prev"] == lines[0]["hash"]
    since = cli.invoke(main, ["audit", "export", "--since", lines[1]["id"]])
    assert since.exit_code == 0, since.output
    assert [json.loads(line)["seq"] for line in since.output.splitlines()] == [3, 4]
    assert cli.invoke(main, ["audit", "export", "--since", "nope"]).exit_code == 2


def test_the_read_api_lists_entries_newest_first_for_admins(api: Api, app: Flask) -> None:
    log = audit_log(app)
    for n in range(5):
        log.append(entry(n))
    first = api.get("/v2/Audit/Entries?PageSize=2")
    assert first.status_code == 200
    body: Any = first.json
    assert [e["seq"] for e in body["entries"]] == [5, 4]
    assert body["meta"]["key"] == "entries"
    second: Any = api.get(body["meta"]["next_page_url"]).json
    assert [e["seq"] for e in second["entries"]] == [3, 2]
    assert api.get("/v2/Audit/Entries?Page=2&PageSize=2").json["entries"][0]["seq"] == 1  # type: ignore[index]
    assert api.get("/v2/Audit/Entries?PageToken=x").status_code == 400
    assert api.get("/v2/Audit/Entries").json["entries"][0]["target"] == "VA" + f"{4:032x}"  # type: ignore[index]


def test_redis_down_during_the_audit_hook_leaves_the_answer_unchanged(
    api: Api, app: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setattr(audit_log(app), "_client", dead)
    with caplog.at_level(logging.WARNING):
        response = api.post("/v2/Services", FriendlyName="Acme")
    assert response.status_code == 201
    assert response.json["friendly_name"] == "Acme"  # type: ignore[index]
    assert "audit entry for services.create not recorded (StoreUnavailable)" in caplog.text


@pytest.mark.parametrize("token", ["0-0", "99999999999999999999-1", "1-18446744073709551616"])
def test_a_page_token_no_stream_id_can_be_is_60200_not_an_error(api: Api, token: str) -> None:
    response = api.get(f"/v2/Audit/Entries?PageToken={token}")
    assert response.status_code == 400
    assert response.json["code"] == 60200  # type: ignore[index]

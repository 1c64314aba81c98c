"""The audit log's hash chain: canonical encoding, and detection of an altered, removed or
moved entry and of a head that does not name the last entry; trimming is not a break."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from verify_service.application.access.access import Permission
from verify_service.application.audit.audit import admin_only, mask_target
from verify_service.domain.audit_chain import (
    CHECKPOINT_ACTION,
    GENESIS,
    ChainHead,
    ChainRecord,
    MalformedEntry,
    canonical,
    checkpoint_reason,
    entry_hash,
    parse_body,
    seal,
    seal_entry,
    verify_chain,
)
from verify_service.domain.keyring import Keyring
from verify_service.settings import ConfigError, Settings

KEY = Keyring.from_secret(b"k" * 32).audit_chain_key


def fields(seq: int, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "seq": seq,
        "actor": "AC" + "0" * 32,
        "role": "admin",
        "action": "services.create",
        "target": "VA" + f"{seq:032x}",
        "outcome": "ok",
        "time_ms": 1_700_000_000_000 + seq,
        "reason": None,
    }
    return {**values, **changes}


def chain(count: int, key: bytes = KEY) -> tuple[list[ChainRecord], ChainHead]:
    records, prev = [], GENESIS
    for seq in range(1, count + 1):
        body, digest = seal(key, prev, fields(seq))
        records.append(ChainRecord(f"{seq}-0", body, prev, digest))
        prev = digest
    return records, ChainHead(prev, count)


def test_canonical_encoding_is_sorted_compact_utf8() -> None:
    body = canonical({"b": 1, "a": "+44•••56", "c": None})
    assert body == '{"a":"+44•••56","b":1,"c":null}'.encode()
    assert canonical({"c": None, "a": "+44•••56", "b": 1}) == body


def test_the_hash_is_keyed_and_covers_prev_and_body() -> None:
    body = canonical(fields(1))
    digest = entry_hash(KEY, GENESIS, body)
    assert len(digest) == 64
    assert entry_hash(b"another key" * 3, GENESIS, body) != digest
    assert entry_hash(KEY, "1" * 64, body) != digest
    assert entry_hash(KEY, GENESIS, canonical(fields(1, outcome="denied"))) != digest


def test_parse_body_accepts_only_the_canonical_form_of_a_complete_entry() -> None:
    assert parse_body(canonical(fields(3)))["seq"] == 3
    with pytest.raises(MalformedEntry):
        parse_body(json.dumps(fields(3), indent=1))  # same values, not canonical
    with pytest.raises(MalformedEntry):
        parse_body(canonical({k: v for k, v in fields(3).items() if k != "role"}))
    with pytest.raises(MalformedEntry):
        parse_body(canonical(fields(3, code="123456")))  # no field for a code
    with pytest.raises(MalformedEntry):
        parse_body(canonical(fields(True)))
    with pytest.raises(MalformedEntry):
        parse_body(b"\xff")


def test_an_intact_chain_checks() -> None:
    records, head = chain(5)
    report = verify_chain(KEY, records, head)
    assert report.ok
    assert (report.checked, report.head, report.anchor, report.trimmed) == (
        5,
        head.hash,
        GENESIS,
        0,
    )


def test_an_empty_log_without_a_head_checks() -> None:
    assert verify_chain(KEY, [], None).ok


def test_an_altered_field_is_detected() -> None:
    records, head = chain(5)
    altered = canonical({**json.loads(records[2].body), "outcome": "ok", "actor": "SK" + "1" * 32})
    records[2] = dataclasses.replace(records[2], body=altered)
    report = verify_chain(KEY, records, head)
    assert report.first_break is not None
    assert report.first_break.entry_id == "3-0"
    assert "altered" in report.first_break.problem
    assert report.checked == 2


def test_a_rehashed_entry_needs_the_key() -> None:
    """Someone with Redis access only can recompute nothing: a hash made with another key
    (or none) does not check."""
    records, head = chain(3)
    body = canonical(fields(2, outcome="ok", target="VA" + "f" * 32))
    records[1] = ChainRecord(
        "2-0", body, records[0].hash, entry_hash(b"x" * 32, records[0].hash, body)
    )
    assert verify_chain(KEY, records, head).first_break is not None


def test_a_removed_middle_entry_is_detected() -> None:
    records, head = chain(5)
    del records[2]
    report = verify_chain(KEY, records, head)
    assert report.first_break is not None
    assert report.first_break.entry_id == "4-0"
    assert report.first_break.problem == "1 entry removed before it"


def test_reordered_entries_are_detected() -> None:
    records, head = chain(5)
    records[1], records[2] = records[2], records[1]
    report = verify_chain(KEY, records, head)
    assert report.first_break is not None
    assert report.first_break.entry_id == "3-0"


def test_a_replayed_entry_is_detected() -> None:
    records, head = chain(4)
    report = verify_chain(KEY, [*records, records[1]], head)
    assert report.first_break is not None
    assert report.first_break.problem == "out of order"


def test_the_newest_entries_removed_or_a_changed_head_are_detected() -> None:
    records, head = chain(5)
    short = verify_chain(KEY, records[:-1], head)
    assert short.first_break is not None
    assert short.first_break.entry_id == "head"
    forged = verify_chain(KEY, records, ChainHead("e" * 64, 5))
    assert forged.first_break is not None
    assert forged.first_break.entry_id == "head"
    missing = verify_chain(KEY, records, None)
    assert missing.first_break is not None
    emptied = verify_chain(KEY, [], head)
    assert emptied.first_break is not None


def test_trimming_the_oldest_entries_is_not_a_break() -> None:
    records, head = chain(10)
    report = verify_chain(KEY, records[4:], head)
    assert report.ok
    assert (report.checked, report.trimmed, report.anchor) == (6, 4, records[3].hash)


def test_a_chain_restarted_in_the_middle_is_detected() -> None:
    """The head deleted, the next append starts from GENESIS again: that entry breaks."""
    records, _ = chain(3)
    body, digest = seal(KEY, GENESIS, fields(1))
    report = verify_chain(
        KEY, [*records, ChainRecord("4-0", body, GENESIS, digest)], ChainHead(digest, 1)
    )
    assert report.first_break is not None
    assert report.first_break.entry_id == "4-0"


@pytest.mark.parametrize("names", ["its prev", "an earlier head", "nothing"])
def test_a_checkpoint_vouches_only_when_it_names_the_entry_before_it(names: str) -> None:
    """k1 entries, k1 then dropped, a k2 checkpoint: it vouches for them only if the head its
    reseal checked ("through …") is its own `prev` (else it vouches for entries nobody
    checked: a forged one appended between the check and the checkpoint)."""
    k1, k2 = b"1" * 32, b"2" * 32
    records, prev = [], GENESIS
    for seq in (1, 2):
        body, link, mac = seal_entry("k1", k1, prev, fields(seq))
        records.append(ChainRecord(f"{seq}-0", body, prev, link, "k1", mac))
        prev = link
    named = {"its prev": prev, "an earlier head": records[0].hash, "nothing": None}[names]
    reason = "no head named" if named is None else checkpoint_reason(named, None)
    checkpoint = fields(3, action=CHECKPOINT_ACTION, reason=reason)
    body, link, mac = seal_entry("k2", k2, prev, checkpoint)
    records.append(ChainRecord("3-0", body, prev, link, "k2", mac))
    report = verify_chain({"k2": k2}, records, ChainHead(link, 3))
    if names == "its prev":
        assert report.ok, report
    else:
        assert report.first_break is not None
        assert report.first_break.entry_id == "3-0"
        assert "does not vouch" in report.first_break.problem


def test_targets_are_masked_except_sids_and_prefixes() -> None:
    sid = "VA" + "a" * 32
    assert mask_target([sid, "RK" + "b" * 32]) == f"{sid}/RK{'b' * 32}"
    assert mask_target(["+14155552671"]) == "+14•••••••71"
    assert mask_target([sid, "+44791"]) == f"{sid}/+44791"
    assert mask_target(["alice@example.com"]) == "•••@example.com"


def test_admin_only_permissions_are_those_no_other_role_holds() -> None:
    assert admin_only(Permission.SERVICES_WRITE)
    assert admin_only(Permission.AUDIT_READ)
    assert not admin_only(Permission.VERIFICATIONS_START)


def test_the_retention_bound_is_configured_and_validated() -> None:
    assert Settings.from_env({}).audit_max_entries == 100_000
    assert Settings.from_env({"VERIFY_AUDIT_MAX_ENTRIES": "5000"}).audit_max_entries == 5000
    for wrong in ("10", "abc", "-1"):
        with pytest.raises(ConfigError, match="VERIFY_AUDIT_MAX_ENTRIES"):
            Settings.from_env({"VERIFY_AUDIT_MAX_ENTRIES": wrong})

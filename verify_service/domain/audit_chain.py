"""The audit log's hash chain: canonical encoding, the keyed hash, and checking a sequence.

Each entry is stored as its canonical JSON body, the previous entry's hash (`prev`) and its
own `hash = HMAC-SHA256(k_audit, prev ‖ 0x0a ‖ body)`. The key is derived from
VERIFY_SECRET_KEY and never stored in Redis, so whoever can only write to Redis cannot forge
a chain that checks. The body carries a sequence number (`seq`, 1 for the first entry ever),
so a check can say how many entries a gap lost.

No I/O here: the Redis adapter reads, this module judges.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# `prev` of the first entry ever appended.
GENESIS = "0" * 64

# The body's fields and the types they must have (`reason` may be null).
FIELDS: Mapping[str, tuple[type, ...]] = {
    "seq": (int,),
    "actor": (str,),
    "role": (str,),
    "action": (str,),
    "target": (str,),
    "outcome": (str,),
    "time_ms": (int,),
    "reason": (str, type(None)),
}


class MalformedEntry(ValueError):
    """A stored body that is not the canonical JSON of a complete entry."""


def canonical(body: Mapping[str, Any]) -> bytes:
    """The one encoding that is hashed: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        dict(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(key: bytes, prev: str, body: bytes) -> str:
    """HMAC-SHA256(key, prev ‖ 0x0a ‖ body) in hex; `prev` is 64 hex digits (no newline), so
    the concatenation is unambiguous."""
    return hmac.new(key, prev.encode("utf-8") + b"\n" + body, hashlib.sha256).hexdigest()


def seal(key: bytes, prev: str, fields: Mapping[str, Any]) -> tuple[bytes, str]:
    """The stored body of a new entry and its hash, chained to `prev`."""
    body = canonical(fields)
    parse_body(body)  # refuse to write what a check would reject
    return body, entry_hash(key, prev, body)


def parse_body(raw: bytes | str) -> dict[str, Any]:
    """The entry's fields from its stored body; `MalformedEntry` unless the body is exactly
    the canonical encoding of a complete entry."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    try:
        fields = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEntry("not JSON") from None
    if not isinstance(fields, dict) or set(fields) != set(FIELDS):
        raise MalformedEntry("fields missing or unexpected")
    for name, types in FIELDS.items():
        value = fields[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise MalformedEntry(f"{name} has the wrong type")
    if canonical(fields) != data:
        raise MalformedEntry("not in canonical form")
    return fields


@dataclass(frozen=True, slots=True)
class ChainRecord:
    """One stored entry as read back: its stream id, body, `prev` and `hash`."""

    entry_id: str
    body: bytes
    prev: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The head record: the newest entry's hash and sequence number."""

    hash: str
    seq: int


@dataclass(frozen=True, slots=True)
class ChainBreak:
    entry_id: str  # the stream id of the first entry that does not check, or "head"
    problem: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What a check found. `anchor` is the first retained entry's `prev` (GENESIS while
    nothing was trimmed); `trimmed` counts the older entries the retention bound removed."""

    checked: int
    head: str | None
    anchor: str | None
    trimmed: int
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


class ChainVerifier:
    """Checks entries fed oldest first, then the head record (`finish`).

    Detected: an altered body, `prev` or `hash` (the HMAC no longer matches); an entry
    removed from the middle or moved (`prev` does not name the entry before it, or `seq`
    does not follow); a head that does not name the last entry (the newest entries removed,
    or the head rewritten). Not detected, by design: entries missing from the *old* end,
    which is what the retention bound does (the first retained entry's `prev` is taken as
    the anchor). Stops at the first break.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._checked = 0
        self._previous: tuple[str, int] | None = None  # (hash, seq) of the last good entry
        self._anchor: str | None = None
        self._trimmed = 0
        self._break: ChainBreak | None = None

    def feed(self, record: ChainRecord) -> bool:
        """Check one more entry; False once the chain is broken (feed no more)."""
        if self._break is not None:
            return False
        problem = self._problem(record)
        if problem is not None:
            self._break = ChainBreak(record.entry_id, problem)
            return False
        self._checked += 1
        return True

    def _problem(self, record: ChainRecord) -> str | None:
        try:
            seq: int = parse_body(record.body)["seq"]
        except MalformedEntry as exc:
            return f"malformed: {exc}"
        if entry_hash(self._key, record.prev, record.body) != record.hash:
            return "altered: its hash does not match its content"
        previous = self._previous
        if previous is None:
            self._anchor, self._trimmed = record.prev, max(seq - 1, 0)
            if seq < 1 or (seq == 1) != (record.prev == GENESIS):
                return "bad start of the chain"
        elif record.prev != previous[0] or seq != previous[1] + 1:
            return _gap(previous[1], seq)
        self._previous = (record.hash, seq)
        return None

    def finish(self, head: ChainHead | None) -> ChainReport:
        """The report, after comparing the last entry with the head record."""
        problem = None if self._break is not None else self._head_problem(head)
        if problem is not None:
            self._break = ChainBreak("head", problem)
        return ChainReport(
            self._checked,
            head.hash if head is not None else None,
            self._anchor,
            self._trimmed,
            self._break,
        )

    def _head_problem(self, head: ChainHead | None) -> str | None:
        previous = self._previous
        if head is None:
            return None if previous is None else "the head record is missing"
        if previous is None:
            empty = f"the log is empty but the head names entry {head.seq}"
            return None if head.seq == 0 else empty
        if head.seq != previous[1]:
            return f"the head names entry {head.seq}, the last entry is {previous[1]}"
        if head.hash != previous[0]:
            return "the head's hash does not match the last entry"
        return None


def verify_chain(key: bytes, records: Iterable[ChainRecord], head: ChainHead | None) -> ChainReport:
    """Check a whole sequence (oldest first) and the head record: see `ChainVerifier`."""
    verifier = ChainVerifier(key)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.finish(head)


def _gap(previous_seq: int, seq: int) -> str:
    if seq > previous_seq + 1:
        missing = seq - previous_seq - 1
        return f"{missing} entr{'y' if missing == 1 else 'ies'} removed before it"
    if seq <= previous_seq:
        return "out of order"
    return "does not follow the previous entry"
